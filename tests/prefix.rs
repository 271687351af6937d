//! Configurable length prefixes (1, 2, 4, 8 bytes, big- or little-endian):
//! the unbuffered calls and every frame path of `sl_conn` against frames
//! built by hand, the limit checked before allocation, and lengths too long
//! for the width; and the high-water mark on queued output.

mod common;

use std::os::fd::{AsRawFd, RawFd};
use std::ptr::{null, null_mut};

use common::*;
use sockloop::ffi::conn::*;
use sockloop::ffi::frame::*;

const WIDTHS: [usize; 4] = [1, 2, 4, 8];
const ORDERS: [i32; 2] = [SL_PREFIX_BIG_ENDIAN, SL_PREFIX_LITTLE_ENDIAN];

/// A frame built by hand, independently of the library: the length in
/// `width` bytes of the given order, then the payload.
fn hand_frame(width: usize, flags: i32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u64;
    let mut out: Vec<u8> = (0..width).map(|i| (len >> (8 * i)) as u8).collect();
    if flags == SL_PREFIX_BIG_ENDIAN {
        out.reverse();
    }
    out.extend_from_slice(payload);
    out
}

fn write_raw(fd: RawFd, bytes: &[u8]) {
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
    assert_eq!(n, bytes.len() as isize);
}

fn read_raw(fd: RawFd, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len + 16];
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    buf.truncate(n.max(0) as usize);
    buf
}

fn progress() -> sl_frame_progress {
    sl_frame_progress { received: 0, declared: 0, prefix: [0; 8] }
}

#[test]
fn unbuffered_frames_match_hand_built_ones_for_every_width_and_order() {
    let (a, b) = socketpair();
    let mut rng = Rng(seed());
    for width in WIDTHS {
        for flags in ORDERS {
            for len in [0usize, 1, 200, 255, 300, 5000] {
                if width == 1 && len > 255 {
                    continue;
                }
                let payload = rng.bytes(len);
                let want = hand_frame(width, flags, &payload);
                let mut sent = 0;
                let rc = unsafe {
                    sl_send_frame_prefix(a.as_raw_fd(), width, flags, payload.as_ptr().cast(), len, 1000, &mut sent)
                };
                assert_eq!((rc, sent), (len as isize, len + width), "width {width} flags {flags} len {len}");
                assert_eq!(read_raw(b.as_raw_fd(), want.len()), want, "width {width} flags {flags} len {len}");
                // The hand-built frame, one byte at a time with a timed-out
                // call after each, through the resumable receive.
                let mut buf = vec![0u8; len];
                let mut p = progress();
                for (i, byte) in want.iter().enumerate() {
                    let rc = unsafe {
                        sl_recv_frame_prefix(b.as_raw_fd(), width, flags, buf.as_mut_ptr().cast(), len, 0, &mut p)
                    };
                    assert_eq!((rc, errno(), p.received), (-1, libc::EAGAIN, i));
                    write_raw(a.as_raw_fd(), &[*byte]);
                }
                let rc = unsafe {
                    sl_recv_frame_prefix(b.as_raw_fd(), width, flags, buf.as_mut_ptr().cast(), len, 1000, &mut p)
                };
                assert_eq!(rc, len as isize);
                assert!(buf == payload, "width {width} flags {flags} len {len}");
                assert_eq!(p.received, 0);
            }
        }
    }
}

#[test]
fn a_payload_too_long_for_the_width_is_emsgsize_and_nothing_is_sent() {
    let (a, b) = socketpair();
    let big = vec![1u8; 65536];
    for (width, len) in [(1, 256), (2, 65536)] {
        for flags in ORDERS {
            let mut sent = 9;
            let rc =
                unsafe { sl_send_frame_prefix(a.as_raw_fd(), width, flags, big.as_ptr().cast(), len, 100, &mut sent) };
            assert_eq!((rc, errno(), sent), (-1, libc::EMSGSIZE, 0));
        }
    }
    assert!(read_raw(b.as_raw_fd(), 1).is_empty(), "nothing was sent");
}

#[test]
fn bad_widths_and_flags_are_einval() {
    let (a, _b) = socketpair();
    let mut buf = [0u8; 8];
    let mut p = progress();
    for (width, flags) in [(0, 0), (3, 0), (5, 0), (16, 0), (usize::MAX, 0), (4, 2), (4, -1), (2, 0x100)] {
        let rc = unsafe { sl_send_frame_prefix(a.as_raw_fd(), width, flags, buf.as_ptr().cast(), 1, 0, null_mut()) };
        assert_eq!((rc, errno()), (-1, libc::EINVAL), "send {width} {flags}");
        let rc = unsafe { sl_recv_frame_prefix(a.as_raw_fd(), width, flags, buf.as_mut_ptr().cast(), 8, 0, &mut p) };
        assert_eq!((rc, errno()), (-1, libc::EINVAL), "recv {width} {flags}");
        let c = sl_conn_new(a.as_raw_fd(), 64, 0);
        assert_eq!((unsafe { sl_conn_set_prefix(c, width, flags) }, errno()), (-1, libc::EINVAL));
        unsafe { sl_conn_free(c) };
    }
    assert_eq!((unsafe { sl_conn_set_prefix(null_mut(), 4, 0) }, errno()), (-1, libc::EINVAL));
}

#[test]
fn an_8_byte_declared_length_over_the_limit_is_emsgsize_without_reading_the_payload() {
    let (a, b) = socketpair();
    for flags in ORDERS {
        let mut head = hand_frame(8, flags, &[]);
        head[if flags == SL_PREFIX_BIG_ENDIAN { 0 } else { 7 }] = 0x7f; // 2^62 and more
        write_raw(a.as_raw_fd(), &head);
        let mut buf = [0u8; 64];
        let mut p = progress();
        let rc = unsafe { sl_recv_frame_prefix(b.as_raw_fd(), 8, flags, buf.as_mut_ptr().cast(), 64, 100, &mut p) };
        assert_eq!((rc, errno(), p.received), (-1, libc::EMSGSIZE, 8));
        assert!(p.declared > 1 << 62);
    }
}

// ---------------------------------------------------------------- sl_conn

struct Conn(*mut sl_conn);

impl Conn {
    fn new(fd: RawFd, limit: usize, width: usize, flags: i32) -> Conn {
        let c = sl_conn_new(fd, limit, 0);
        assert!(!c.is_null());
        assert_eq!(unsafe { sl_conn_set_prefix(c, width, flags) }, 0);
        Conn(c)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        unsafe { sl_conn_free(self.0) };
    }
}

/// Every frame path of sl_conn, per width and order: blocking write and
/// read, queue + flush and fill + next, and the batch steps, each checked
/// on the wire against hand-built frames.
#[test]
fn every_conn_frame_path_uses_the_prefix_on_the_wire() {
    let (a, b) = socketpair();
    let mut rng = Rng(seed());
    for width in WIDTHS {
        for flags in ORDERS {
            let what = format!("width {width} flags {flags}");
            let tx = Conn::new(a.as_raw_fd(), 1000, width, flags);
            let rx = Conn::new(b.as_raw_fd(), 1000, width, flags);
            let payloads: Vec<Vec<u8>> = (0..6).map(|i| rng.bytes([0, 1, 7, 100, 255, 200][i])).collect();
            let want: Vec<u8> = payloads.iter().flat_map(|p| hand_frame(width, flags, p)).collect();
            // Blocking write, per-frame queue, batch queue, in-place batch.
            unsafe {
                assert_eq!(
                    sl_conn_write_frame(tx.0, payloads[0].as_ptr().cast(), payloads[0].len(), 100),
                    payloads[0].len() as isize
                );
                assert!(sl_conn_queue_frame(tx.0, payloads[1].as_ptr().cast(), payloads[1].len()) > 0);
                let joined = [payloads[2].as_slice(), &payloads[3]].concat();
                let lens = [payloads[2].len(), payloads[3].len()];
                assert!(sl_conn_queue_frames(tx.0, joined.as_ptr().cast(), lens.as_ptr(), 2) > 0);
                let lens = [payloads[4].len(), payloads[5].len()];
                let mut slots = [null_mut(); 2];
                assert!(sl_conn_reserve_frames(tx.0, lens.as_ptr(), 2, slots.as_mut_ptr()) > 0);
                for (slot, p) in slots.iter().zip(&payloads[4..]) {
                    std::ptr::copy_nonoverlapping(p.as_ptr(), slot.cast::<u8>(), p.len());
                }
                assert_eq!(sl_conn_flush(tx.0), 0);
            }
            let wire = read_raw(b.as_raw_fd(), want.len());
            assert!(wire == want, "{what}");
            // Back through the reader: blocking, per-frame, batch.
            write_raw(a.as_raw_fd(), &want);
            let mut got = Vec::new();
            let mut buf = vec![0u8; 1000];
            unsafe {
                let n = sl_conn_read_frame(rx.0, buf.as_mut_ptr().cast(), buf.len(), 1000);
                assert!(n >= 0, "{what}");
                got.push(buf[..n as usize].to_vec());
                let (mut p, mut n) = (null(), 0usize);
                assert_eq!(sl_conn_next_frame(rx.0, &mut p, &mut n), 1, "{what}");
                got.push(std::slice::from_raw_parts(p.cast::<u8>(), n).to_vec());
                let mut frames = [
                    sl_frame { payload: null(), len: 0 },
                    sl_frame { payload: null(), len: 0 },
                    sl_frame { payload: null(), len: 0 },
                    sl_frame { payload: null(), len: 0 },
                    sl_frame { payload: null(), len: 0 },
                ];
                loop {
                    let k = sl_conn_next_frames(rx.0, frames.as_mut_ptr(), frames.len());
                    assert!(k >= 0);
                    for f in &frames[..k as usize] {
                        got.push(std::slice::from_raw_parts(f.payload.cast::<u8>(), f.len).to_vec());
                    }
                    if got.len() == payloads.len() {
                        break;
                    }
                    assert!(sl_conn_fill(rx.0) > 0, "{what}");
                }
            }
            assert!(got == payloads, "{what}");
        }
    }
}

#[test]
fn a_conn_refuses_what_the_prefix_cannot_declare_and_checks_the_limit_first() {
    let (a, b) = socketpair();
    let tx = Conn::new(a.as_raw_fd(), 100_000, 1, SL_PREFIX_BIG_ENDIAN);
    let big = vec![3u8; 256];
    unsafe {
        assert_eq!((sl_conn_queue_frame(tx.0, big.as_ptr().cast(), 256), errno()), (-1, libc::EMSGSIZE));
        let lens = [1usize, 256];
        assert_eq!((sl_conn_queue_frames(tx.0, big.as_ptr().cast(), lens.as_ptr(), 2), errno()), (-1, libc::EMSGSIZE));
        let mut slots = [null_mut(); 2];
        assert_eq!((sl_conn_reserve_frames(tx.0, lens.as_ptr(), 2, slots.as_mut_ptr()), errno()), (-1, libc::EMSGSIZE));
        assert_eq!((sl_conn_write_frame(tx.0, big.as_ptr().cast(), 256, 100), errno()), (-1, libc::EMSGSIZE));
        assert_eq!(sl_conn_pending(tx.0), 0, "nothing queued");
        assert_eq!(sl_conn_queue_frame(tx.0, big.as_ptr().cast(), 255), 256);
    }
    // An 8-byte little-endian prefix declaring 2^40 on a 64-byte limit: the
    // header is taken, the payload skipped as it arrives, the next frame read.
    let rx = Conn::new(b.as_raw_fd(), 64, 8, SL_PREFIX_LITTLE_ENDIAN);
    let mut stream = (1u64 << 40).to_le_bytes().to_vec();
    stream.extend_from_slice(&hand_frame(8, SL_PREFIX_LITTLE_ENDIAN, b"after"));
    write_raw(a.as_raw_fd(), &stream);
    let mut buf = [0u8; 64];
    unsafe {
        assert_eq!((sl_conn_read_frame(rx.0, buf.as_mut_ptr().cast(), 64, 100), errno()), (-1, libc::EMSGSIZE));
        assert_eq!(sl_conn_buffered(rx.0), 0, "the declared payload is being skipped, nothing stored");
    }
}

#[test]
fn the_prefix_can_change_between_frames() {
    let (a, b) = socketpair();
    let rx = Conn::new(b.as_raw_fd(), 100, 4, SL_PREFIX_BIG_ENDIAN);
    write_raw(a.as_raw_fd(), &[hand_frame(4, 0, b"hello"), hand_frame(2, 1, b"world")].concat());
    let mut buf = [0u8; 16];
    unsafe {
        assert_eq!(sl_conn_read_frame(rx.0, buf.as_mut_ptr().cast(), 16, 100), 5);
        assert_eq!(sl_conn_set_prefix(rx.0, 2, SL_PREFIX_LITTLE_ENDIAN), 0);
        assert_eq!(sl_conn_read_frame(rx.0, buf.as_mut_ptr().cast(), 16, 100), 5);
    }
    assert_eq!(&buf[..5], b"world");
}

// ---------------------------------------------------------------- high-water mark

#[test]
fn queue_calls_over_the_high_water_mark_are_enobufs_and_queue_nothing() {
    let (a, b) = socketpair();
    let c = Conn::new(a.as_raw_fd(), 1000, 4, SL_PREFIX_BIG_ENDIAN);
    let data = [5u8; 100];
    unsafe {
        assert_eq!(sl_conn_set_high_water(c.0, 30), 0);
        assert_eq!(sl_conn_queue(c.0, data.as_ptr().cast(), 20), 20);
        assert_eq!(sl_conn_queue_frame(c.0, data.as_ptr().cast(), 6), 30, "exactly at the mark");
        // Every kind of queue call over it: ENOBUFS, nothing queued.
        assert_eq!((sl_conn_queue(c.0, data.as_ptr().cast(), 1), errno()), (-1, libc::ENOBUFS));
        assert_eq!((sl_conn_queue_frame(c.0, data.as_ptr().cast(), 0), errno()), (-1, libc::ENOBUFS));
        let lens = [0usize, 0];
        assert_eq!((sl_conn_queue_frames(c.0, data.as_ptr().cast(), lens.as_ptr(), 2), errno()), (-1, libc::ENOBUFS));
        let mut slots = [null_mut(); 2];
        assert_eq!((sl_conn_reserve_frames(c.0, lens.as_ptr(), 2, slots.as_mut_ptr()), errno()), (-1, libc::ENOBUFS));
        assert_eq!((sl_conn_write_frame(c.0, data.as_ptr().cast(), 1, 100), errno()), (-1, libc::ENOBUFS));
        assert_eq!(sl_conn_pending(c.0), 30);
        // Draining makes room again.
        assert_eq!(sl_conn_flush(c.0), 0);
        assert_eq!(read_raw(b.as_raw_fd(), 30).len(), 30);
        assert_eq!(
            sl_conn_queue_frames(c.0, data.as_ptr().cast(), [10usize, 12].as_ptr(), 2),
            30,
            "two frames, 30 bytes with their prefixes"
        );
        // A mark lowered below what is pending drops nothing.
        assert_eq!(sl_conn_set_high_water(c.0, 5), 0);
        assert_eq!(sl_conn_pending(c.0), 30);
        assert_eq!((sl_conn_queue(c.0, data.as_ptr().cast(), 1), errno()), (-1, libc::ENOBUFS));
        // 0 refuses every byte; SIZE_MAX is no mark.
        assert_eq!(sl_conn_flush(c.0), 0);
        assert_eq!(sl_conn_set_high_water(c.0, 0), 0);
        assert_eq!((sl_conn_queue(c.0, data.as_ptr().cast(), 1), errno()), (-1, libc::ENOBUFS));
        assert_eq!(sl_conn_queue(c.0, data.as_ptr().cast(), 0), 0);
        assert_eq!(sl_conn_set_high_water(c.0, usize::MAX), 0);
        for _ in 0..1000 {
            assert!(sl_conn_queue(c.0, data.as_ptr().cast(), 100) > 0);
        }
        assert_eq!(sl_conn_pending(c.0), 100_000);
    }
    assert_eq!(unsafe { sl_conn_set_high_water(null_mut(), 10) }, -1);
    assert_eq!(errno(), libc::EINVAL);
}

/// A blocking write that times out part-way keeps the rest of its frame
/// queued even past the mark: the peer never sees half a frame.
#[test]
fn the_rest_of_a_started_frame_is_queued_whatever_the_mark() {
    let (a, b) = socketpair();
    set_buffer_sizes(&a, 4096);
    set_buffer_sizes(&b, 4096);
    let c = Conn::new(a.as_raw_fd(), 1 << 20, 4, SL_PREFIX_BIG_ENDIAN);
    let big = vec![9u8; 256 * 1024];
    unsafe {
        assert_eq!(sl_conn_set_high_water(c.0, 1000), 0);
        assert_eq!((sl_conn_write_frame(c.0, big.as_ptr().cast(), big.len(), 50), errno()), (-1, libc::ETIMEDOUT));
        let pending = sl_conn_pending(c.0);
        assert!(pending > 1000 && pending < big.len() + 4, "{pending}");
        assert_eq!((sl_conn_queue(c.0, big.as_ptr().cast(), 1), errno()), (-1, libc::ENOBUFS));
    }
    // The reader gets the whole frame once the rest is flushed.
    let reader = std::thread::spawn(move || {
        let rx = sl_conn_new(b.as_raw_fd(), 1 << 20, 0);
        let mut buf = vec![0u8; 256 * 1024];
        let n = unsafe { sl_conn_read_frame(rx, buf.as_mut_ptr().cast(), buf.len(), 5000) };
        unsafe { sl_conn_free(rx) };
        drop(b);
        (n, buf.iter().all(|&x| x == 9))
    });
    unsafe {
        while sl_conn_pending(c.0) > 0 {
            assert!(sl_conn_flush(c.0) >= 0);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    assert_eq!(reader.join().unwrap(), (big.len() as isize, true));
}

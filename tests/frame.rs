//! Unbuffered frames (sl_send_frame / sl_recv_frame) through the C ABI, and the
//! pure decoders: property tests that any message sequence, split anywhere,
//! decodes to itself.

mod common;

use std::os::fd::{AsRawFd, RawFd};
use std::thread;

use common::*;
use proptest::prelude::*;
use sockloop::ffi::frame::{sl_recv_frame, sl_send_frame, SL_FRAME_HEADER_LEN};
use sockloop::frame::{decode, DelimSearch, Decoded, HEADER_LEN};

fn send_frame(fd: RawFd, payload: &[u8], timeout_ms: i32) -> (isize, usize, i32) {
    let mut done = usize::MAX;
    let rc = unsafe { sl_send_frame(fd, payload.as_ptr().cast(), payload.len(), timeout_ms, &mut done) };
    (rc, done, if rc < 0 { errno() } else { 0 })
}

fn recv_frame(fd: RawFd, buf: &mut [u8], timeout_ms: i32) -> (isize, usize, i32) {
    let mut done = usize::MAX;
    let rc = unsafe { sl_recv_frame(fd, buf.as_mut_ptr().cast(), buf.len(), timeout_ms, &mut done) };
    (rc, done, if rc < 0 { errno() } else { 0 })
}

fn write_raw(fd: RawFd, bytes: &[u8]) {
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
    assert_eq!(n, bytes.len() as isize);
}

#[test]
fn frames_of_every_size_class_round_trip() {
    let (a, b) = socketpair();
    let mut rng = Rng(seed());
    // Empty, small (copied behind the header), the copy limit's edges, and
    // large (vectored write, larger than the socket buffer).
    for len in [0usize, 1, 64, 2043, 2044, 2045, 4096, 3 << 20] {
        let payload = rng.bytes(len);
        let fd = a.as_raw_fd();
        let sender = {
            let payload = payload.clone();
            thread::spawn(move || send_frame(fd, &payload, 5000))
        };
        let mut buf = vec![0u8; len + 10];
        let (rc, done, _) = recv_frame(b.as_raw_fd(), &mut buf, 5000);
        assert_eq!((rc, done), (len as isize, len + HEADER_LEN), "len {len}");
        assert!(buf[..len] == payload[..]);
        assert_eq!(sender.join().unwrap(), (len as isize, len + HEADER_LEN, 0));
    }
}

#[test]
fn the_header_is_four_big_endian_bytes() {
    assert_eq!(SL_FRAME_HEADER_LEN, 4);
    let (a, b) = socketpair();
    assert_eq!(send_frame(a.as_raw_fd(), b"hello", 1000).0, 5);
    let mut raw = [0u8; 16];
    let n = unsafe { libc::recv(b.as_raw_fd(), raw.as_mut_ptr().cast(), raw.len(), 0) };
    assert_eq!(&raw[..n as usize], b"\0\0\0\x05hello");
}

#[test]
fn recv_frame_reads_nothing_past_its_frame() {
    let (a, b) = socketpair();
    write_raw(a.as_raw_fd(), b"\0\0\0\x03abc\0\0\0\x01z");
    let mut buf = [0u8; 8];
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (3, 7, 0));
    assert_eq!(&buf[..3], b"abc");
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (1, 5, 0));
    assert_eq!(buf[0], b'z');
}

#[test]
fn oversized_frame_is_emsgsize_after_the_header_with_the_payload_unread() {
    let (a, b) = socketpair();
    write_raw(a.as_raw_fd(), b"\0\0\0\x09too-long!\0\0\0\x00");
    let mut buf = [0u8; 8];
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (-1, 4, libc::EMSGSIZE));
    assert_eq!(&buf[..4], b"\0\0\0\x09", "the header is handed back");
    // The payload is still in the socket, as documented.
    let mut rest = [0u8; 9];
    assert_eq!(unsafe { libc::recv(b.as_raw_fd(), rest.as_mut_ptr().cast(), 9, 0) }, 9);
    assert_eq!(&rest, b"too-long!");
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (0, 4, 0));
}

#[test]
fn a_declared_length_of_4_gib_is_emsgsize_without_allocation() {
    let (a, b) = socketpair();
    write_raw(a.as_raw_fd(), &[0xff; 4]);
    let mut buf = [0u8; 64];
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (-1, 4, libc::EMSGSIZE));
}

#[test]
fn end_of_stream_and_timeouts_report_the_bytes_received() {
    let (a, b) = socketpair();
    let mut buf = [0u8; 16];
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 0), (-1, 0, libc::EAGAIN));
    write_raw(a.as_raw_fd(), b"\0\0\0\x08abc");
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 30), (-1, 7, libc::ETIMEDOUT));
    assert_eq!(&buf[..3], b"abc");
    write_raw(a.as_raw_fd(), b"\0\0");
    drop(a);
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (-1, 2, libc::EPIPE));
    assert_eq!(recv_frame(b.as_raw_fd(), &mut buf, 1000), (-1, 0, libc::EPIPE));
}

#[test]
fn bad_arguments_are_einval_and_a_gone_peer_is_epipe() {
    let (a, b) = socketpair();
    let mut done = 7;
    let rc = unsafe { sl_send_frame(a.as_raw_fd(), std::ptr::null(), 3, 0, &mut done) };
    assert_eq!((rc, errno(), done), (-1, libc::EINVAL, 0));
    assert_eq!(send_frame(-1, b"x", 0).2, libc::EINVAL);
    assert_eq!(send_frame(a.as_raw_fd(), b"x", -2).2, libc::EINVAL);
    let rc = unsafe { sl_recv_frame(b.as_raw_fd(), std::ptr::null_mut(), 3, 0, std::ptr::null_mut()) };
    assert_eq!((rc, errno()), (-1, libc::EINVAL));
    drop(b);
    assert_eq!(send_frame(a.as_raw_fd(), b"x", 1000).2, libc::EPIPE);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn a_payload_over_4_gib_minus_1_is_emsgsize_and_nothing_is_sent() {
    // Address space for 4 GiB + 1 bytes, never touched: sockloop must refuse
    // before reading the payload.
    let len = (u32::MAX as usize) + 1;
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED);
    let (a, b) = socketpair();
    let mut done = 9;
    let rc = unsafe { sl_send_frame(a.as_raw_fd(), map, len, 1000, &mut done) };
    assert_eq!((rc, errno(), done), (-1, libc::EMSGSIZE, 0));
    let mut probe = [0u8; 1];
    let n = unsafe { libc::recv(b.as_raw_fd(), probe.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) };
    assert_eq!(n, -1, "a byte was sent");
    unsafe { libc::munmap(map, len) };
}

// ---------------------------------------------------------------- properties

fn encode_frames(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&(m.len() as u32).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

/// Cuts `stream` at the given points (taken modulo its length).
fn split(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| stream[w[0]..w[1]].to_vec()).collect()
}

/// A buffered decoder built from the pure functions only, as a reference for
/// what sl_conn does with real fds.
fn decode_frames_from_chunks(chunks: &[Vec<u8>], limit: usize) -> Vec<Vec<u8>> {
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Decoded::Frame { len } = decode(&buf, limit) {
            out.push(buf[HEADER_LEN..HEADER_LEN + len].to_vec());
            buf.drain(..HEADER_LEN + len);
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    out
}

fn decode_records_from_chunks(chunks: &[Vec<u8>], delim: &[u8]) -> Vec<Vec<u8>> {
    let (mut buf, mut out, mut search) = (Vec::new(), Vec::new(), DelimSearch::new());
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(at) = search.find(&buf, delim) {
            out.push(buf[..at].to_vec());
            buf.drain(..at + delim.len());
            search.consumed(at + delim.len());
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    out
}

fn naive_find(hay: &[u8], delim: &[u8]) -> Option<usize> {
    hay.windows(delim.len()).position(|w| w == delim)
}

proptest! {
    #[test]
    fn frames_split_anywhere_decode_to_the_same_messages(
        messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let stream = encode_frames(&messages);
        let chunks = split(&stream, &cuts);
        prop_assert_eq!(decode_frames_from_chunks(&chunks, 300), messages.clone());
        let bytewise: Vec<Vec<u8>> = stream.iter().map(|&b| vec![b]).collect();
        prop_assert_eq!(decode_frames_from_chunks(&bytewise, 300), messages);
    }

    #[test]
    fn records_split_anywhere_decode_to_the_same_messages(
        delim in prop::sample::select(vec![b"\n".to_vec(), b"\r\n".to_vec(), b"\0".to_vec(), b"END".to_vec(), b"aab".to_vec()]),
        messages in prop::collection::vec(prop::collection::vec(prop::sample::select(b"abENDx\r\n\0".to_vec()), 0..50), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        // A record cannot contain its delimiter: cut each message before the
        // first occurrence (and before a suffix that would join with it).
        let messages: Vec<Vec<u8>> = messages
            .into_iter()
            .map(|mut m| {
                while let Some(at) = naive_find(&[m.as_slice(), &delim].concat(), &delim).filter(|&at| at < m.len()) {
                    m.truncate(at);
                }
                m
            })
            .collect();
        let stream: Vec<u8> = messages.iter().flat_map(|m| [m.as_slice(), &delim].concat()).collect();
        let chunks = split(&stream, &cuts);
        prop_assert_eq!(decode_records_from_chunks(&chunks, &delim), messages);
    }

    #[test]
    fn resumed_delimiter_search_agrees_with_a_naive_search(
        hay in prop::collection::vec(prop::sample::select(b"abc".to_vec()), 0..200),
        delim in prop::collection::vec(prop::sample::select(b"abc".to_vec()), 1..5),
        step in 1usize..20,
    ) {
        let mut search = DelimSearch::new();
        let mut end = 0;
        loop {
            end = (end + step).min(hay.len());
            let found = search.find(&hay[..end], &delim);
            prop_assert_eq!(found, naive_find(&hay[..end], &delim));
            if found.is_some() || end == hay.len() {
                break;
            }
            // Resumes: every start before the last partial window is done.
            prop_assert_eq!(search.checked(), end.saturating_sub(delim.len() - 1));
        }
    }
}

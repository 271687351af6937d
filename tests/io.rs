//! sl_send_all / sl_recv_exact / sl_send_allv over real sockets and pipes,
//! called through the C ABI so errno and `*done` are checked as C sees them.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::io::{sl_recv_exact, sl_send_all, sl_send_allv};

fn send_all(fd: RawFd, buf: &[u8], timeout_ms: i32) -> (isize, usize, i32) {
    with_done(|done| unsafe { sl_send_all(fd, buf.as_ptr().cast(), buf.len(), timeout_ms, done) })
}

fn recv_exact(fd: RawFd, buf: &mut [u8], timeout_ms: i32) -> (isize, usize, i32) {
    with_done(|done| unsafe { sl_recv_exact(fd, buf.as_mut_ptr().cast(), buf.len(), timeout_ms, done) })
}

fn iov(buf: &[u8]) -> libc::iovec {
    libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() }
}

/// Drains whatever is buffered on a non-blocking read until `quiet` passes with
/// nothing new, and returns it.
fn drain(fd: RawFd, quiet: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        let n = unsafe { libc::recv(fd, chunk.as_mut_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT) };
        let n = if n < 0 && errno() == libc::ENOTSOCK {
            set_nonblocking(fd);
            unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) }
        } else {
            n
        };
        if n > 0 {
            out.extend_from_slice(&chunk[..n as usize]);
            last = Instant::now();
        } else {
            thread::sleep(Duration::from_millis(2));
        }
    }
    out
}

#[test]
fn round_trip_64_mib_with_random_chunks_on_the_peer() {
    const LEN: usize = 64 << 20;
    let mut rng = Rng(seed());
    let data = rng.bytes(LEN);
    let (a, b) = tcp_pair();

    // sockloop sends everything in one call; the peer reads in random chunks.
    let peer = {
        let mut b = b.try_clone().unwrap();
        let expected = data.clone();
        let mut rng = Rng(rng.next() | 1);
        thread::spawn(move || {
            let mut got = Vec::with_capacity(LEN);
            let mut chunk = vec![0u8; 1 << 20];
            while got.len() < LEN {
                let want = 1 + rng.below(chunk.len().min(LEN - got.len()));
                let n = b.read(&mut chunk[..want]).unwrap();
                assert!(n > 0, "early EOF");
                got.extend_from_slice(&chunk[..n]);
            }
            assert!(got == expected, "stream differs from what was sent");
            // Now the other way: random-sized writes from the peer.
            let mut at = 0;
            while at < LEN {
                let n = 1 + rng.below((LEN - at).min(1 << 20));
                b.write_all(&expected[at..at + n]).unwrap();
                at += n;
            }
        })
    };
    assert_eq!(send_all(a.as_raw_fd(), &data, -1), (LEN as isize, LEN, 0));
    let mut back = vec![0u8; LEN];
    assert_eq!(recv_exact(a.as_raw_fd(), &mut back, 10_000), (LEN as isize, LEN, 0));
    peer.join().unwrap();
    assert!(back == data, "received stream differs");
}

#[test]
fn send_to_a_peer_that_reset_fails_with_epipe_or_econnreset() {
    let (a, b) = tcp_pair();
    // Linger 0 makes close() send RST.
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    unsafe {
        libc::setsockopt(b.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, (&linger as *const libc::linger).cast(), 8)
    };
    drop(b);
    thread::sleep(Duration::from_millis(20));
    let data = vec![7u8; 1 << 20];
    let (rc, done, err) = send_all(a.as_raw_fd(), &data, 2000);
    assert_eq!(rc, -1);
    assert!(err == libc::EPIPE || err == libc::ECONNRESET, "errno {err}");
    assert!(done < data.len());
}

#[test]
fn early_end_of_stream_is_epipe_with_the_exact_count() {
    let (a, b) = socketpair();
    assert_eq!(unsafe { libc::write(b.as_raw_fd(), b"0123456789".as_ptr().cast(), 10) }, 10);
    drop(b);
    let mut buf = [0u8; 100];
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf, 1000), (-1, 10, libc::EPIPE));
    assert_eq!(&buf[..10], b"0123456789");
    // End of stream before the first byte.
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf, 1000), (-1, 0, libc::EPIPE));
}

#[test]
fn timeout_then_resume_loses_and_repeats_nothing() {
    let (a, b) = socketpair();
    let mut b = std::os::unix::net::UnixStream::from(b);
    b.write_all(b"first-half").unwrap();
    let mut buf = [0u8; 20];
    let start = Instant::now();
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf, 100), (-1, 10, libc::ETIMEDOUT));
    assert!(start.elapsed() >= Duration::from_millis(100));
    b.write_all(b"secondhalf").unwrap();
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf[10..], 1000), (10, 10, 0));
    assert_eq!(&buf, b"first-halfsecondhalf");
}

#[test]
fn the_timeout_bounds_the_whole_call_against_a_trickling_peer() {
    let (a, b) = tcp_pair();
    let trickle = thread::spawn(move || {
        let mut b = b;
        for _ in 0..12 {
            if b.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let mut buf = [0u8; 100];
    let start = Instant::now();
    let (rc, done, err) = recv_exact(a.as_raw_fd(), &mut buf, 300);
    let took = start.elapsed();
    assert_eq!((rc, err), (-1, libc::ETIMEDOUT));
    assert!((4..=8).contains(&done), "done {done}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(450), "took {took:?}");
    trickle.join().unwrap();
}

#[test]
fn non_blocking_fd_with_tiny_buffers_and_a_slow_reader() {
    const LEN: usize = 4 << 20;
    // Unix stream sockets: with 4 KiB buffers on loopback TCP, the MSS of 64 KiB
    // makes the kernel stall on window probes, which tests TCP, not the loop.
    let (a, b) = socketpair();
    set_buffer_sizes(&a, 4096);
    set_buffer_sizes(&b, 4096);
    set_nonblocking(a.as_raw_fd());
    let data = Rng(seed()).bytes(LEN);
    let reader = {
        let expected = data.clone();
        thread::spawn(move || {
            let mut b = std::os::unix::net::UnixStream::from(b);
            let mut got = Vec::with_capacity(LEN);
            let mut chunk = [0u8; 1000];
            let mut reads = 0u32;
            while got.len() < LEN {
                let n = b.read(&mut chunk).unwrap();
                assert!(n > 0);
                got.extend_from_slice(&chunk[..n]);
                reads += 1;
                if reads % 512 == 0 {
                    thread::sleep(Duration::from_millis(1)); // slow reader
                }
            }
            assert!(got == expected);
        })
    };
    let before = fd_flags(a.as_raw_fd());
    assert_eq!(send_all(a.as_raw_fd(), &data, -1), (LEN as isize, LEN, 0));
    assert_eq!(fd_flags(a.as_raw_fd()), before);
    assert!(fd_flags(a.as_raw_fd()) & libc::O_NONBLOCK != 0);
    reader.join().unwrap();
}

#[test]
fn blocking_fd_with_finite_timeout_keeps_its_flags_and_reports_the_exact_count() {
    // A receiver that never reads: the send times out, and *done equals exactly
    // what the receiver can then drain.
    let (a, b) = socketpair();
    set_buffer_sizes(&a, 4096);
    set_buffer_sizes(&b, 4096);
    let before = fd_flags(a.as_raw_fd());
    assert_eq!(before & libc::O_NONBLOCK, 0);
    let data = vec![0x5au8; 8 << 20];
    let start = Instant::now();
    let (rc, done, err) = send_all(a.as_raw_fd(), &data, 200);
    assert_eq!((rc, err), (-1, libc::ETIMEDOUT));
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(fd_flags(a.as_raw_fd()), before, "O_NONBLOCK must not be left set");
    assert!(done > 0 && done < data.len());
    let got = drain(b.as_raw_fd(), Duration::from_millis(200));
    assert_eq!(got.len(), done);
}

#[test]
fn timeout_zero_is_one_attempt_with_eagain() {
    let (a, b) = socketpair();
    let mut buf = [0u8; 8];
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf, 0), (-1, 0, libc::EAGAIN));
    // Half there: EAGAIN with the count, then the rest completes.
    assert_eq!(unsafe { libc::write(b.as_raw_fd(), b"abcd".as_ptr().cast(), 4) }, 4);
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf, 0), (-1, 4, libc::EAGAIN));
    assert_eq!(unsafe { libc::write(b.as_raw_fd(), b"efgh".as_ptr().cast(), 4) }, 4);
    assert_eq!(recv_exact(a.as_raw_fd(), &mut buf[4..], 0), (4, 4, 0));
    assert_eq!(&buf, b"abcdefgh");
}

#[test]
fn pipes_work_both_ways_and_time_out_with_the_exact_count() {
    let (r, w) = pipe();
    let data = Rng(seed()).bytes(1 << 20);
    let writer = {
        let data = data.clone();
        let w = w.try_clone().unwrap();
        thread::spawn(move || send_all(w.as_raw_fd(), &data, 5000))
    };
    let mut got = vec![0u8; data.len()];
    assert_eq!(recv_exact(r.as_raw_fd(), &mut got, 5000), (data.len() as isize, data.len(), 0));
    assert_eq!(writer.join().unwrap(), (data.len() as isize, data.len(), 0));
    assert!(got == data);

    // Nobody reads: a blocking pipe with a finite timeout still returns in time.
    let start = Instant::now();
    let (rc, done, err) = send_all(w.as_raw_fd(), &data, 150);
    assert_eq!((rc, err), (-1, libc::ETIMEDOUT));
    assert!(start.elapsed() < Duration::from_millis(400));
    assert_eq!(drain(r.as_raw_fd(), Duration::from_millis(50)).len(), done);

    // And a read that times out on an idle blocking pipe.
    let (r2, _w2) = pipe();
    let mut buf = [0u8; 4];
    assert_eq!(recv_exact(r2.as_raw_fd(), &mut buf, 50), (-1, 0, libc::ETIMEDOUT));
    // End of stream on a pipe.
    drop(_w2);
    assert_eq!(recv_exact(r2.as_raw_fd(), &mut buf, 50), (-1, 0, libc::EPIPE));
}

#[test]
fn bad_arguments_have_documented_errno_and_done_is_always_set() {
    let (a, _b) = socketpair();
    let fd = a.as_raw_fd();
    let mut done = 77usize;
    unsafe {
        assert_eq!(sl_send_all(fd, ptr::null(), 5, -1, &mut done), -1);
        assert_eq!((errno(), done), (libc::EINVAL, 0));
        done = 77;
        assert_eq!(sl_recv_exact(fd, ptr::null_mut(), 5, -1, &mut done), -1);
        assert_eq!((errno(), done), (libc::EINVAL, 0));
        assert_eq!(sl_send_all(fd, ptr::null(), 0, -1, &mut done), 0);
        assert_eq!(done, 0);
        assert_eq!(sl_recv_exact(fd, ptr::null_mut(), 0, -1, ptr::null_mut()), 0);
        let byte = [1u8];
        assert_eq!(sl_send_all(-1, byte.as_ptr().cast(), 1, -1, ptr::null_mut()), -1);
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(sl_send_all(fd, byte.as_ptr().cast(), usize::MAX, -1, ptr::null_mut()), -1);
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(sl_send_all(fd, byte.as_ptr().cast(), 1, -2, ptr::null_mut()), -1);
        assert_eq!(errno(), libc::EINVAL);
        // A closed fd.
        let (c, _d) = socketpair();
        let closed = c.as_raw_fd();
        drop(c);
        let mut one = [0u8; 1];
        assert_eq!(sl_recv_exact(closed, one.as_mut_ptr().cast(), 1, 100, ptr::null_mut()), -1);
        assert_eq!(errno(), libc::EBADF);
        assert_eq!(sl_send_all(closed, one.as_ptr().cast(), 1, -1, ptr::null_mut()), -1);
        assert_eq!(errno(), libc::EBADF);
        // A NULL done pointer is accepted on success.
        assert_eq!(sl_send_all(fd, byte.as_ptr().cast(), 1, -1, ptr::null_mut()), 1);

        // Vectored: counts and entries.
        let v = [iov(b"ab")];
        assert_eq!(sl_send_allv(fd, v.as_ptr(), -1, -1, &mut done), -1);
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(sl_send_allv(fd, v.as_ptr(), libc::UIO_MAXIOV + 1, -1, &mut done), -1);
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(sl_send_allv(fd, ptr::null(), 1, -1, &mut done), -1);
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(sl_send_allv(fd, ptr::null(), 0, -1, &mut done), 0);
        let holes = [iov(b"ab"), libc::iovec { iov_base: ptr::null_mut(), iov_len: 3 }];
        assert_eq!(sl_send_allv(fd, holes.as_ptr(), 2, -1, &mut done), -1);
        assert_eq!(errno(), libc::EINVAL);
        let huge = [libc::iovec { iov_base: byte.as_ptr() as *mut _, iov_len: usize::MAX }, iov(b"x")];
        assert_eq!(sl_send_allv(fd, huge.as_ptr(), 2, -1, &mut done), -1);
        assert_eq!(errno(), libc::EINVAL);
    }
}

#[test]
fn vectored_send_resumes_inside_a_buffer_in_order() {
    let (a, b) = socketpair();
    set_buffer_sizes(&a, 4096);
    set_buffer_sizes(&b, 4096);
    let mut rng = Rng(seed());
    let parts: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            let len = if i % 7 == 0 { 0 } else { 1 + rng.below(50_000) };
            rng.bytes(len)
        })
        .collect();
    let expected: Vec<u8> = parts.concat();
    let iovs: Vec<libc::iovec> = parts.iter().map(|p| iov(p)).collect();

    // Timeout 0 stops mid-way (small buffers); resuming needs the exact count.
    let mut done = 0usize;
    let rc = unsafe { sl_send_allv(a.as_raw_fd(), iovs.as_ptr(), iovs.len() as i32, 0, &mut done) };
    assert_eq!((rc, errno()), (-1, libc::EAGAIN));
    assert!(done > 0 && done < expected.len());
    let reader = {
        let expected = expected.clone();
        thread::spawn(move || {
            let mut b = std::os::unix::net::UnixStream::from(b);
            let mut got = vec![0u8; expected.len()];
            b.read_exact(&mut got).unwrap();
            assert!(got == expected, "vectored stream differs");
        })
    };
    assert_eq!(send_all(a.as_raw_fd(), &expected[done..], 5000).0 as usize, expected.len() - done);
    reader.join().unwrap();

    // The whole array in one call over a socket and over a blocking pipe with a
    // bounded timeout (capped writes) and without one (writev).
    for timeout in [-1, 5000] {
        let (r, w) = pipe();
        let (ra, rb) = socketpair();
        let e2 = expected.clone();
        let readers = [r, ra].map(|fd| {
            let e = e2.clone();
            thread::spawn(move || {
                let mut got = vec![0u8; e.len()];
                assert_eq!(recv_exact(fd.as_raw_fd(), &mut got, 5000).0 as usize, e.len());
                assert!(got == e);
            })
        });
        for fd in [w.as_raw_fd(), rb.as_raw_fd()] {
            let mut done = 0usize;
            let rc = unsafe { sl_send_allv(fd, iovs.as_ptr(), iovs.len() as i32, timeout, &mut done) };
            assert_eq!((rc as usize, done), (expected.len(), expected.len()));
        }
        for r in readers {
            r.join().unwrap();
        }
    }
}

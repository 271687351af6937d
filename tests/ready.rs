//! sl_wait_readable / sl_wait_writable / sl_select through the C ABI, over
//! socketpairs, loopback TCP and pipes.

mod common;

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::ready::{sl_select, sl_wait_readable, sl_wait_writable};

/// `(rc, errno)` of a call, errno 0 on success.
fn res(rc: i32) -> (i32, i32) {
    (rc, if rc < 0 { errno() } else { 0 })
}

/// Fills the send buffer of a non-blocking socket until it would block.
fn fill(fd: RawFd) {
    set_nonblocking(fd);
    let chunk = [0u8; 65536];
    while unsafe { libc::send(fd, chunk.as_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT) } > 0 {}
    assert_eq!(errno(), libc::EAGAIN);
}

/// `fd` duplicated onto the number `to` (which must be free), owned.
fn dup_to(fd: RawFd, to: RawFd) -> OwnedFd {
    assert_eq!(unsafe { libc::fcntl(to, libc::F_GETFD) }, -1, "fd {to} is already open");
    assert_eq!(unsafe { libc::dup2(fd, to) }, to);
    unsafe { OwnedFd::from_raw_fd(to) }
}

struct Select {
    rc: i32,
    err: i32,
    readers: Vec<i32>,
    writers: Vec<i32>,
    errs: Vec<i32>,
}

fn select(readers: &[i32], writers: &[i32], errs: &[i32], timeout_ms: i32) -> Select {
    let (mut r, mut w, mut e) = (vec![-7; readers.len()], vec![-7; writers.len()], vec![-7; errs.len()]);
    let (mut nr, mut nw, mut ne) = (usize::MAX, usize::MAX, usize::MAX);
    let rc = unsafe {
        sl_select(
            readers.as_ptr(),
            readers.len(),
            writers.as_ptr(),
            writers.len(),
            errs.as_ptr(),
            errs.len(),
            timeout_ms,
            r.as_mut_ptr(),
            &mut nr,
            w.as_mut_ptr(),
            &mut nw,
            e.as_mut_ptr(),
            &mut ne,
        )
    };
    let err = if rc < 0 { errno() } else { 0 };
    assert!(nr <= r.len() && nw <= w.len() && ne <= e.len(), "counts not set: {nr} {nw} {ne}");
    r.truncate(nr);
    w.truncate(nw);
    e.truncate(ne);
    Select { rc, err, readers: r, writers: w, errs: e }
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// Runs `f` in this thread while another thread hits it with SIGALRM (handler
/// without SA_RESTART, so every blocking call fails with EINTR) every 200 µs.
/// Returns `f`'s result and how many signals this storm sent.
fn under_signal_storm<T>(f: impl FnOnce() -> T) -> (T, usize) {
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &action, ptr::null_mut()), 0);
    }
    let me = unsafe { libc::pthread_self() };
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let storm = {
        let (stop, sent) = (stop.clone(), sent.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                unsafe { libc::pthread_kill(me, libc::SIGALRM) };
                sent.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let result = f();
    stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    (result, sent.load(Ordering::Relaxed))
}

#[test]
fn wait_readable_reports_data_end_of_stream_and_timeouts() {
    let (a, b) = socketpair();
    assert_eq!(res(sl_wait_readable(a.as_raw_fd(), 0)), (0, 0), "nothing to read");
    let start = Instant::now();
    assert_eq!(res(sl_wait_readable(a.as_raw_fd(), 30)), (0, 0));
    assert!(start.elapsed() >= Duration::from_millis(30), "returned early: {:?}", start.elapsed());
    std::os::unix::net::UnixStream::from(b.try_clone().unwrap()).write_all(b"x").unwrap();
    assert_eq!(res(sl_wait_readable(a.as_raw_fd(), 0)), (1, 0));
    assert_eq!(res(sl_wait_readable(a.as_raw_fd(), -1)), (1, 0));
    // Hang-up with nothing buffered is "readable" too: recv then returns 0.
    let (c, d) = socketpair();
    drop(d);
    assert_eq!(res(sl_wait_readable(c.as_raw_fd(), 1000)), (1, 0));
}

#[test]
fn wait_readable_wakes_when_data_arrives_later() {
    let (a, b) = tcp_pair();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        (&b).write_all(b"late").unwrap();
        b
    });
    assert_eq!(res(sl_wait_readable(a.as_raw_fd(), 5000)), (1, 0));
    drop(writer.join().unwrap());
}

#[test]
fn wait_writable_reports_room_a_full_buffer_and_hang_up() {
    let (a, b) = socketpair();
    assert_eq!(res(sl_wait_writable(a.as_raw_fd(), 0)), (1, 0));
    fill(a.as_raw_fd());
    assert_eq!(res(sl_wait_writable(a.as_raw_fd(), 0)), (0, 0), "buffer full");
    assert_eq!(res(sl_wait_writable(a.as_raw_fd(), 20)), (0, 0));
    drop(b); // the peer leaving makes the next send fail: ready
    assert_eq!(res(sl_wait_writable(a.as_raw_fd(), 1000)), (1, 0));
    let (r, w) = pipe();
    assert_eq!(res(sl_wait_writable(w.as_raw_fd(), 0)), (1, 0));
    assert_eq!(res(sl_wait_readable(r.as_raw_fd(), 0)), (0, 0));
}

#[test]
fn wait_bad_arguments_and_closed_fds() {
    assert_eq!(res(sl_wait_readable(-1, 0)), (-1, libc::EINVAL));
    assert_eq!(res(sl_wait_writable(-5, -1)), (-1, libc::EINVAL));
    let (a, _b) = socketpair();
    assert_eq!(res(sl_wait_readable(a.as_raw_fd(), -2)), (-1, libc::EINVAL));
    let closed = {
        let (c, _) = pipe();
        c.as_raw_fd()
    };
    assert_eq!(res(sl_wait_readable(closed, 1000)), (-1, libc::EBADF));
    assert_eq!(res(sl_wait_writable(closed, -1)), (-1, libc::EBADF));
}

#[test]
fn fd_5000_works_in_every_function() {
    let (a, b) = socketpair();
    let high = dup_to(a.as_raw_fd(), 5000);
    assert_eq!(res(sl_wait_readable(5000, 0)), (0, 0));
    assert_eq!(res(sl_wait_writable(5000, 0)), (1, 0));
    let b = std::os::unix::net::UnixStream::from(b);
    (&b).write_all(b"hi").unwrap();
    assert_eq!(res(sl_wait_readable(5000, 1000)), (1, 0));
    let s = select(&[a.as_raw_fd(), 5000], &[5000], &[5000], 1000);
    assert_eq!((s.rc, s.err), (3, 0));
    assert_eq!((s.readers, s.writers, s.errs), (vec![a.as_raw_fd(), 5000], vec![5000], vec![]));
    drop(high);
}

#[test]
fn select_returns_the_ready_subsets_in_input_order() {
    let (a, b) = socketpair();
    let (c, d) = socketpair();
    let (e, f) = tcp_pair();
    (&std::os::unix::net::UnixStream::from(d.try_clone().unwrap())).write_all(b"x").unwrap();
    fill(b.as_raw_fd());
    // Out-of-band data is the "exceptional condition" of potential_errs.
    let oob = unsafe { libc::send(f.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
    assert_eq!(oob, 1);
    assert_eq!(select(&[], &[], &[e.as_raw_fd()], 5000).rc, 1, "OOB data arrives");
    // b's send buffer is full (so a has data), c has data, e only OOB data.
    let readers = [b.as_raw_fd(), e.as_raw_fd(), c.as_raw_fd(), a.as_raw_fd()];
    let writers = [b.as_raw_fd(), c.as_raw_fd()];
    let errs = [a.as_raw_fd(), b.as_raw_fd(), e.as_raw_fd()];
    let s = select(&readers, &writers, &errs, 1000);
    assert_eq!((s.rc, s.err), (4, 0));
    assert_eq!(s.readers, vec![c.as_raw_fd(), a.as_raw_fd()]);
    assert_eq!(s.writers, vec![c.as_raw_fd()], "b's buffer is full");
    assert_eq!(s.errs, vec![e.as_raw_fd()]);
}

#[test]
fn select_timeout_empty_sets_and_hang_up() {
    let (a, b) = socketpair();
    let s = select(&[a.as_raw_fd()], &[], &[a.as_raw_fd()], 0);
    assert_eq!((s.rc, s.err, s.readers.len(), s.errs.len()), (0, 0, 0, 0));
    let start = Instant::now();
    let s = select(&[a.as_raw_fd()], &[], &[], 40);
    assert_eq!((s.rc, s.err), (0, 0));
    assert!(start.elapsed() >= Duration::from_millis(40));
    // Nothing at all: waits out the timeout, like select() with empty lists.
    let start = Instant::now();
    let s = select(&[], &[], &[], 30);
    assert_eq!((s.rc, s.err), (0, 0));
    assert!(start.elapsed() >= Duration::from_millis(30));
    // Hang-up wakes readers, writers and errs alike.
    drop(b);
    let s = select(&[a.as_raw_fd()], &[a.as_raw_fd()], &[a.as_raw_fd()], 1000);
    assert_eq!((s.rc, s.readers.len(), s.writers.len(), s.errs.len()), (3, 1, 1, 1));
}

#[test]
fn select_output_may_be_its_input() {
    let (a, b) = socketpair();
    let (c, _d) = socketpair();
    (&std::os::unix::net::UnixStream::from(b)).write_all(b"x").unwrap();
    let mut fds = [c.as_raw_fd(), a.as_raw_fd(), c.as_raw_fd()];
    let mut n = 0usize;
    let rc = unsafe {
        sl_select(
            fds.as_ptr(),
            3,
            ptr::null(),
            0,
            ptr::null(),
            0,
            1000,
            fds.as_mut_ptr(),
            &mut n,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!((rc, n), (1, 1));
    assert_eq!(fds[0], a.as_raw_fd());
}

#[test]
fn select_bad_arguments_set_counts_to_zero() {
    let (a, _b) = socketpair();
    let closed = {
        let (c, _) = pipe();
        c.as_raw_fd()
    };
    let s = select(&[a.as_raw_fd(), -1], &[], &[], 0);
    assert_eq!((s.rc, s.err, s.readers.len()), (-1, libc::EINVAL, 0));
    let s = select(&[a.as_raw_fd()], &[], &[], -2);
    assert_eq!((s.rc, s.err), (-1, libc::EINVAL));
    let s = select(&[a.as_raw_fd()], &[closed], &[], 1000);
    assert_eq!((s.rc, s.err, s.writers.len()), (-1, libc::EBADF, 0));
    let mut n = 5usize;
    let fd = a.as_raw_fd();
    let (ni, nn): (*mut i32, *mut usize) = (ptr::null_mut(), ptr::null_mut());
    // NULL input with a count, NULL output for a non-empty list.
    let rc = unsafe { sl_select(ptr::null(), 1, ptr::null(), 0, ptr::null(), 0, 0, &mut 0, &mut n, ni, nn, ni, nn) };
    assert_eq!((rc, errno(), n), (-1, libc::EINVAL, 0));
    let rc = unsafe { sl_select(&fd, 1, ptr::null(), 0, ptr::null(), 0, 0, ni, &mut n, ni, nn, ni, nn) };
    assert_eq!((rc, errno()), (-1, libc::EINVAL));
    let rc = unsafe { sl_select(&fd, usize::MAX, &fd, 1, ptr::null(), 0, 0, &mut 0, &mut n, &mut 0, nn, ni, nn) };
    assert_eq!((rc, errno()), (-1, libc::EINVAL));
}

#[test]
fn signal_storm_never_ends_a_wait_early() {
    let (a, b) = socketpair();
    let ((rc, err, elapsed), signals) = under_signal_storm(|| {
        let start = Instant::now();
        let r = res(sl_wait_readable(a.as_raw_fd(), 150));
        (r.0, r.1, start.elapsed())
    });
    assert!(signals > 10, "the storm sent only {signals} signals");
    assert_eq!((rc, err), (0, 0));
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");

    let (s, _) = under_signal_storm(|| {
        let start = Instant::now();
        (select(&[a.as_raw_fd()], &[], &[a.as_raw_fd()], 150), start.elapsed())
    });
    assert_eq!((s.0.rc, s.0.err), (0, 0));
    assert!(s.1 >= Duration::from_millis(150), "{:?}", s.1);

    // And data that arrives during the storm is seen.
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(60));
        (&std::os::unix::net::UnixStream::from(b)).write_all(b"x").unwrap();
    });
    let ((rc, s), _) =
        under_signal_storm(|| (sl_wait_readable(a.as_raw_fd(), 5000), select(&[a.as_raw_fd()], &[], &[], 5000)));
    writer.join().unwrap();
    assert_eq!(rc, 1);
    assert_eq!((s.rc, s.readers), (1, vec![a.as_raw_fd()]));
    assert!(SIGNALS.load(Ordering::Relaxed) > 0);
}

//! The fault matrix (docs/fault-matrix.md lists every row and the test that
//! covers it; rows already covered by io.rs, frame.rs, conn.rs, ready.rs,
//! selector.rs, signals.rs and sigpipe.rs are not repeated here):
//! - a SIGALRM storm (every 100 µs, no SA_RESTART) during each blocking call
//!   not covered elsewhere: frames, sl_conn reads and writes, wait_writable,
//!   connect, accept, unix connect, graceful close;
//! - SIGPIPE at its default action in a child process, for every sending call
//!   on TCP, Unix sockets and pipes;
//! - a peer reset in the middle of a receive;
//! - a receiver that never reads, for frames and sl_conn;
//! - fd exhaustion (EMFILE) in accept, connect and the constructors, in a
//!   child process with a low RLIMIT_NOFILE, and the server recovering.
//!
//! Child processes are this test binary run again on one test with
//! `SL_FAULT_CHILD` set (fork in a threaded test runner is unsafe).
#![allow(unused_unsafe)]

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::conn::*;
use sockloop::ffi::frame::*;
use sockloop::ffi::io::*;
use sockloop::ffi::net::*;
use sockloop::ffi::ready::*;
use sockloop::ffi::selector::sl_selector_new;
use sockloop::ffi::sockopt::*;
use sockloop::ffi::unix::*;

// ------------------------------------------------------------ the signal storm

thread_local! {
    /// Signals this thread received (a const thread-local: safe in a handler).
    static HITS: Cell<usize> = const { Cell::new(0) };
}

extern "C" fn on_alarm(_: libc::c_int) {
    HITS.with(|h| h.set(h.get() + 1));
}

fn install_handler_without_sa_restart() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0; // no SA_RESTART: every blocking system call sees EINTR
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &action, null_mut()), 0);
    });
}

fn hits() -> usize {
    HITS.with(|h| h.get())
}

/// Runs `peer` on its own thread and `call` on this one while both receive
/// SIGALRM every 100 µs. Returns both results and the signals this thread got.
fn under_storm<T, P: Send + 'static>(
    peer: impl FnOnce() -> P + Send + 'static,
    call: impl FnOnce() -> T,
) -> (T, P, usize) {
    install_handler_without_sa_restart();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let peer = thread::spawn(move || {
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        peer()
    });
    let targets = [unsafe { libc::pthread_self() }, rx.recv().unwrap()];
    let storm = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for &t in &targets {
                    unsafe { libc::pthread_kill(t, libc::SIGALRM) };
                }
                thread::sleep(Duration::from_micros(100));
            }
        })
    };
    let before = hits();
    let out = call();
    let got = hits() - before;
    // The peer thread must not exit while the storm can still signal it.
    let peer_out = {
        let r = peer.join();
        stop.store(true, Ordering::Relaxed);
        r
    };
    storm.join().unwrap();
    (out, peer_out.unwrap(), got)
}

/// A peer that waits, then does `f`: the call under test blocks meanwhile.
fn after<P>(ms: u64, f: impl FnOnce() -> P + Send + 'static) -> impl FnOnce() -> P + Send + 'static {
    move || {
        thread::sleep(Duration::from_millis(ms));
        f()
    }
}

fn small_tcp_pair() -> (TcpStream, TcpStream) {
    let (a, b) = tcp_pair();
    set_buffer_sizes(&a, 65536);
    set_buffer_sizes(&b, 65536);
    (a, b)
}

fn res<T: Into<i64>>(rc: T) -> (i64, i32) {
    let rc = rc.into();
    (rc, if rc < 0 { errno() } else { 0 })
}

// ------------------------------------------------------------ storm rows

#[test]
fn frames_arrive_whole_under_a_signal_storm() {
    const LEN: usize = 8 << 20;
    let data = Arc::new(Rng(seed()).bytes(LEN));
    for timeout in [-1, 20_000] {
        let (a, b) = small_tcp_pair();
        let sent_data = data.clone();
        let mut got = vec![0u8; LEN];
        // The sender starts 30 ms late, so the receiver is blocked under the
        // storm however fast the transfer itself goes on a busy machine.
        let ((rc, done), (src, sdone), signals) = under_storm(
            after(30, move || {
                let mut done = 0;
                let rc = unsafe { sl_send_frame(a.as_raw_fd(), sent_data.as_ptr().cast(), LEN, timeout, &mut done) };
                (res(rc as i64), done)
            }),
            || {
                let mut done = 0;
                let rc = unsafe { sl_recv_frame(b.as_raw_fd(), got.as_mut_ptr().cast(), LEN, timeout, &mut done) };
                (res(rc as i64), done)
            },
        );
        assert_eq!((src, sdone), ((LEN as i64, 0), LEN + 4), "sl_send_frame");
        assert_eq!((rc, done), ((LEN as i64, 0), LEN + 4), "sl_recv_frame");
        assert!(got == *data, "payload differs");
        assert!(signals > 10, "only {signals} signals reached the receiver");
    }
}

#[test]
fn conn_reads_and_writes_complete_under_a_signal_storm() {
    const LEN: usize = 2 << 20;
    let mut rng = Rng(seed());
    let frame = Arc::new(rng.bytes(LEN));
    let exact = Arc::new(rng.bytes(LEN));
    let mut record: Vec<u8> = (0..LEN).map(|_| b'a' + rng.below(26) as u8).collect();
    record.extend_from_slice(b"\r\n");
    let record = Arc::new(record);
    let (a, b) = small_tcp_pair();
    let (f, e, r) = (frame.clone(), exact.clone(), record.clone());
    let ((frame_rc, exact_rc, record_rc), peer, signals) = under_storm(
        move || {
            let c = sl_conn_new(a.as_raw_fd(), LEN, 0);
            let w1 = unsafe { sl_conn_write_frame(c, f.as_ptr().cast(), LEN, -1) };
            let w2 = unsafe { sl_conn_write_frame(c, f.as_ptr().cast(), LEN, 20_000) };
            let w3 = unsafe { sl_send_all(a.as_raw_fd(), e.as_ptr().cast(), LEN, -1, null_mut()) };
            let w4 = unsafe { sl_send_all(a.as_raw_fd(), r.as_ptr().cast(), r.len(), 20_000, null_mut()) };
            unsafe { sl_conn_free(c) };
            (w1, w2, w3, w4)
        },
        || {
            let c = sl_conn_new(b.as_raw_fd(), LEN, 0);
            let mut buf = vec![0u8; LEN];
            let f1 = res(unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), LEN, -1) } as i64);
            let same1 = buf == *frame;
            let f2 = res(unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), LEN, 20_000) } as i64);
            let frames = (f1, f2, same1 && buf == *frame);
            let x = res(unsafe { sl_conn_read_exact(c, buf.as_mut_ptr().cast(), LEN, -1) } as i64);
            let exact_ok = (x, buf == *exact);
            let d = b"\r\n";
            let u = res(
                unsafe { sl_conn_read_until(c, d.as_ptr().cast(), 2, buf.as_mut_ptr().cast(), LEN, 20_000) } as i64
            );
            let record_ok = (u, buf[..] == record[..LEN]);
            unsafe { sl_conn_free(c) };
            (frames, exact_ok, record_ok)
        },
    );
    let l = LEN as isize;
    assert_eq!(peer, (l, l, l, l + 2), "writes under the storm");
    let l = LEN as i64;
    assert_eq!(frame_rc, ((l, 0), (l, 0), true), "sl_conn_read_frame");
    assert_eq!(exact_rc, ((l, 0), true), "sl_conn_read_exact");
    assert_eq!(record_rc, ((l, 0), true), "sl_conn_read_until");
    assert!(signals > 10, "only {signals} signals reached the reader");
}

#[test]
fn waits_time_out_on_time_and_see_late_data_under_a_signal_storm() {
    // wait_readable and sl_select: ready.rs; sl_selector_select: selector.rs.
    // Here: wait_writable on a full socket, and a wait that ends with data.
    let (a, b) = socketpair();
    set_nonblocking(a.as_raw_fd());
    let chunk = [0u8; 65536];
    while unsafe { libc::send(a.as_raw_fd(), chunk.as_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT) } > 0 {}
    let afd = a.as_raw_fd();
    let ((rc, elapsed), (), signals) = under_storm(
        || (),
        || {
            let start = Instant::now();
            (res(sl_wait_writable(afd, 300)), start.elapsed())
        },
    );
    assert_eq!(rc, (0, 0));
    assert!(elapsed >= Duration::from_millis(300), "ended early: {elapsed:?}");
    assert!(signals > 10, "only {signals} signals");
    let bfd = b.as_raw_fd();
    let (rc, (), _) = under_storm(
        after(100, move || {
            let mut buf = vec![0u8; 1 << 20];
            while unsafe { libc::recv(bfd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) } > 0 {}
        }),
        || res(sl_wait_writable(afd, 5000)),
    );
    assert_eq!(rc, (1, 0));
    drop(b);
}

#[test]
fn accept_and_graceful_close_complete_under_a_signal_storm() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for timeout in [-1, 5000] {
        let (fd, client, signals) =
            under_storm(after(150, move || TcpStream::connect(("127.0.0.1", port)).unwrap()), || {
                res(unsafe { sl_accept(listener.as_raw_fd(), 0, timeout, null_mut(), 0) })
            });
        assert!(fd.0 >= 0, "sl_accept: errno {}", fd.1);
        assert!(signals > 10, "only {signals} signals");
        // Graceful close waits for the peer's FIN, which comes after 150 ms.
        let (rc, (), _) = under_storm(
            after(150, move || {
                let mut client = client;
                let mut rest = Vec::new();
                client.shutdown(std::net::Shutdown::Write).unwrap();
                client.read_to_end(&mut rest).unwrap();
            }),
            || res(unsafe { sl_close_graceful(fd.0 as i32, timeout) }),
        );
        assert_eq!(rc, (0, 0), "sl_close_graceful");
    }
}

/// Fills a listener's accept queue (backlog 0) with connections that are
/// never accepted, until a connect of `probe` cannot complete.
fn fill_backlog(mut probe: impl FnMut() -> (i64, i32), keep: &mut Vec<OwnedFd>) {
    for _ in 0..64 {
        let (fd, err) = probe();
        if fd < 0 {
            assert!(err == libc::ETIMEDOUT || err == libc::EAGAIN, "filling the backlog: errno {err}");
            return;
        }
        keep.push(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    }
    panic!("the backlog never filled");
}

#[test]
fn connects_wait_out_a_full_backlog_under_a_signal_storm() {
    // TCP: a full accept queue drops SYNs, so connect waits for a retransmit.
    let listener = unsafe { sl_tcp_listen(c"127.0.0.1".as_ptr(), 0, 0) };
    assert!(listener >= 0);
    let port = sl_local_port(listener);
    let host = c"127.0.0.1".as_ptr();
    let mut queued = Vec::new();
    fill_backlog(|| res(unsafe { sl_tcp_connect(host, port, 200) }), &mut queued);
    let ((rc, elapsed), (), signals) = under_storm(
        || (),
        || {
            let start = Instant::now();
            (res(unsafe { sl_tcp_connect(host, port, 400) }), start.elapsed())
        },
    );
    assert_eq!(rc, (-1, libc::ETIMEDOUT), "sl_tcp_connect: a signal must not end it");
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(signals > 10);
    unsafe { libc::close(listener) };

    // Unix: connect blocks while the backlog is full, then completes once the
    // server accepts.
    let name = format!("@sockloop-faults-{}\0", std::process::id());
    let path = name.as_ptr().cast();
    let listener = unsafe { sl_unix_listen(path, 0) };
    assert!(listener >= 0, "errno {}", errno());
    let mut queued = Vec::new();
    fill_backlog(|| res(unsafe { sl_unix_connect(path, 0) }), &mut queued);
    let ((rc, elapsed), (), signals) = under_storm(
        || (),
        || {
            let start = Instant::now();
            (res(unsafe { sl_unix_connect(path, 300) }), start.elapsed())
        },
    );
    assert_eq!(rc, (-1, libc::ETIMEDOUT), "sl_unix_connect: a signal must not end it");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(signals > 10);
    let (rc, accepted, _) = under_storm(
        after(150, move || {
            let fd = unsafe { sl_accept(listener, 0, 1000, null_mut(), 0) };
            assert!(fd >= 0);
            unsafe { OwnedFd::from_raw_fd(fd) }
        }),
        || res(unsafe { sl_unix_connect(path, 5000) }),
    );
    assert!(rc.0 >= 0, "sl_unix_connect after the server accepted: errno {}", rc.1);
    unsafe { libc::close(rc.0 as RawFd) };
    drop((accepted, queued));
    unsafe { libc::close(listener) };
}

// ------------------------------------------------------------ resets and stalls

/// Closes a TCP socket with SO_LINGER 0: the peer gets an RST, not a FIN.
fn reset(stream: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            8,
        )
    };
    assert_eq!(rc, 0);
}

#[test]
fn a_reset_in_the_middle_of_a_receive_is_econnreset_with_a_true_count() {
    let data = Rng(seed()).bytes(1000);
    // sl_recv_exact: 1000 of 4096 bytes arrive, then the RST.
    let (a, mut b) = tcp_pair();
    b.write_all(&data).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut done = usize::MAX;
    let fd = a.as_raw_fd();
    let peer = after(100, move || reset(b));
    let (rc, (), _) =
        under_storm(peer, || res(unsafe { sl_recv_exact(fd, buf.as_mut_ptr().cast(), 4096, 5000, &mut done) } as i64));
    assert_eq!(rc, (-1, libc::ECONNRESET));
    assert!(done <= 1000 && buf[..done] == data[..done], "*received must count only true bytes ({done})");

    // sl_conn_read_frame: half a frame, then the RST.
    let (a, mut b) = tcp_pair();
    b.write_all(&[0, 0, 4, 0]).unwrap();
    b.write_all(&data[..500]).unwrap();
    let c = sl_conn_new(a.as_raw_fd(), 4096, 0);
    let cp = c as usize;
    let (rc, (), _) = under_storm(after(100, move || reset(b)), || {
        res(unsafe { sl_conn_read_frame(cp as *mut sl_conn, buf.as_mut_ptr().cast(), 4096, 5000) } as i64)
    });
    assert_eq!(rc, (-1, libc::ECONNRESET));
    unsafe { sl_conn_free(c) };
}

#[test]
fn a_reset_in_the_middle_of_a_conn_write_keeps_the_rest_queued() {
    // (sl_send_all against a reset peer: io.rs.)
    let (a, b) = small_tcp_pair();
    let payload = vec![9u8; 8 << 20];
    let c = sl_conn_new(a.as_raw_fd(), 1 << 20, 0);
    let cp = c as usize;
    let (rc, (), _) = under_storm(
        after(100, move || {
            let mut some = vec![0u8; 100_000];
            (&b).read_exact(&mut some).unwrap();
            reset(b)
        }),
        || {
            res(unsafe { sl_conn_write_frame(cp as *mut sl_conn, payload.as_ptr().cast(), payload.len(), 10_000) }
                as i64)
        },
    );
    assert_eq!(rc.0, -1);
    assert!(rc.1 == libc::ECONNRESET || rc.1 == libc::EPIPE, "errno {}", rc.1);
    let pending = unsafe { sl_conn_pending(c) };
    assert!(pending > 0 && pending < payload.len() + 4, "pending {pending}");
    unsafe { sl_conn_free(c) };
}

#[test]
fn a_receiver_that_never_reads_times_out_a_frame_with_the_exact_count() {
    // (sl_send_all: io.rs.) sl_send_frame counts header and payload.
    let (a, b) = socketpair();
    set_buffer_sizes(&a, 4096);
    set_buffer_sizes(&b, 4096);
    let payload = Rng(seed()).bytes(4 << 20);
    let mut sent = usize::MAX;
    let start = Instant::now();
    let rc =
        res(unsafe { sl_send_frame(a.as_raw_fd(), payload.as_ptr().cast(), payload.len(), 200, &mut sent) } as i64);
    assert_eq!(rc, (-1, libc::ETIMEDOUT));
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(sent > 4 && sent < payload.len() + 4, "sent {sent}");
    let mut got = vec![0u8; sent];
    let rc = unsafe { sl_recv_exact(b.as_raw_fd(), got.as_mut_ptr().cast(), sent, 1000, null_mut()) };
    assert_eq!(rc, sent as isize);
    assert_eq!(&got[..4], &(payload.len() as u32).to_be_bytes());
    assert!(got[4..] == payload[..sent - 4]);
    let rc = unsafe { sl_recv_exact(b.as_raw_fd(), got.as_mut_ptr().cast(), 1, 0, null_mut()) };
    assert_eq!(res(rc as i64), (-1, libc::EAGAIN), "nothing past the count was sent");

    // sl_conn_write_frame: the rest stays queued and a later flush finishes it.
    let c = sl_conn_new(a.as_raw_fd(), 16, 0);
    let rc = res(unsafe { sl_conn_write_frame(c, payload.as_ptr().cast(), payload.len(), 200) } as i64);
    assert_eq!(rc, (-1, libc::ETIMEDOUT));
    let pending = unsafe { sl_conn_pending(c) };
    assert!(pending > 0);
    let bfd = b.as_raw_fd();
    let reader = thread::spawn(move || {
        let mut frame = vec![0u8; 4 << 20];
        let mut done = 0;
        let rc = unsafe { sl_recv_frame(bfd, frame.as_mut_ptr().cast(), frame.len(), 10_000, &mut done) };
        (rc, frame)
    });
    let cp = c as usize;
    let mut left = pending as isize;
    let deadline = Instant::now() + Duration::from_secs(10);
    while left > 0 && Instant::now() < deadline {
        sl_wait_writable(a.as_raw_fd(), 100);
        left = unsafe { sl_conn_flush(cp as *mut sl_conn) };
        assert!(left >= 0, "flush errno {}", errno());
    }
    let (rc, frame) = reader.join().unwrap();
    assert_eq!(rc, payload.len() as isize);
    assert!(frame == payload);
    unsafe { sl_conn_free(c) };
}

// ------------------------------------------------------------ child processes

/// Runs the test `name` of this binary in a child process with `SL_FAULT_CHILD`
/// set, and returns its exit status and output.
fn run_child(name: &str) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env("SL_FAULT_CHILD", "1")
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("child {name}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    out
}

fn in_child() -> bool {
    std::env::var_os("SL_FAULT_CHILD").is_some()
}

#[test]
fn sigpipe_is_never_raised_by_any_sending_call() {
    let out = run_child("child_sends_to_gone_peers_with_sigpipe_at_default");
    assert_eq!(out.status.signal(), None, "killed by signal {:?} (13 is SIGPIPE)", out.status.signal());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "the child ran no test");
}

/// Every sending call, to a Unix socket, a TCP socket and a pipe whose reader is gone.
#[test]
fn child_sends_to_gone_peers_with_sigpipe_at_default() {
    if !in_child() {
        return;
    }
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let data = vec![1u8; 256 << 10];
    let iov = [libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() }];
    let gone_peers: Vec<(&str, OwnedFd)> = {
        let (a, b) = socketpair();
        drop(b);
        let (t, u) = tcp_pair();
        drop(u);
        thread::sleep(Duration::from_millis(50)); // the FIN has arrived
        let (r, w) = pipe();
        drop(r);
        vec![("unix", a), ("tcp", OwnedFd::from(t)), ("pipe", w)]
    };
    for (kind, fd) in &gone_peers {
        let fd = fd.as_raw_fd();
        // TCP reports the gone peer from the second send on (the first draws the RST).
        for round in 0..3 {
            let calls: [(&str, i64); 6] = [
                ("sl_send_all", unsafe { sl_send_all(fd, data.as_ptr().cast(), data.len(), 1000, null_mut()) } as i64),
                ("sl_send_allv", unsafe { sl_send_allv(fd, iov.as_ptr(), 1, 1000, null_mut()) } as i64),
                ("sl_send_frame", unsafe { sl_send_frame(fd, data.as_ptr().cast(), data.len(), 1000, null_mut()) }
                    as i64),
                ("sl_conn_write_frame", {
                    let c = sl_conn_new(fd, 16, 0);
                    let rc = unsafe { sl_conn_write_frame(c, data.as_ptr().cast(), data.len(), 1000) } as i64;
                    unsafe { sl_conn_free(c) };
                    rc
                }),
                ("sl_conn_flush", {
                    let c = sl_conn_new(fd, 16, 0);
                    unsafe { sl_conn_queue(c, data.as_ptr().cast(), data.len()) };
                    let rc = unsafe { sl_conn_flush(c) } as i64;
                    unsafe { sl_conn_free(c) };
                    rc
                }),
                ("sl_wait_writable", sl_wait_writable(fd, 0) as i64 - 2), // ready: 1 - 2 == -1 below
            ];
            for (name, rc) in calls {
                if name == "sl_wait_writable" {
                    assert_eq!(rc, -1, "{kind} {name}: a gone peer is writable (ready)");
                    continue;
                }
                let e = errno();
                if round > 0 || *kind != "tcp" {
                    assert_eq!(rc, -1, "{kind} {name} round {round}");
                    assert!(e == libc::EPIPE || e == libc::ECONNRESET, "{kind} {name}: errno {e}");
                }
            }
        }
    }
    // And a graceful close of a socket whose peer is gone.
    let (t, u) = tcp_pair();
    reset(u);
    thread::sleep(Duration::from_millis(20));
    let rc = res(unsafe { sl_close_graceful(t.into_raw_fd(), 100) });
    assert!(rc == (0, 0) || rc == (-1, libc::ECONNRESET), "{rc:?}");
    let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sigpending(&mut pending) };
    assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 0, "SIGPIPE pending");
}

#[test]
fn fd_exhaustion_is_emfile_and_the_server_recovers() {
    let out = run_child("child_runs_out_of_fds");
    assert!(out.status.success(), "child failed: {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "the child ran no test");
}

#[test]
fn child_runs_out_of_fds() {
    if !in_child() {
        return;
    }
    let host = c"127.0.0.1".as_ptr();
    let listener = unsafe { sl_tcp_listen(host, 0, 16) };
    assert!(listener >= 0);
    let port = sl_local_port(listener);
    let unix_name = format!("@sockloop-emfile-{}\0", std::process::id());
    let unix_listener = unsafe { sl_unix_listen(unix_name.as_ptr().cast(), 16) };
    assert!(unix_listener >= 0);
    // A client waits in the accept queue before the fds run out.
    let client = unsafe { sl_tcp_connect(host, port, 1000) };
    assert!(client >= 0);
    assert_eq!(unsafe { sl_send_all(client, b"ping".as_ptr().cast(), 4, 1000, null_mut()) }, 4);

    let lim = libc::rlimit { rlim_cur: 64, rlim_max: 0 };
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) };
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &libc::rlimit { rlim_max: old.rlim_max, ..lim }) }, 0);
    let mut filler = Vec::new();
    loop {
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            assert_eq!(errno(), libc::EMFILE);
            break;
        }
        filler.push(fd);
        assert!(filler.len() < 100, "the limit did not apply");
    }

    assert_eq!(res(unsafe { sl_accept(listener, 0, 200, null_mut(), 0) }), (-1, libc::EMFILE), "sl_accept");
    assert_eq!(res(unsafe { sl_accept(listener, 0, 0, null_mut(), 0) }), (-1, libc::EMFILE), "sl_accept timeout 0");
    assert_eq!(res(unsafe { sl_tcp_connect(host, port, 200) }), (-1, libc::EMFILE), "sl_tcp_connect");
    assert_eq!(res(unsafe { sl_tcp_listen(host, 0, 1) }), (-1, libc::EMFILE), "sl_tcp_listen");
    assert_eq!(res(unsafe { sl_unix_connect(unix_name.as_ptr().cast(), 200) }), (-1, libc::EMFILE), "sl_unix_connect");
    assert_eq!(res(unsafe { sl_unix_listen(c"@sockloop-emfile-2".as_ptr(), 1) }), (-1, libc::EMFILE));
    let sel = sl_selector_new();
    assert!(sel.is_null() && errno() == libc::EMFILE, "sl_selector_new");

    // One fd free again: the queued client is accepted, with its bytes intact.
    unsafe { libc::close(filler.pop().unwrap()) };
    let fd = unsafe { sl_accept(listener, 0, 1000, null_mut(), 0) };
    assert!(fd >= 0, "the server recovers: errno {}", errno());
    let mut buf = [0u8; 4];
    assert_eq!(unsafe { sl_recv_exact(fd, buf.as_mut_ptr().cast(), 4, 1000, null_mut()) }, 4);
    assert_eq!(&buf, b"ping");
    for fd in filler.into_iter().chain([fd, client, listener, unix_listener]) {
        unsafe { libc::close(fd) };
    }
}

//! sl_ring through the C ABI, on both backends (io_uring where the kernel
//! allows it, and the forced epoll fallback): echo over many connections with
//! every byte checked, a peer that never reads, FIN and RST mid-message,
//! timeouts, a signal storm and the interrupt check, hostile arguments.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::os::raw::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::conn::*;
use sockloop::ffi::ring::*;

const BACKENDS: [i32; 2] = [0, SL_RING_FORCE_EPOLL];

struct RingBox(*mut sl_ring);

impl RingBox {
    fn new(flags: i32) -> RingBox {
        let r = sl_ring_new(flags);
        assert!(!r.is_null(), "sl_ring_new: errno {}", errno());
        RingBox(r)
    }
    fn backend(&self) -> String {
        unsafe { std::ffi::CStr::from_ptr(sl_ring_backend(self.0)) }.to_str().unwrap().to_owned()
    }
    fn add(&self, c: *mut sl_conn, data: usize) {
        assert_eq!(unsafe { sl_ring_add(self.0, c, data as *mut c_void) }, 0, "add: errno {}", errno());
    }
    fn remove(&self, c: *mut sl_conn) {
        assert_eq!(unsafe { sl_ring_remove(self.0, c) }, 0, "remove: errno {}", errno());
    }
    /// A TCP pair whose server end is a conn of `limit`, added with `data`:
    /// (client, server, conn). The server stream owns the fd: keep it
    /// until the conn is freed.
    fn add_tcp(&self, limit: usize, data: usize) -> (TcpStream, TcpStream, *mut sl_conn) {
        let (client, server) = tcp_pair();
        let c = conn(server.as_raw_fd(), limit);
        self.add(c, data);
        (client, server, c)
    }
    /// Removes `c` and frees it.
    fn remove_and_free(&self, c: *mut sl_conn) {
        self.remove(c);
        unsafe { sl_conn_free(c) };
    }
    /// One wait: (rc, events, errno).
    fn wait(&self, cap: usize, timeout_ms: i32) -> (i32, Vec<sl_ring_event>, i32) {
        let mut out: Vec<sl_ring_event> = (0..cap)
            .map(|_| sl_ring_event { conn: ptr::null_mut(), data: ptr::null_mut(), events: 0, error: 0 })
            .collect();
        let rc = unsafe { sl_ring_wait(self.0, out.as_mut_ptr(), cap, timeout_ms) };
        let e = if rc < 0 { errno() } else { 0 };
        out.truncate(rc.max(0) as usize);
        (rc, out, e)
    }
}

impl Drop for RingBox {
    fn drop(&mut self) {
        unsafe { sl_ring_free(self.0) };
    }
}

fn conn(fd: i32, limit: usize) -> *mut sl_conn {
    let c = sl_conn_new(fd, limit, 0);
    assert!(!c.is_null());
    c
}

fn pending(c: *mut sl_conn) -> usize {
    // SAFETY: the tests pass live connections.
    unsafe { sl_conn_pending(c) }
}

fn buffered(c: *mut sl_conn) -> usize {
    // SAFETY: as pending.
    unsafe { sl_conn_buffered(c) }
}

fn frames(c: *mut sl_conn) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        let (mut p, mut n) = (ptr::null(), 0usize);
        let rc = unsafe { sl_conn_next_frame(c, &mut p, &mut n) };
        assert!(rc >= 0, "next_frame: errno {}", errno());
        if rc == 0 {
            return got;
        }
        got.push(unsafe { std::slice::from_raw_parts(p as *const u8, n) }.to_vec());
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    [&(payload.len() as u32).to_be_bytes()[..], payload].concat()
}

#[test]
fn the_backend_is_io_uring_where_the_kernel_allows_it_and_epoll_when_forced() {
    let forced = RingBox::new(SL_RING_FORCE_EPOLL);
    assert_eq!(forced.backend(), "epoll");
    let default = RingBox::new(0);
    let disabled =
        std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").map(|s| s.trim() != "0").unwrap_or(true);
    let env_forced = std::env::var("SOCKLOOP_RING").is_ok_and(|v| v == "epoll");
    if disabled || env_forced {
        assert_eq!(default.backend(), "epoll");
    } else {
        assert_eq!(default.backend(), "io_uring");
    }
}

/// Echoes `frames_each` frames of random sizes on `n` connections, all
/// through one ring, and checks every byte came back in order.
fn echo(flags: i32, n: usize, frames_each: usize) {
    let want = 2 * n as u64 + 200;
    raise_nofile_limit(want);
    let mut rng = Rng(seed());
    let ring = RingBox::new(flags);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut clients = Vec::new();
    let mut conns = Vec::new();
    let mut servers = Vec::new();
    for i in 0..n {
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap())
            .unwrap_or_else(|e| panic!("connection {i}: {e} (open files limit: {want} needed)"));
        let (server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let c = conn(server.as_raw_fd(), 1 << 16);
        ring.add(c, i);
        conns.push(c);
        servers.push(server);
        clients.push(client);
    }
    let expected: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            (0..frames_each)
                .flat_map(|_| {
                    let len = rng.below(300);
                    frame(&rng.bytes(len))
                })
                .collect()
        })
        .collect();
    let mut sent = vec![0usize; n];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); n];
    let start = Instant::now();
    while got.iter().zip(&expected).any(|(g, e)| g.len() < e.len()) {
        assert!(start.elapsed() < Duration::from_secs(60), "echo stalled");
        for i in 0..n {
            if sent[i] < expected[i].len() {
                let end = (sent[i] + 1 + rng.below(4000)).min(expected[i].len());
                if let Ok(k) = clients[i].write(&expected[i][sent[i]..end]) {
                    sent[i] += k;
                }
            }
        }
        let (rc, events, e) = ring.wait(64, 10);
        assert!(rc >= 0, "wait: errno {e}");
        for ev in events {
            assert_eq!(ev.events, SL_RING_DATA, "error {}", ev.error);
            let i = ev.data as usize;
            assert_eq!(ev.conn, conns[i]);
            for f in frames(ev.conn) {
                assert!(unsafe { sl_conn_queue_frame(ev.conn, f.as_ptr().cast(), f.len()) } >= 0);
            }
        }
        let mut buf = [0u8; 65536];
        for i in 0..n {
            while let Ok(k) = clients[i].read(&mut buf) {
                if k == 0 {
                    break;
                }
                got[i].extend_from_slice(&buf[..k]);
            }
        }
    }
    assert_eq!(got, expected);
    for &c in &conns {
        ring.remove_and_free(c);
    }
}

#[test]
fn echo_over_200_connections_keeps_every_byte_in_order() {
    for flags in BACKENDS {
        echo(flags, 200, 20);
    }
}

/// The far ends in a child process (each side holds 10,000 fds): the child
/// connects, sends `FRAMES` frames per connection, reads the echo back and
/// checks it, then closes; its exit code says whether every byte matched.
fn echo_10000_with_far_ends_in_a_child(flags: i32) {
    const N: usize = 10_000;
    const FRAMES: usize = 5;
    raise_nofile_limit(N as u64 + 200);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let expected =
        |i: usize| -> Vec<u8> { (0..FRAMES).flat_map(|f| frame(&vec![(i * 7 + f) as u8; (i + f) % 200])).collect() };
    // SAFETY: the child only connects, reads, writes and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = std::panic::catch_unwind(|| {
            let mut clients: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(addr).unwrap()).collect();
            for (i, c) in clients.iter_mut().enumerate() {
                c.write_all(&expected(i)).unwrap();
            }
            for (i, c) in clients.iter_mut().enumerate() {
                c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let want = expected(i);
                let mut got = vec![0u8; want.len()];
                c.read_exact(&mut got).unwrap();
                assert!(got == want, "connection {i}");
            }
        })
        .map_or(1, |()| 0);
        // SAFETY: ends the child without running the parent's test harness.
        unsafe { libc::_exit(code) };
    }
    let ring = RingBox::new(flags);
    let mut conns = Vec::new();
    for i in 0..N {
        let (server, _) = listener.accept().unwrap();
        let c = conn(std::os::fd::IntoRawFd::into_raw_fd(server), 1 << 16);
        ring.add(c, i);
        conns.push(c);
    }
    let mut closed = 0;
    let start = Instant::now();
    while closed < N {
        assert!(start.elapsed() < Duration::from_secs(120), "{closed} of {N} closed");
        let (rc, events, e) = ring.wait(1024, 100);
        assert!(rc >= 0, "wait: errno {e}");
        for ev in events {
            for f in frames(ev.conn) {
                assert!(unsafe { sl_conn_queue_frame(ev.conn, f.as_ptr().cast(), f.len()) } >= 0);
            }
            assert_eq!(ev.events & SL_RING_ERROR, 0, "errno {}", ev.error);
            if ev.events & SL_RING_CLOSED != 0 {
                closed += 1;
            }
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the far ends saw a wrong byte: {status}");
    for c in conns {
        ring.remove(c);
        // SAFETY: the conn is out of the ring; its fd is closed with it below.
        unsafe {
            libc::close(sl_conn_fd(c));
            sl_conn_free(c);
        }
    }
}

#[test]
#[ignore = "10,000 connections: run by make stress"]
fn echo_over_10000_connections() {
    for flags in BACKENDS {
        echo_10000_with_far_ends_in_a_child(flags);
    }
}

#[test]
fn a_peer_that_never_reads_leaves_output_pending_and_nothing_is_lost() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, server) = tcp_pair();
        set_buffer_sizes(&server, 16 * 1024);
        let c = conn(server.as_raw_fd(), 1024);
        ring.add(c, 7);
        let data = Rng(seed()).bytes(4 << 20);
        assert!(unsafe { sl_conn_queue(c, data.as_ptr().cast(), data.len()) } >= 0);
        for _ in 0..5 {
            let (rc, _, e) = ring.wait(8, 20);
            assert!(rc >= 0, "errno {e}");
        }
        let left = pending(c);
        assert!(left > 0 && left < data.len(), "pending {left}");
        // The reader wakes: everything arrives, in order.
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let start = Instant::now();
        while pending(c) > 0 {
            assert!(start.elapsed() < Duration::from_secs(30));
            ring.wait(8, 50);
        }
        ring.remove_and_free(c);
        server.shutdown(Shutdown::Both).unwrap();
        drop(server);
        assert!(reader.join().unwrap() == data);
    }
}

#[test]
fn fin_mid_message_reports_closed_with_the_partial_frame_buffered() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, _server, c) = ring.add_tcp(1024, 1);
        client.write_all(&frame(b"whole")).unwrap();
        client.write_all(&[0, 0, 0, 10, b'p', b'a']).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut seen = 0;
        let start = Instant::now();
        while seen & SL_RING_CLOSED == 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            let (rc, events, e) = ring.wait(4, 100);
            assert!(rc >= 0, "errno {e}");
            for ev in events {
                assert_eq!(ev.data as usize, 1);
                seen |= ev.events;
            }
        }
        assert_eq!(seen & SL_RING_ERROR, 0);
        assert_eq!(frames(c), vec![b"whole".to_vec()]);
        assert_eq!(buffered(c), 6, "the partial frame stays buffered");
        // Reported once: the next wait times out.
        assert_eq!(ring.wait(4, 30).0, 0);
        ring.remove_and_free(c);
    }
}

#[test]
fn rst_mid_message_reports_an_error_and_keeps_what_arrived_and_what_is_unsent() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, _server, c) = ring.add_tcp(1024, 2);
        client.write_all(&[0, 0, 0, 50, 1, 2, 3]).unwrap();
        let start = Instant::now();
        while buffered(c) < 7 {
            assert!(start.elapsed() < Duration::from_secs(10));
            ring.wait(4, 50);
        }
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        unsafe {
            libc::setsockopt(
                client.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                8,
            )
        };
        drop(client);
        let reply = vec![9u8; 1000];
        let mut seen = (0, 0);
        let start = Instant::now();
        while seen.0 & (SL_RING_ERROR | SL_RING_CLOSED) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            unsafe { sl_conn_queue(c, reply.as_ptr().cast(), reply.len()) };
            let (rc, events, e) = ring.wait(4, 50);
            assert!(rc >= 0, "errno {e}");
            for ev in events {
                seen = (seen.0 | ev.events, ev.error);
            }
        }
        if seen.0 & SL_RING_ERROR != 0 {
            assert!([libc::ECONNRESET, libc::EPIPE].contains(&seen.1), "error {}", seen.1);
        }
        assert_eq!(buffered(c), 7, "the partial frame stays buffered");
        ring.remove_and_free(c);
    }
}

#[test]
fn a_wait_with_nothing_to_do_times_out_after_its_budget() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (_client, _server, c) = ring.add_tcp(1024, 0);
        let start = Instant::now();
        assert_eq!(ring.wait(4, 80).0, 0);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(80) && took < Duration::from_secs(5), "{took:?}");
        assert_eq!(ring.wait(4, 0).0, 0);
        let empty = RingBox::new(flags);
        assert_eq!(empty.wait(4, 20).0, 0);
        ring.remove_and_free(c);
    }
}

#[test]
fn remove_leaves_received_bytes_in_the_buffer_and_the_conn_usable() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, _server, c) = ring.add_tcp(1024, 0);
        client.write_all(&frame(b"one")).unwrap();
        let start = Instant::now();
        while buffered(c) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            ring.wait(4, 50);
        }
        ring.remove(c);
        // The ring's receive is gone: a blocking read now gets the next frame.
        client.write_all(&frame(b"two")).unwrap();
        let mut buf = [0u8; 16];
        let n = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), 16, 2000) };
        assert_eq!(&buf[..n as usize], b"one");
        let n = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), 16, 2000) };
        assert_eq!(&buf[..n as usize], b"two");
        unsafe { sl_conn_free(c) };
    }
}

#[test]
fn a_full_read_buffer_is_not_read_past_its_bound() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, server) = tcp_pair();
        client.set_nonblocking(true).unwrap();
        let c = conn(server.as_raw_fd(), 100);
        ring.add(c, 0);
        let stream: Vec<u8> = (0..200).flat_map(|i| frame(&[i as u8; 90])).collect();
        let mut sent = 0;
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < 200 {
            assert!(start.elapsed() < Duration::from_secs(20));
            if let Ok(k) = client.write(&stream[sent..]) {
                sent += k;
            }
            ring.wait(4, 10);
            assert!(buffered(c) <= 104, "bound: {}", buffered(c));
            // Take at most one frame per turn: the buffer fills up.
            let (mut p, mut n) = (ptr::null(), 0usize);
            if unsafe { sl_conn_next_frame(c, &mut p, &mut n) } == 1 {
                got.push(unsafe { std::slice::from_raw_parts(p as *const u8, n) }.to_vec());
            }
        }
        let want: Vec<Vec<u8>> = (0..200).map(|i| vec![i as u8; 90]).collect();
        assert_eq!(got, want);
        ring.remove_and_free(c);
    }
}

extern "C" fn on_signal(_: libc::c_int) {}

fn install_handler_without_sa_restart() {
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        assert_eq!(libc::sigaction(libc::SIGUSR2, &action, ptr::null_mut()), 0);
    }
}

static STOP_ASKED: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn stop_check(_: *mut c_void) -> libc::c_int {
    STOP_ASKED.load(Ordering::Relaxed) as libc::c_int
}

#[test]
fn a_signal_storm_loses_nothing_and_the_interrupt_check_ends_a_wait() {
    install_handler_without_sa_restart();
    for flags in BACKENDS {
        let me = unsafe { libc::pthread_self() } as usize;
        let stop = Arc::new(AtomicBool::new(false));
        let storm = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR2) };
                    sent += 1;
                    thread::sleep(Duration::from_micros(200));
                }
                sent
            })
        };
        // A slow trickle of frames while signals land: all arrive.
        let ring = RingBox::new(flags);
        let (client, _server, c) = ring.add_tcp(1024, 0);
        let writer = thread::spawn(move || {
            let mut client = client;
            for i in 0..50u8 {
                client.write_all(&frame(&[i; 10])).unwrap();
                thread::sleep(Duration::from_millis(2));
            }
            client
        });
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < 50 {
            assert!(start.elapsed() < Duration::from_secs(20));
            let (rc, _, e) = ring.wait(4, 1000);
            assert!(rc >= 0, "a signal ended the wait: errno {e}");
            got.extend(frames(c));
        }
        assert_eq!(got, (0..50u8).map(|i| vec![i; 10]).collect::<Vec<_>>());
        // With a check that says stop, the storm ends a blocked wait: EINTR.
        STOP_ASKED.store(true, Ordering::Relaxed);
        unsafe { sockloop::ffi::interrupt::sl_set_interrupt_check(Some(stop_check), ptr::null_mut()) };
        let start = Instant::now();
        let (rc, _, e) = ring.wait(4, 5000);
        unsafe { sockloop::ffi::interrupt::sl_set_interrupt_check(None, ptr::null_mut()) };
        STOP_ASKED.store(false, Ordering::Relaxed);
        assert_eq!((rc, e), (-1, libc::EINTR));
        assert!(start.elapsed() < Duration::from_secs(4));
        stop.store(true, Ordering::Relaxed);
        assert!(storm.join().unwrap() > 10);
        drop(writer.join().unwrap());
        ring.remove_and_free(c);
    }
}

#[test]
fn hostile_arguments_are_refused_with_errno() {
    unsafe {
        assert!(sl_ring_new(2).is_null());
        assert_eq!(errno(), libc::EINVAL);
        assert!(sl_ring_new(-1).is_null());
        assert!(sl_ring_backend(ptr::null_mut()).is_null());
        assert_eq!(errno(), libc::EINVAL);
        sl_ring_free(ptr::null_mut());
        let mut ev = sl_ring_event { conn: ptr::null_mut(), data: ptr::null_mut(), events: 0, error: 0 };
        assert_eq!(sl_ring_wait(ptr::null_mut(), &mut ev, 1, 0), -1);
        assert_eq!(errno(), libc::EINVAL);
        for flags in BACKENDS {
            let ring = RingBox::new(flags);
            assert_eq!(sl_ring_wait(ring.0, ptr::null_mut(), 1, 0), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(sl_ring_wait(ring.0, &mut ev, 0, 0), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(sl_ring_wait(ring.0, &mut ev, 1, -2), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(sl_ring_add(ring.0, ptr::null_mut(), ptr::null_mut()), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(sl_ring_add(ptr::null_mut(), ptr::null_mut(), ptr::null_mut()), -1);
            assert_eq!(sl_ring_remove(ring.0, ptr::null_mut()), -1);
            assert_eq!(errno(), libc::EINVAL);
            let (_a, b) = socketpair();
            let c = conn(b.as_raw_fd(), 64);
            assert_eq!(sl_ring_remove(ring.0, c), -1);
            assert_eq!(errno(), libc::ENOENT);
            ring.add(c, 0);
            assert_eq!(sl_ring_add(ring.0, c, ptr::null_mut()), -1);
            assert_eq!(errno(), libc::EEXIST);
            // One ring at a time: a conn in one ring cannot join another.
            let other = RingBox::new(flags);
            assert_eq!(sl_ring_add(other.0, c, ptr::null_mut()), -1);
            assert_eq!(errno(), libc::EEXIST);
            ring.remove(c);
            assert_eq!(sl_ring_remove(ring.0, c), -1);
            assert_eq!(errno(), libc::ENOENT);
            // Freeing a ring with a connection still in it leaves the conn whole.
            ring.add(c, 0);
            drop(ring);
            assert_eq!(pending(c), 0);
            sl_conn_free(c);
        }
    }
}

#[test]
fn fd_flags_are_never_changed() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, server) = tcp_pair();
        let before = fd_flags(server.as_raw_fd());
        let c = conn(server.as_raw_fd(), 1024);
        ring.add(c, 0);
        client.write_all(&frame(b"x")).unwrap();
        let start = Instant::now();
        while buffered(c) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            ring.wait(4, 50);
        }
        assert_eq!(fd_flags(server.as_raw_fd()), before);
        assert_eq!(before & libc::O_NONBLOCK, 0, "a blocking fd stays blocking and the ring never blocks in it");
        ring.remove_and_free(c);
    }
}

fn queue_frame(c: *mut sl_conn, payload: &[u8]) {
    let rc = unsafe { sl_conn_queue_frame(c, payload.as_ptr().cast(), payload.len()) };
    assert!(rc >= 0, "queue_frame: errno {}", errno());
}

/// Reads `want` bytes from `client` within 10 s.
fn read_all(client: &mut TcpStream, want: usize) -> Vec<u8> {
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = vec![0u8; want];
    client.read_exact(&mut got).unwrap();
    got
}

#[test]
fn output_queued_with_no_new_input_goes_out_in_the_next_wait() {
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (mut client, server) = tcp_pair();
        let c = conn(server.as_raw_fd(), 1024);
        // Queued before the conn joins the ring: the first wait sends it.
        queue_frame(c, b"before");
        ring.add(c, 0);
        ring.wait(4, 0);
        assert_eq!(pending(c), 0);
        assert_eq!(read_all(&mut client, 10), frame(b"before"));
        // Idle turns with nothing to send, then output with no input: the
        // very next wait (timeout 0, so one turn) writes it.
        for _ in 0..3 {
            assert_eq!(ring.wait(4, 0).0, 0);
        }
        for round in 0..3u8 {
            queue_frame(c, &[round; 5]);
            queue_frame(c, &[round + 10; 3]);
            assert_eq!(ring.wait(4, 0).0, 0, "no input: no event");
            assert_eq!(pending(c), 0, "{flags}: written in one wait");
            assert_eq!(read_all(&mut client, 16), [frame(&[round; 5]), frame(&[round + 10; 3])].concat());
        }
        ring.remove_and_free(c);
    }
}

#[test]
fn output_queued_on_many_connections_at_once_all_goes_out_in_one_wait() {
    const N: usize = 300;
    raise_nofile_limit(2 * N as u64 + 100);
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let mut pairs = Vec::new();
        for _ in 0..N {
            let (client, server, c) = ring.add_tcp(1024, 0);
            pairs.push((client, server, c));
        }
        ring.wait(16, 0);
        for round in 0..2u32 {
            // Every other connection, then all of them.
            let step = if round == 0 { 2 } else { 1 };
            for (i, (_, _, c)) in pairs.iter().enumerate().step_by(step) {
                queue_frame(*c, &(i as u32 + round * 1000).to_be_bytes());
            }
            assert_eq!(ring.wait(16, 0).0, 0);
            for (i, (client, _, c)) in pairs.iter_mut().enumerate().step_by(step) {
                assert_eq!(pending(*c), 0, "{flags}: connection {i}");
                assert_eq!(read_all(client, 8), frame(&(i as u32 + round * 1000).to_be_bytes()));
            }
        }
        for (_, _, c) in pairs {
            ring.remove_and_free(c);
        }
    }
}

#[test]
fn a_large_limit_stops_receiving_at_the_bound_and_resumes_as_messages_are_taken() {
    // A limit over one ring buffer (16 KiB). Small frames one at a time
    // first, so that on io_uring the connection goes to the multishot
    // receive into ring buffers; then a stream far past the bound, which
    // that receive (and the direct ones after it) must not go past.
    const LIMIT: usize = 100_000;
    const FRAMES: usize = 400;
    const WARM: usize = 12;
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (client, _server, c) = ring.add_tcp(LIMIT, 0);
        let stream: Vec<u8> = (0..FRAMES).flat_map(|i| frame(&vec![i as u8; 5000 + i])).collect();
        let total = stream.len();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let writer = thread::spawn(move || {
            let mut client = client;
            for _ in 0..WARM {
                client.write_all(&frame(b"warm")).unwrap();
                go_rx.recv().unwrap();
            }
            client.write_all(&stream).unwrap();
            client
        });
        for k in 0..WARM {
            let start = Instant::now();
            while frames(c).is_empty() {
                assert!(start.elapsed() < Duration::from_secs(10), "{flags}: warm-up frame {k}");
                ring.wait(4, 10);
            }
            go_tx.send(()).unwrap();
        }
        // Nothing taken for a while: the buffer fills to its bound, no further.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            ring.wait(4, 10);
            assert!(buffered(c) <= LIMIT + 4, "{flags}: bound: {}", buffered(c));
        }
        assert!(buffered(c) > LIMIT + 4 - 10_100, "{flags}: filled up to its bound: {}", buffered(c));
        // Then taken a few frames per turn: everything arrives, in order.
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < FRAMES {
            assert!(start.elapsed() < Duration::from_secs(30), "{flags}: {} frames", got.len());
            ring.wait(4, 10);
            assert!(buffered(c) <= LIMIT + 4, "{flags}: bound: {}", buffered(c));
            for _ in 0..3 {
                let (mut p, mut n) = (ptr::null(), 0usize);
                if unsafe { sl_conn_next_frame(c, &mut p, &mut n) } != 1 {
                    break;
                }
                got.push(unsafe { std::slice::from_raw_parts(p as *const u8, n) }.to_vec());
            }
        }
        assert_eq!(got.iter().map(|f| f.len() + 4).sum::<usize>(), total);
        for (i, f) in got.iter().enumerate() {
            assert!(f.len() == 5000 + i && f.iter().all(|&b| b == i as u8), "{flags}: frame {i}");
        }
        drop(writer.join().unwrap());
        ring.remove_and_free(c);
    }
}

#[test]
fn a_queue_that_shrank_after_a_large_send_takes_frames_of_any_size() {
    // 300 KB sent through the ring, after which the queue shrinks to 64 KiB:
    // the next queue calls must see the smaller queue (a stale bound let them
    // write past it).
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (client, _server, c) = ring.add_tcp(1024, 0);
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let after: Vec<u8> = (0..100_000u32).map(|i| (i % 13) as u8).collect();
        let want = [&big[..], &frame(&after)].concat();
        let n = want.len();
        let reader = thread::spawn(move || {
            let mut client = client;
            read_all(&mut client, n)
        });
        assert!(unsafe { sl_conn_queue(c, big.as_ptr().cast(), big.len()) } >= 0);
        let start = Instant::now();
        while pending(c) > 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            ring.wait(4, 10);
        }
        queue_frame(c, &after);
        let start = Instant::now();
        while pending(c) > 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            ring.wait(4, 10);
        }
        assert!(reader.join().unwrap() == want, "{flags}: bytes differ");
        ring.remove_and_free(c);
    }
}

/// Every frame `c` receives until the ring reports it CLOSED (with no
/// ERROR), taken after each wait; bounded at 20 s.
fn frames_until_closed(ring: &RingBox, c: *mut sl_conn) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < Duration::from_secs(20), "{} frames, no CLOSED", got.len());
        let (rc, events, e) = ring.wait(4, 1000);
        assert!(rc >= 0, "errno {e}");
        assert!(events.iter().all(|ev| ev.events & SL_RING_ERROR == 0));
        got.extend(frames(c));
        if events.iter().any(|ev| ev.events & SL_RING_CLOSED != 0) {
            return got;
        }
    }
}

#[test]
fn end_of_stream_after_a_burst_comes_after_every_byte_before_it() {
    // The peer writes far more than the conn's buffer holds, then closes:
    // CLOSED is reported only once every byte before the end is in the
    // buffer (a multishot receive's last bytes may wait in the ring first).
    const FRAMES: usize = 20_000;
    for flags in BACKENDS {
        for round in 0..3 {
            let ring = RingBox::new(flags);
            let (client, _server, c) = ring.add_tcp(65_536, 0);
            let writer = thread::spawn(move || {
                let mut client = client;
                let stream: Vec<u8> = (0..FRAMES).flat_map(|i| frame(&[i as u8; 64])).collect();
                client.write_all(&stream).unwrap();
            });
            let got = frames_until_closed(&ring, c);
            assert_eq!(got.len(), FRAMES, "{flags}, round {round}: frames before CLOSED");
            writer.join().unwrap();
            ring.remove_and_free(c);
        }
    }
}

#[test]
fn small_messages_a_stream_and_small_messages_again_keep_every_byte_in_order() {
    // On io_uring a connection starts receiving straight into its buffer,
    // goes to the multishot receive into ring buffers once messages come
    // one at a time, is stopped from it by a burst far past its buffer (the
    // bytes already in ring buffers wait, then go in first) and takes the
    // burst straight again, then small messages once more, then FIN: every
    // frame arrives once, in order, and CLOSED after the last.
    const TRICKLE: u32 = 12;
    const BURST: u32 = 60_000;
    const TOTAL: u32 = TRICKLE + BURST + TRICKLE;
    for flags in BACKENDS {
        let ring = RingBox::new(flags);
        let (client, _server, c) = ring.add_tcp(65_536, 0);
        let writer = thread::spawn(move || {
            let mut client = client;
            let one = |i: u32| frame(&i.to_be_bytes().repeat(16));
            for i in 0..TRICKLE {
                thread::sleep(Duration::from_millis(3));
                client.write_all(&one(i)).unwrap();
            }
            let burst: Vec<u8> = (TRICKLE..TRICKLE + BURST).flat_map(one).collect();
            client.write_all(&burst).unwrap();
            for i in TRICKLE + BURST..TOTAL {
                thread::sleep(Duration::from_millis(3));
                client.write_all(&one(i)).unwrap();
            }
        });
        let got = frames_until_closed(&ring, c);
        assert_eq!(got.len(), TOTAL as usize, "{flags}: frames before CLOSED");
        for (i, f) in got.iter().enumerate() {
            assert_eq!(*f, (i as u32).to_be_bytes().repeat(16), "{flags}: frame {i}");
        }
        writer.join().unwrap();
        ring.remove_and_free(c);
    }
}

#[test]
fn a_fill_while_the_ring_receives_into_the_buffer_is_refused_and_nothing_moves() {
    // A new conn is received into directly on io_uring: from the first
    // wait on, the kernel may write into its buffer, so a
    // fill or a blocking read (which the ring's contract forbids) must fail
    // rather than move or free that buffer. Then the ring delivers.
    let ring = RingBox::new(0);
    if ring.backend() != "io_uring" {
        eprintln!("skipped: no io_uring here");
        return;
    }
    let (mut client, _server, c) = ring.add_tcp(1000, 0);
    assert_eq!(ring.wait(4, 0).0, 0);
    assert_eq!(unsafe { sl_conn_fill(c) }, -1);
    assert_eq!(errno(), libc::EBUSY);
    let mut buf = [0u8; 16];
    let rc = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), buf.len(), 100) };
    assert_eq!((rc, errno()), (-1, libc::EBUSY));
    client.write_all(&frame(b"after the refusals")).unwrap();
    let (rc, events, e) = ring.wait(4, 5000);
    assert_eq!(rc, 1, "errno {e}");
    assert_eq!(events[0].events, SL_RING_DATA);
    assert_eq!(frames(c), vec![b"after the refusals".to_vec()]);
    // Removing cancels the receive in flight: the conn is the caller's again.
    ring.remove(c);
    client.write_all(&frame(b"read by hand")).unwrap();
    let rc = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), buf.len(), 5000) };
    assert_eq!(rc, 12, "errno {}", errno());
    assert_eq!(&buf[..12], b"read by hand");
    unsafe { sl_conn_free(c) };
}

#[test]
fn random_bursts_pauses_and_takers_keep_every_frame_in_order_within_the_bound() {
    // Per round, at random: the conn's limit (below and above one ring
    // buffer), frames mostly small and some of any size up to it, sent in
    // trickles (one at a time, 1 ms apart) and bursts (so that on io_uring a
    // connection goes between direct and multishot receives, and is stopped
    // at its bound), and a
    // taker that takes no frame, one, or all of them each turn. Every frame
    // arrives once and in order; the read buffer never holds more than its
    // bound (the limit plus the 4-byte prefix).
    let mut rng = Rng(seed());
    for round in 0..6 {
        for flags in BACKENDS {
            let limit = [100, 1000, 20_000, 65_536, 65_536, 65_536][rng.below(6)];
            // About 512 KiB a round at most.
            let count = (100 + rng.below(1500)).min(1024 * 1024 / limit);
            // Mostly small frames, a quarter of any size up to the limit.
            let sizes: Vec<usize> =
                (0..count).map(|_| if rng.below(4) == 0 { rng.below(limit + 1) } else { rng.below(65) }).collect();
            let payload = |i: usize, size: usize| vec![(i % 251) as u8; size];
            let ring = RingBox::new(flags);
            let (client, _server, c) = ring.add_tcp(limit, 0);
            let mut writer_rng = Rng(rng.next() | 1);
            let to_send = sizes.clone();
            let writer = thread::spawn(move || {
                let mut client = client;
                let mut i = 0;
                while i < to_send.len() {
                    // A trickle (frames one at a time, 1 ms apart) or a burst.
                    let (n, each) = if writer_rng.below(2) == 0 {
                        (10 + writer_rng.below(20), 1)
                    } else {
                        (1, 50 + writer_rng.below(350))
                    };
                    for _ in 0..n {
                        let end = (i + each).min(to_send.len());
                        let bytes: Vec<u8> = (i..end).flat_map(|k| frame(&payload(k, to_send[k]))).collect();
                        client.write_all(&bytes).unwrap();
                        i = end;
                        thread::sleep(Duration::from_millis(1));
                    }
                }
            });
            let mut got = 0usize;
            let start = Instant::now();
            while got < count {
                let what = format!("round {round}, flags {flags}, limit {limit}: frame {got} of {count}");
                assert!(start.elapsed() < Duration::from_secs(20), "{what}");
                // A short wait: with the buffer full and nothing taken, a
                // wait has no news and runs to its end.
                let (rc, events, e) = ring.wait(4, 2);
                assert!(rc >= 0, "{what}: errno {e}");
                // CLOSED may come before the taker is done: the rest is buffered.
                assert!(events.iter().all(|ev| ev.events & SL_RING_ERROR == 0), "{what}");
                assert!(buffered(c) <= limit + 4, "{what}: {} buffered", buffered(c));
                let take = match rng.below(3) {
                    0 => 0,
                    1 => 1,
                    _ => usize::MAX,
                };
                for _ in 0..take {
                    let (mut p, mut n) = (ptr::null(), 0usize);
                    let rc = unsafe { sl_conn_next_frame(c, &mut p, &mut n) };
                    assert!(rc >= 0, "{what}: errno {}", errno());
                    if rc == 0 {
                        break;
                    }
                    let f = unsafe { std::slice::from_raw_parts(p as *const u8, n) };
                    assert!(f == payload(got, sizes[got]), "{what}: wrong bytes");
                    got += 1;
                }
            }
            writer.join().unwrap();
            ring.remove_and_free(c);
        }
    }
}

//! The long runs, for `make stress` only (every test here is `#[ignore]`d, so
//! `cargo test` skips them): 10,000 concurrent connections through one
//! sl_selector + sl_conn echo loop under a signal storm, with every byte
//! verified by a client process that does its own bookkeeping on raw poll(2);
//! and long signal storms over large transfers.
//!
//! `SL_STRESS_SECONDS` sets how long the traffic runs (default 60);
//! `SL_STRESS_CONNECTIONS` the number of connections (default 10,000).

mod common;

use std::collections::{HashMap, VecDeque};
use std::os::fd::AsRawFd;
use std::os::raw::c_void;
use std::process::Command;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::conn::*;
use sockloop::ffi::frame::*;
use sockloop::ffi::io::*;
use sockloop::ffi::net::*;
use sockloop::ffi::selector::*;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn raise_nofile_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_max;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

// ------------------------------------------------------------ signal storm

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// SIGALRM every 100 µs to `target` (no SA_RESTART) until `stop`.
fn storm(target: libc::pthread_t, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &action, null_mut()), 0);
    }
    let target = target as usize;
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            unsafe { libc::pthread_kill(target as libc::pthread_t, libc::SIGALRM) };
            thread::sleep(Duration::from_micros(100));
        }
    })
}

// ------------------------------------------------------------ the server

/// The echo server: one selector, one sl_conn per connection (owning its fd),
/// frames taken in place and queued back. Runs until every accepted
/// connection has ended and `stop` is set, or `limit` passes.
fn serve(listener: i32, stop: Arc<AtomicBool>, limit: Duration) -> (usize, u64) {
    let sel = sl_selector_new();
    assert!(!sel.is_null());
    assert_eq!(unsafe { sl_selector_register(sel, listener, SL_READ, null_mut()) }, 0);
    let mut conns: HashMap<i32, *mut sl_conn> = HashMap::new();
    let mut events: Vec<sl_event> = (0..1024).map(|_| sl_event { fd: -1, events: 0, data: null_mut() }).collect();
    let (mut accepted, mut frames) = (0usize, 0u64);
    let start = Instant::now();
    while start.elapsed() < limit && !(stop.load(Ordering::Relaxed) && conns.is_empty()) {
        let n = unsafe { sl_selector_select(sel, events.as_mut_ptr(), events.len(), 100) };
        assert!(n >= 0, "sl_selector_select errno {}", errno());
        for ev in &events[..n as usize] {
            if ev.fd == listener {
                loop {
                    let fd = unsafe { sl_accept(listener, SL_ACCEPT_NONBLOCK, 0, null_mut(), 0) };
                    if fd < 0 {
                        assert_eq!(errno(), libc::EAGAIN, "accept");
                        break;
                    }
                    let c = sl_conn_new(fd, 1 << 16, SL_CONN_OWN_FD);
                    assert!(!c.is_null());
                    assert_eq!(unsafe { sl_selector_register(sel, fd, SL_READ, c.cast::<c_void>()) }, 0);
                    conns.insert(fd, c);
                    accepted += 1;
                }
                continue;
            }
            let c = ev.data.cast::<sl_conn>();
            let mut closed = false;
            if ev.events & SL_READ != 0 {
                let got = unsafe { sl_conn_fill(c) };
                let (mut p, mut len) = (std::ptr::null(), 0);
                while unsafe { sl_conn_next_frame(c, &mut p, &mut len) } == 1 {
                    assert!(unsafe { sl_conn_queue_frame(c, p, len) } > 0);
                    frames += 1;
                }
                closed = got == 0 || (got < 0 && errno() != libc::EAGAIN);
            }
            let pending = unsafe { sl_conn_flush(c) };
            closed |= pending < 0;
            if closed {
                assert_eq!(unsafe { sl_selector_unregister(sel, ev.fd) }, 0);
                conns.remove(&ev.fd);
                unsafe { sl_conn_free(c) };
                continue;
            }
            let want = if pending > 0 { SL_READ | SL_WRITE } else { SL_READ };
            assert_eq!(unsafe { sl_selector_modify(sel, ev.fd, want, c.cast::<c_void>()) }, 0);
        }
    }
    for (_, c) in conns.drain() {
        unsafe { sl_conn_free(c) };
    }
    unsafe { sl_selector_free(sel) };
    (accepted, frames)
}

// ------------------------------------------------------------ the far ends

/// One client connection's bookkeeping: what was sent and not yet echoed.
struct Far {
    fd: i32,
    unsent: Vec<u8>,
    awaiting: VecDeque<u8>,
    verified: u64,
    rng: Rng,
}

const IN_FLIGHT: usize = 4096;

/// The client process: `connections` sockets, each sending random frames and
/// checking that the echo is byte-for-byte what it sent, for `seconds`; then
/// it waits for every echo and closes. Exits non-zero on any mismatch.
fn far_ends(port: i32, connections: usize, seconds: u64, seed: u64) {
    raise_nofile_limit();
    let mut fars: Vec<Far> = (0..connections)
        .map(|i| {
            let fd = unsafe { sl_tcp_connect(c"127.0.0.1".as_ptr(), port, 30_000) };
            assert!(fd >= 0, "connect {i}: errno {}", errno());
            set_nonblocking(fd);
            Far {
                fd,
                unsent: Vec::new(),
                awaiting: VecDeque::new(),
                verified: 0,
                rng: Rng(seed ^ ((i as u64 + 1) * 0x9e37_79b9)),
            }
        })
        .collect();
    eprintln!("stress client: {connections} connections open");
    let start = Instant::now();
    let sending = Duration::from_secs(seconds);
    let mut buf = vec![0u8; 65536];
    loop {
        let producing = start.elapsed() < sending;
        if !producing && fars.iter().all(|f| f.awaiting.is_empty() && f.unsent.is_empty()) {
            break;
        }
        assert!(start.elapsed() < sending + Duration::from_secs(60), "echoes still missing 60 s after the end");
        for f in fars.iter_mut() {
            if producing && f.unsent.is_empty() && f.awaiting.len() < IN_FLIGHT {
                let len = f.rng.below(1000);
                f.unsent.extend_from_slice(&(len as u32).to_be_bytes());
                let payload = f.rng.bytes(len);
                f.unsent.extend_from_slice(&payload);
                f.awaiting.extend(f.unsent.iter().copied());
            }
        }
        let mut pfds: Vec<libc::pollfd> = fars
            .iter()
            .map(|f| libc::pollfd {
                fd: f.fd,
                events: libc::POLLIN | if f.unsent.is_empty() { 0 } else { libc::POLLOUT },
                revents: 0,
            })
            .collect();
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 100) };
        assert!(n >= 0 || errno() == libc::EINTR);
        for (f, p) in fars.iter_mut().zip(&pfds) {
            if p.revents & libc::POLLOUT != 0 {
                let w = unsafe { libc::send(f.fd, f.unsent.as_ptr().cast(), f.unsent.len(), libc::MSG_NOSIGNAL) };
                assert!(w >= 0 || errno() == libc::EAGAIN, "send errno {}", errno());
                if w > 0 {
                    f.unsent.drain(..w as usize);
                }
            }
            if p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                let r = unsafe { libc::recv(f.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
                assert!(
                    r > 0 || (r < 0 && errno() == libc::EAGAIN),
                    "fd {}: server closed or failed: {r} errno {}",
                    f.fd,
                    errno()
                );
                for &b in &buf[..r.max(0) as usize] {
                    let want = f.awaiting.pop_front().expect("an echo of bytes never sent");
                    assert_eq!(b, want, "echo differs on fd {} after {} bytes (seed {seed})", f.fd, f.verified);
                    f.verified += 1;
                }
            }
        }
    }
    let total: u64 = fars.iter().map(|f| f.verified).sum();
    assert!(fars.iter().all(|f| f.verified > 0), "a connection never got an echo");
    for f in &fars {
        unsafe { libc::close(f.fd) };
    }
    println!("stress client: {connections} connections, {total} bytes echoed and verified in {:?}", start.elapsed());
}

/// The client side, run in its own process by the test below.
#[test]
#[ignore]
fn stress_child_far_ends() {
    let Ok(port) = std::env::var("SL_STRESS_PORT") else { return };
    far_ends(
        port.parse().unwrap(),
        env_or("SL_STRESS_CONNECTIONS", 10_000) as usize,
        env_or("SL_STRESS_SECONDS", 60),
        env_or("SL_STRESS_SEED", 1),
    );
}

#[test]
#[ignore]
fn ten_thousand_connections_through_selector_and_conn_every_byte_verified() {
    raise_nofile_limit();
    let connections = env_or("SL_STRESS_CONNECTIONS", 10_000);
    let seconds = env_or("SL_STRESS_SECONDS", 60);
    let seed = seed();
    let listener = unsafe { sl_tcp_listen(c"127.0.0.1".as_ptr(), 0, 4096) };
    assert!(listener >= 0);
    sockloop::ffi::sockopt::sl_set_nonblocking(listener, 1);
    let port = sl_local_port(listener);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["stress_child_far_ends", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SL_STRESS_PORT", port.to_string())
        .env("SL_STRESS_SEED", seed.to_string())
        .env("SL_STRESS_CONNECTIONS", connections.to_string())
        .env("SL_STRESS_SECONDS", seconds.to_string())
        .spawn()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let storm_stop = Arc::new(AtomicBool::new(false));
    let storm = storm(unsafe { libc::pthread_self() }, storm_stop.clone());
    let watcher = {
        let stop = stop.clone();
        thread::spawn(move || {
            let status = child.wait().unwrap();
            stop.store(true, Ordering::Relaxed);
            status
        })
    };
    let (accepted, frames) = serve(listener, stop, Duration::from_secs(seconds + 180));
    storm_stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    let status = watcher.join().unwrap();
    unsafe { libc::close(listener) };
    eprintln!(
        "stress server: {accepted} connections, {frames} frames echoed, {} signals",
        SIGNALS.load(Ordering::Relaxed)
    );
    assert!(status.success(), "the far ends failed (seed {seed})");
    assert_eq!(accepted as u64, connections);
    assert!(SIGNALS.load(Ordering::Relaxed) > 1000, "the storm did not run");
}

#[test]
#[ignore]
fn long_signal_storm_over_large_transfers_and_frames() {
    let seconds = env_or("SL_STRESS_SECONDS", 60);
    let data = Arc::new(Rng(seed()).bytes(64 << 20));
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        let (a, b) = tcp_pair();
        set_buffer_sizes(&a, 65536);
        set_buffer_sizes(&b, 65536);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = {
            let data = data.clone();
            thread::spawn(move || {
                tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
                let len = data.len() as isize;
                assert_eq!(
                    unsafe { sl_send_all(a.as_raw_fd(), data.as_ptr().cast(), data.len(), -1, null_mut()) },
                    len
                );
                assert_eq!(
                    unsafe { sl_send_frame(a.as_raw_fd(), data.as_ptr().cast(), data.len(), 60_000, null_mut()) },
                    len
                );
            })
        };
        let storms = [
            storm(unsafe { libc::pthread_self() }, stop.clone()),
            storm(rx.recv().unwrap() as libc::pthread_t, stop.clone()),
        ];
        let mut got = vec![0u8; data.len()];
        let rc = unsafe { sl_recv_exact(b.as_raw_fd(), got.as_mut_ptr().cast(), got.len(), 60_000, null_mut()) };
        assert_eq!(rc, got.len() as isize, "errno {}", errno());
        assert!(got == *data);
        got.fill(0);
        let rc = unsafe { sl_recv_frame(b.as_raw_fd(), got.as_mut_ptr().cast(), got.len(), -1, null_mut()) };
        assert_eq!(rc, got.len() as isize, "errno {}", errno());
        assert!(got == *data);
        sender.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        for s in storms {
            s.join().unwrap();
        }
        rounds += 1;
    }
    eprintln!("long storm: {rounds} rounds of 2 x 64 MiB, {} signals", SIGNALS.load(Ordering::Relaxed));
    assert!(SIGNALS.load(Ordering::Relaxed) > 10_000);
}

//! sl_selector through the C ABI: registration errors, events and data,
//! masking, fairness, fd 5000, 10,000 idle connections, EINTR storms. Run once
//! per backend (epoll by default, poll with `--features poll-backend`).

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::c_void;
use std::os::unix::net::UnixStream;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::selector::*;

/// An owned selector, freed on drop.
struct Sel(*mut sl_selector);

impl Sel {
    fn new() -> Sel {
        let p = sl_selector_new();
        assert!(!p.is_null(), "sl_selector_new: errno {}", errno());
        Sel(p)
    }
    fn register(&self, fd: RawFd, events: i32, data: usize) -> (i32, i32) {
        res(unsafe { sl_selector_register(self.0, fd, events, data as *mut c_void) })
    }
    fn modify(&self, fd: RawFd, events: i32, data: usize) -> (i32, i32) {
        res(unsafe { sl_selector_modify(self.0, fd, events, data as *mut c_void) })
    }
    fn unregister(&self, fd: RawFd) -> (i32, i32) {
        res(unsafe { sl_selector_unregister(self.0, fd) })
    }
    fn get(&self, fd: RawFd) -> Result<(i32, usize), i32> {
        let (mut events, mut data) = (-1, ptr::null_mut());
        match unsafe { sl_selector_get(self.0, fd, &mut events, &mut data) } {
            0 => Ok((events, data as usize)),
            _ => Err(errno()),
        }
    }
    /// `(fd, events, data)` of each event, or the errno.
    fn select(&self, capacity: usize, timeout_ms: i32) -> Result<Vec<(RawFd, i32, usize)>, i32> {
        let mut out: Vec<sl_event> =
            (0..capacity).map(|_| sl_event { fd: -9, events: -9, data: ptr::null_mut() }).collect();
        let n = unsafe { sl_selector_select(self.0, out.as_mut_ptr(), capacity, timeout_ms) };
        if n < 0 {
            return Err(errno());
        }
        assert!(n as usize <= capacity);
        Ok(out[..n as usize].iter().map(|e| (e.fd, e.events, e.data as usize)).collect())
    }
}

impl Drop for Sel {
    fn drop(&mut self) {
        unsafe { sl_selector_free(self.0) };
    }
}

fn res(rc: i32) -> (i32, i32) {
    (rc, if rc < 0 { errno() } else { 0 })
}

fn send_byte(fd: &OwnedFd) {
    (&UnixStream::from(fd.try_clone().unwrap())).write_all(b"x").unwrap();
}

fn closed_fd() -> RawFd {
    let (r, _w) = pipe();
    r.as_raw_fd()
}

#[test]
fn the_backend_is_the_one_the_build_asked_for() {
    let expected = if cfg!(feature = "poll-backend") { "poll" } else { "epoll" };
    assert_eq!(sockloop::selector::BACKEND, expected);
}

#[test]
fn register_modify_unregister_error_codes() {
    let sel = Sel::new();
    let (a, _b) = socketpair();
    let fd = a.as_raw_fd();
    assert_eq!(sel.register(fd, 0, 1), (-1, libc::EINVAL), "empty mask");
    assert_eq!(sel.register(fd, 4, 1), (-1, libc::EINVAL), "unknown bit");
    assert_eq!(sel.register(fd, SL_READ | 8, 1), (-1, libc::EINVAL), "unknown bit with a known one");
    assert_eq!(sel.register(fd, -1, 1), (-1, libc::EINVAL));
    assert_eq!(sel.register(-1, SL_READ, 1), (-1, libc::EINVAL), "negative fd");
    assert_eq!(sel.register(closed_fd(), SL_READ, 1), (-1, libc::EBADF), "closed fd");
    assert_eq!(sel.get(fd), Err(libc::ENOENT), "failed registers left nothing behind");
    assert_eq!(sel.modify(fd, SL_READ, 1), (-1, libc::ENOENT));
    assert_eq!(sel.unregister(fd), (-1, libc::ENOENT));

    assert_eq!(sel.register(fd, SL_READ, 0xd1), (0, 0));
    assert_eq!(sel.register(fd, SL_WRITE, 0xd2), (-1, libc::EEXIST));
    assert_eq!(sel.get(fd), Ok((SL_READ, 0xd1)), "EEXIST changed nothing");
    assert_eq!(sel.modify(fd, 0, 1), (-1, libc::EINVAL));
    assert_eq!(sel.modify(fd, 5, 1), (-1, libc::EINVAL));
    assert_eq!(sel.modify(-3, SL_READ, 1), (-1, libc::EINVAL));
    assert_eq!(sel.get(fd), Ok((SL_READ, 0xd1)), "EINVAL changed nothing");
    assert_eq!(sel.modify(fd, SL_READ | SL_WRITE, 0xd3), (0, 0));
    assert_eq!(sel.get(fd), Ok((SL_READ | SL_WRITE, 0xd3)));
    assert_eq!(sel.unregister(-1), (-1, libc::EINVAL));
    assert_eq!(sel.unregister(fd), (0, 0));
    assert_eq!(sel.unregister(fd), (-1, libc::ENOENT));
    assert_eq!(sel.get(fd), Err(libc::ENOENT));
    assert_eq!(sel.register(fd, SL_WRITE, 0xd4), (0, 0), "register again after unregister");
    assert_eq!(sel.get(fd), Ok((SL_WRITE, 0xd4)));

    // A regular file: epoll refuses it (EPERM); poll accepts it (always ready).
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let expected = if sockloop::selector::BACKEND == "epoll" { (-1, libc::EPERM) } else { (0, 0) };
    assert_eq!(sel.register(file.as_raw_fd(), SL_READ, 0), expected);
}

#[test]
fn null_selector_and_bad_select_arguments() {
    let null: *mut sl_selector = ptr::null_mut();
    unsafe {
        sl_selector_free(null); // a no-op
        assert_eq!(res(sl_selector_register(null, 0, SL_READ, ptr::null_mut())), (-1, libc::EINVAL));
        assert_eq!(res(sl_selector_modify(null, 0, SL_READ, ptr::null_mut())), (-1, libc::EINVAL));
        assert_eq!(res(sl_selector_unregister(null, 0)), (-1, libc::EINVAL));
        assert_eq!(res(sl_selector_get(null, 0, ptr::null_mut(), ptr::null_mut())), (-1, libc::EINVAL));
        let mut ev = sl_event { fd: 0, events: 0, data: ptr::null_mut() };
        assert_eq!(res(sl_selector_select(null, &mut ev, 1, 0)), (-1, libc::EINVAL));
        let sel = Sel::new();
        assert_eq!(res(sl_selector_select(sel.0, ptr::null_mut(), 1, 0)), (-1, libc::EINVAL));
        assert_eq!(res(sl_selector_select(sel.0, &mut ev, 0, 0)), (-1, libc::EINVAL));
        assert_eq!(res(sl_selector_select(sel.0, &mut ev, 1, -2)), (-1, libc::EINVAL));
        // get with NULL out-params is a membership test.
        let (a, _b) = socketpair();
        assert_eq!(sel.register(a.as_raw_fd(), SL_READ, 0), (0, 0));
        assert_eq!(res(sl_selector_get(sel.0, a.as_raw_fd(), ptr::null_mut(), ptr::null_mut())), (0, 0));
    }
}

#[test]
fn events_carry_fd_events_and_data() {
    let sel = Sel::new();
    let (a, b) = socketpair();
    let (c, _d) = socketpair();
    assert_eq!(sel.register(a.as_raw_fd(), SL_READ, 0xa), (0, 0));
    assert_eq!(sel.register(c.as_raw_fd(), SL_READ, 0xc), (0, 0));
    assert_eq!(sel.select(8, 0), Ok(vec![]), "nothing ready");
    send_byte(&b);
    assert_eq!(sel.select(8, 1000), Ok(vec![(a.as_raw_fd(), SL_READ, 0xa)]));
    assert_eq!(sel.select(8, 1000), Ok(vec![(a.as_raw_fd(), SL_READ, 0xa)]), "level-triggered");
    // Writable is masked out until asked for; then both are reported.
    assert_eq!(sel.modify(a.as_raw_fd(), SL_READ | SL_WRITE, 0xaa), (0, 0));
    assert_eq!(sel.select(8, 1000), Ok(vec![(a.as_raw_fd(), SL_READ | SL_WRITE, 0xaa)]));
    // Only the data changes: no new events.
    assert_eq!(sel.modify(a.as_raw_fd(), SL_READ | SL_WRITE, 0xab), (0, 0));
    assert_eq!(sel.select(8, 1000), Ok(vec![(a.as_raw_fd(), SL_READ | SL_WRITE, 0xab)]));
    assert_eq!(sel.modify(a.as_raw_fd(), SL_WRITE, 0xac), (0, 0));
    assert_eq!(sel.select(8, 1000), Ok(vec![(a.as_raw_fd(), SL_WRITE, 0xac)]));
    assert_eq!(sel.unregister(a.as_raw_fd()), (0, 0));
    assert_eq!(sel.select(8, 0), Ok(vec![]), "unregistered fds are not reported");
}

#[test]
fn hang_up_is_both_events_masked_by_the_registration() {
    let sel = Sel::new();
    let (a, b) = socketpair();
    let (c, d) = socketpair();
    let (e, f) = socketpair();
    assert_eq!(sel.register(a.as_raw_fd(), SL_READ, 1), (0, 0));
    assert_eq!(sel.register(c.as_raw_fd(), SL_WRITE, 2), (0, 0));
    assert_eq!(sel.register(e.as_raw_fd(), SL_READ | SL_WRITE, 3), (0, 0));
    // c is writable now; fill it so only the hang-up can make it ready.
    set_nonblocking(c.as_raw_fd());
    let chunk = [0u8; 65536];
    while unsafe { libc::send(c.as_raw_fd(), chunk.as_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT) } > 0 {}
    fill_until_not_writable(e.as_raw_fd());
    assert_eq!(sel.select(8, 0), Ok(vec![]));
    drop((b, d, f));
    let mut got = sel.select(8, 1000).unwrap();
    got.sort();
    let mut want =
        vec![(a.as_raw_fd(), SL_READ, 1), (c.as_raw_fd(), SL_WRITE, 2), (e.as_raw_fd(), SL_READ | SL_WRITE, 3)];
    want.sort();
    assert_eq!(got, want);
}

fn fill_until_not_writable(fd: RawFd) {
    set_nonblocking(fd);
    let chunk = [0u8; 65536];
    while unsafe { libc::send(fd, chunk.as_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT) } > 0 {}
    assert_eq!(errno(), libc::EAGAIN);
}

#[test]
fn more_ready_than_capacity_starves_no_fd() {
    const N: usize = 8;
    const CAP: usize = 3;
    let sel = Sel::new();
    let pairs: Vec<_> = (0..N).map(|_| socketpair()).collect();
    for (i, (a, b)) in pairs.iter().enumerate() {
        assert_eq!(sel.register(a.as_raw_fd(), SL_READ, i), (0, 0));
        send_byte(b); // never read: stays ready
    }
    let mut seen = vec![0usize; N];
    let mut first_round = std::collections::BTreeSet::new();
    for call in 0..N {
        let events = sel.select(CAP, 1000).unwrap();
        assert_eq!(events.len(), CAP, "call {call}");
        for (fd, ev, data) in events {
            assert_eq!((fd, ev), (pairs[data].0.as_raw_fd(), SL_READ));
            seen[data] += 1;
            if call < N.div_ceil(CAP) {
                first_round.insert(data);
            }
        }
    }
    assert_eq!(first_round.len(), N, "every ready fd within ceil(N/capacity) calls");
    assert_eq!(seen, vec![N * CAP / N; N], "round-robin: each fd equally often");
}

#[test]
fn fd_5000_works_in_every_function() {
    let (a, b) = socketpair();
    assert_eq!(unsafe { libc::fcntl(5000, libc::F_GETFD) }, -1, "fd 5000 is free");
    assert_eq!(unsafe { libc::dup2(a.as_raw_fd(), 5000) }, 5000);
    let high = unsafe { OwnedFd::from_raw_fd(5000) };
    let sel = Sel::new();
    assert_eq!(sel.register(5000, SL_READ, 50), (0, 0));
    assert_eq!(sel.register(5000, SL_READ, 50), (-1, libc::EEXIST));
    assert_eq!(sel.select(4, 0), Ok(vec![]));
    send_byte(&b);
    assert_eq!(sel.select(4, 1000), Ok(vec![(5000, SL_READ, 50)]));
    assert_eq!(sel.modify(5000, SL_WRITE, 51), (0, 0));
    assert_eq!(sel.get(5000), Ok((SL_WRITE, 51)));
    assert_eq!(sel.select(4, 1000), Ok(vec![(5000, SL_WRITE, 51)]));
    assert_eq!(sel.unregister(5000), (0, 0));
    drop(high);
}

#[test]
fn closed_while_registered_can_still_be_unregistered() {
    let sel = Sel::new();
    let (a, _b) = socketpair();
    let fd = a.as_raw_fd();
    assert_eq!(sel.register(fd, SL_READ, 7), (0, 0));
    drop(a);
    assert_eq!(sel.get(fd), Ok((SL_READ, 7)), "the entry stays until unregister");
    assert_eq!(sel.unregister(fd), (0, 0));
    // The number is reused by the next fd: it registers as new.
    let (c, d) = socketpair();
    assert_eq!(sel.register(c.as_raw_fd(), SL_READ, 8), (0, 0));
    send_byte(&d);
    assert_eq!(sel.select(4, 1000), Ok(vec![(c.as_raw_fd(), SL_READ, 8)]));
}

#[test]
fn timeouts_and_an_empty_selector() {
    let sel = Sel::new();
    let start = Instant::now();
    assert_eq!(sel.select(4, 40), Ok(vec![]), "nothing registered: waits out the timeout");
    assert!(start.elapsed() >= Duration::from_millis(40), "{:?}", start.elapsed());
    let (a, _b) = socketpair();
    assert_eq!(sel.register(a.as_raw_fd(), SL_READ, 0), (0, 0));
    for ms in [1, 2, 25] {
        let start = Instant::now();
        assert_eq!(sel.select(4, ms), Ok(vec![]));
        assert!(start.elapsed() >= Duration::from_millis(ms as u64), "{ms} ms: {:?}", start.elapsed());
    }
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn signal_storm_never_ends_a_select_early() {
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0; // no SA_RESTART: epoll_wait/poll fail with EINTR
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &action, ptr::null_mut()), 0);
    }
    let me = unsafe { libc::pthread_self() };
    let stop = Arc::new(AtomicBool::new(false));
    let storm = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                unsafe { libc::pthread_kill(me, libc::SIGALRM) };
                thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let sel = Sel::new();
    let (a, b) = socketpair();
    let empty = Sel::new();
    let start = Instant::now();
    let r1 = empty.select(4, 100);
    let t1 = start.elapsed();
    assert_eq!(sel.register(a.as_raw_fd(), SL_READ, 9), (0, 0));
    let start = Instant::now();
    let r2 = sel.select(4, 150);
    let t2 = start.elapsed();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        send_byte(&b);
        b
    });
    let r3 = sel.select(4, 5000);
    stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    drop(writer.join().unwrap());
    assert!(SIGNALS.load(Ordering::Relaxed) > 10, "the storm did not happen");
    assert_eq!(r1, Ok(vec![]));
    assert!(t1 >= Duration::from_millis(100), "{t1:?}");
    assert_eq!(r2, Ok(vec![]));
    assert!(t2 >= Duration::from_millis(150), "{t2:?}");
    assert_eq!(r3, Ok(vec![(a.as_raw_fd(), SL_READ, 9)]));
}

/// Holds the far ends of `n` TCP connections in a forked child, so that this
/// process spends one fd per connection. The child keeps them until the
/// returned pipe end is dropped, then exits.
fn far_ends_in_a_child(listener: &TcpListener, n: usize) -> (OwnedFd, libc::pid_t) {
    let (control_r, control_w) = pipe();
    let (lfd, cfd) = (listener.as_raw_fd(), control_r.as_raw_fd());
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    let max_fd = limit.rlim_cur.min(1 << 20) as RawFd;
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // Child of a multi-threaded process: system calls only, no allocation.
        // Other tests' fds are closed so that their peers still see hang-ups.
        unsafe {
            for fd in 3..max_fd {
                if fd != lfd && fd != cfd {
                    libc::close(fd);
                }
            }
            let mut accepted = 0;
            while accepted < n {
                if libc::accept(lfd, ptr::null_mut(), ptr::null_mut()) >= 0 {
                    accepted += 1;
                } else if *libc::__errno_location() != libc::EINTR {
                    libc::_exit(2);
                }
            }
            let mut byte = 0u8;
            while libc::read(cfd, (&mut byte as *mut u8).cast(), 1) != 0 {}
            libc::_exit(0);
        }
    }
    drop(control_r);
    (control_w, pid)
}

#[test]
fn ten_thousand_idle_connections_and_one_active() {
    const IDLE: usize = 10_000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // std listens with a backlog of 128: a burst of connects overflows it and
    // each dropped SYN costs a 1 s retransmit. Linux lets listen() raise it.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 4096) }, 0);
    let (control, child) = far_ends_in_a_child(&listener, IDLE);
    drop(listener);
    let sel = Sel::new();
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let s = TcpStream::connect(addr).unwrap();
        assert_eq!(sel.register(s.as_raw_fd(), SL_READ, i), (0, 0));
        idle.push(s);
    }
    let (active, peer) = socketpair();
    assert_eq!(sel.register(active.as_raw_fd(), SL_READ, IDLE), (0, 0));
    assert_eq!(sel.select(64, 0), Ok(vec![]), "all idle");
    send_byte(&peer);
    for _ in 0..3 {
        assert_eq!(sel.select(64, 1000), Ok(vec![(active.as_raw_fd(), SL_READ, IDLE)]));
    }
    // Every idle fd is really registered: unregistering each succeeds.
    for s in &idle {
        assert_eq!(sel.unregister(s.as_raw_fd()), (0, 0));
    }
    drop(idle);
    drop(control);
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
}

/// CPU time (user + system) the calling thread has used.
fn cpu_time() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(us(ru.ru_utime) + us(ru.ru_stime))
}

/// A registered fd closed while a dup of its file stays open and readable,
/// then unregistered: the stale-watch state (with epoll the kernel keeps
/// watching that file under the old number). Returns the fd number and the
/// dup that keeps the file alive, with a byte to read waiting on it.
fn stale_watch(sel: &Sel) -> (RawFd, OwnedFd, OwnedFd) {
    let (x, peer) = socketpair();
    let dup = x.try_clone().unwrap();
    let fd = x.as_raw_fd();
    assert_eq!(sel.register(fd, SL_READ, 0x5a1e), (0, 0));
    send_byte(&peer); // the old file is readable, forever
    drop(x);
    assert_eq!(sel.unregister(fd), (0, 0));
    (fd, dup, peer)
}

#[test]
fn a_stale_watch_never_hides_a_ready_fd() {
    let sel = Sel::new();
    let (live, live_peer) = socketpair();
    assert_eq!(sel.register(live.as_raw_fd(), SL_READ, 7), (0, 0));
    let _stale = stale_watch(&sel);
    send_byte(&live_peer);
    let want = Ok(vec![(live.as_raw_fd(), SL_READ, 7)]);
    for round in 0..50 {
        assert_eq!(sel.select(16, 0), want, "timeout 0, round {round}");
        assert_eq!(sel.select(16, 10), want, "timeout 10, round {round}");
        assert_eq!(sel.select(1, 0), want, "capacity 1, round {round}");
    }
    // Drained: nothing but the stale file is ready, and that is never reported.
    let mut byte = [0u8; 1];
    assert_eq!(unsafe { libc::read(live.as_raw_fd(), byte.as_mut_ptr().cast(), 1) }, 1);
    assert_eq!(sel.select(16, 0), Ok(vec![]));
    // Timeout -1 with a later event.
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        send_byte(&live_peer);
        live_peer
    });
    assert_eq!(sel.select(16, -1), want);
    drop(writer.join());
}

#[test]
fn a_stale_watch_is_never_reported_as_a_new_registration() {
    let sel = Sel::new();
    let (x, peer) = socketpair();
    let _keep = x.try_clone().unwrap(); // the old file stays open
    let fd = x.as_raw_fd();
    assert_eq!(sel.register(fd, SL_READ, 0x5a1e), (0, 0));
    // The old file readable, forever.
    send_byte(&peer);
    // The number closes and names a new idle socket in one step (dup2), so
    // that no other test thread can take it in between; its own registration
    // must not inherit the old file's readiness.
    let (fresh, fresh_peer) = socketpair();
    assert_eq!(unsafe { libc::dup2(fresh.as_raw_fd(), fd) }, fd);
    assert_eq!(sel.unregister(fd), (0, 0));
    assert_eq!(sel.register(fd, SL_READ, 0xf2e5), (0, 0));
    for timeout in [0, 10, 0, 50] {
        assert_eq!(sel.select(8, timeout), Ok(vec![]), "a new idle socket is never reported ready");
    }
    send_byte(&fresh_peer);
    assert_eq!(sel.select(8, 1000), Ok(vec![(fd, SL_READ, 0xf2e5)]));
    assert_eq!(sel.unregister(fd), (0, 0));
    drop(x); // closes the number, now the fresh socket's second fd
}

#[test]
fn a_stale_watch_never_makes_select_spin() {
    let sel = Sel::new();
    let _stale = stale_watch(&sel);
    let (idle, _idle_peer) = socketpair();
    assert_eq!(sel.register(idle.as_raw_fd(), SL_READ, 1), (0, 0));
    let (cpu, wall) = (cpu_time(), Instant::now());
    assert_eq!(sel.select(8, 1000), Ok(vec![]));
    let (cpu, wall) = (cpu_time() - cpu, wall.elapsed());
    assert!(wall >= Duration::from_millis(1000), "waited its whole timeout: {wall:?}");
    assert!(cpu < Duration::from_millis(10), "a 1 s select burned {cpu:?} of CPU");
}

#[test]
fn the_rebuild_keeps_every_live_registration() {
    const N: usize = 300;
    let sel = Sel::new();
    let pairs: Vec<(OwnedFd, OwnedFd)> = (0..N).map(|_| socketpair()).collect();
    for (i, (a, _)) in pairs.iter().enumerate() {
        let events = if i % 3 == 0 { SL_READ | SL_WRITE } else { SL_READ };
        assert_eq!(sel.register(a.as_raw_fd(), events, 1000 + i), (0, 0));
    }
    let _stale = stale_watch(&sel);
    // Every third is writable: those are reported, with their data, the
    // stale one never; the rebuild happens in the first select.
    let mut got: Vec<_> = sel.select(N + 8, 1000).unwrap();
    got.sort();
    let want: Vec<_> = (0..N).step_by(3).map(|i| (pairs[i].0.as_raw_fd(), SL_WRITE, 1000 + i)).collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    // Reads still come through for every registration after the rebuild.
    for (i, (a, b)) in pairs.iter().enumerate() {
        send_byte(b);
        let events = if i % 3 == 0 { SL_READ | SL_WRITE } else { SL_READ };
        let got = sel.select(N + 8, 1000).unwrap();
        assert!(got.contains(&(a.as_raw_fd(), events, 1000 + i)), "registration {i} after the rebuild: {got:?}");
        let mut byte = [0u8; 1];
        assert_eq!(unsafe { libc::read(a.as_raw_fd(), byte.as_mut_ptr().cast(), 1) }, 1);
    }
}

/// Not a timing assertion: prints what one rebuild costs at 10,000
/// registrations (the header quotes it).
#[test]
fn rebuild_cost_at_ten_thousand_registrations() {
    raise_nofile_limit(12_000);
    let sel = Sel::new();
    let pairs: Vec<(OwnedFd, OwnedFd)> = (0..5_000).map(|_| socketpair()).collect();
    for (i, fd) in pairs.iter().flat_map(|(a, b)| [a, b]).enumerate() {
        assert_eq!(sel.register(fd.as_raw_fd(), SL_READ, i), (0, 0));
    }
    let _stale = stale_watch(&sel);
    let start = Instant::now();
    assert_eq!(sel.select(64, 0), Ok(vec![]));
    let first = start.elapsed();
    let start = Instant::now();
    assert_eq!(sel.select(64, 0), Ok(vec![]));
    println!("select with a stale watch at 10,000 registrations: {first:?} (rebuild), then {:?}", start.elapsed());
}

//! Non-blocking connects for event loops (sl_tcp_connect_start,
//! sl_unix_connect_start, sl_connect_finish) and Happy Eyeballs in
//! sl_tcp_connect, over loopback.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::net::*;
use sockloop::ffi::selector::*;
use sockloop::ffi::unix::*;

fn start(host: &str, port: u16) -> Result<OwnedFd, i32> {
    owned(unsafe { sl_tcp_connect_start(c(host).as_ptr(), port as i32) })
}

fn finish(fd: RawFd, timeout_ms: i32) -> Result<(), i32> {
    if sl_connect_finish(fd, timeout_ms) == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A listener whose accept queue is full, so that further SYNs are dropped
/// and connects stay in progress; `None` (with a message) where the kernel
/// does not drop them.
fn full_backlog_listener() -> Option<(socket2::Socket, u16, Vec<socket2::Socket>)> {
    full_backlog_listener_on("127.0.0.1:0".parse().unwrap())
}

fn full_backlog_listener_on(at: std::net::SocketAddr) -> Option<(socket2::Socket, u16, Vec<socket2::Socket>)> {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::for_address(at), Type::STREAM, None).unwrap();
    listener.bind(&at.into()).ok()?;
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        let s = Socket::new(Domain::for_address(at), Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr);
        let mut pfd = libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        let completed = unsafe { libc::poll(&mut pfd, 1, 300) } == 1;
        queued.push(s);
        if !completed {
            return Some((listener, addr.as_socket().unwrap().port(), queued));
        }
    }
    eprintln!("SKIP: could not fill a listen backlog (SYNs are not dropped here)");
    None
}

#[test]
fn a_started_connect_finishes_when_writable_and_talks() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = start("127.0.0.1", listener.local_addr().unwrap().port()).unwrap();
    let flags = fd_flags(fd.as_raw_fd());
    assert!(flags & libc::O_NONBLOCK != 0, "the fd is non-blocking");
    assert!(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC != 0);
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 2000) }, 1);
    assert_eq!(finish(fd.as_raw_fd(), 0), Ok(()));
    assert_eq!(finish(fd.as_raw_fd(), 0), Ok(()), "finishing twice is harmless");
    let (mut server, _) = listener.accept().unwrap();
    let mut client = TcpStream::from(fd);
    client.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

#[test]
fn a_refused_connect_reports_econnrefused_from_start_or_finish() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    match start("127.0.0.1", closed_port()) {
        Err(e) => assert_eq!(e, libc::ECONNREFUSED),
        Ok(fd) => {
            assert_eq!(finish(fd.as_raw_fd(), 2000), Err(libc::ECONNREFUSED));
            assert_eq!(finish(fd.as_raw_fd(), 0), Err(libc::ENOTCONN), "the error is reported once");
        }
    }
}

#[test]
fn finishing_what_was_never_started_or_cannot_connect_fails_at_once() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let never = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (r, _w) = pipe();
    for timeout in [0, 200, -1] {
        let t = Instant::now();
        assert_eq!(finish(never.as_raw_fd(), timeout), Err(libc::ENOTCONN));
        assert_eq!(finish(listener.as_raw_fd(), timeout), Err(libc::EINVAL));
        assert_eq!(finish(r.as_raw_fd(), timeout), Err(libc::ENOTSOCK));
        assert!(t.elapsed() < Duration::from_millis(100), "timeout {timeout}: {:?}", t.elapsed());
    }
    assert_eq!(finish(-1, 0), Err(libc::EINVAL));
    assert_eq!(finish(never.as_raw_fd(), -2), Err(libc::EINVAL));
}

#[test]
fn a_connect_still_in_progress_is_eagain_then_etimedout() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_listener, port, _queued)) = full_backlog_listener() else { return };
    let fd = start("127.0.0.1", port).unwrap();
    assert_eq!(finish(fd.as_raw_fd(), 0), Err(libc::EAGAIN));
    let t = Instant::now();
    assert_eq!(finish(fd.as_raw_fd(), 150), Err(libc::ETIMEDOUT));
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(150) && took < Duration::from_millis(2000), "{took:?}");
}

/// The acceptance test: 1,000 connects started at once to a listener whose
/// backlog is full finish (the few that get in) or time out inside one
/// selector loop in about one timeout: not 1,000 timeouts one after another.
#[test]
fn a_thousand_started_connects_finish_or_time_out_in_one_selector_loop() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 1000;
    const TIMEOUT: Duration = Duration::from_millis(400);
    raise_nofile_limit(4096);
    let Some((listener, port, _queued)) = full_backlog_listener() else { return };
    let sel = sl_selector_new();
    assert!(!sel.is_null());
    let started = Instant::now();
    let mut fds = Vec::with_capacity(N);
    for i in 0..N {
        let fd = start("127.0.0.1", port).unwrap();
        assert_eq!(unsafe { sl_selector_register(sel, fd.as_raw_fd(), SL_WRITE, i as *mut _) }, 0);
        fds.push(Some(fd));
    }
    let start_time = started.elapsed();
    let deadline = started + TIMEOUT;
    let (mut connected, mut failed, mut open) = (0, 0, N);
    let mut events: Vec<sl_event> = (0..64).map(|_| sl_event { fd: -1, events: 0, data: null_mut() }).collect();
    while open > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let n = unsafe { sl_selector_select(sel, events.as_mut_ptr(), events.len(), left.as_millis() as i32 + 1) };
        assert!(n >= 0);
        for ev in &events[..n as usize] {
            let i = ev.data as usize;
            let fd = fds[i].take().expect("reported once");
            match finish(fd.as_raw_fd(), 0) {
                Ok(()) => connected += 1,
                Err(libc::EAGAIN) => {
                    fds[i] = Some(fd);
                    continue;
                }
                Err(_) => failed += 1,
            }
            assert_eq!(unsafe { sl_selector_unregister(sel, ev.fd) }, 0);
            open -= 1;
        }
    }
    let timed_out = fds.iter().filter(|f| f.is_some()).count();
    for fd in fds.iter().flatten() {
        assert_eq!(finish(fd.as_raw_fd(), 0), Err(libc::EAGAIN), "a connect left over is still in progress");
    }
    let took = started.elapsed();
    eprintln!("1,000 connects to a full backlog: started in {start_time:?}, {connected} connected, {failed} failed, {timed_out} timed out, all in {took:?}");
    assert_eq!(connected + failed + timed_out, N);
    assert!(timed_out > N / 2, "the backlog was full: most must still be in progress");
    assert!(took >= TIMEOUT, "{took:?}");
    assert!(took < TIMEOUT * 4, "1,000 connects took {took:?}, not about one timeout");
    unsafe { sl_selector_free(sel) };
    drop(listener);
}

#[test]
fn a_unix_connect_start_is_connected_at_once() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::env::temp_dir().join(format!("sockloop-connect-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let fd = owned(unsafe { sl_unix_connect_start(c(path.to_str().unwrap()).as_ptr()) }).unwrap();
    assert!(fd_flags(fd.as_raw_fd()) & libc::O_NONBLOCK != 0);
    assert_eq!(finish(fd.as_raw_fd(), 0), Ok(()));
    let (mut server, _) = listener.accept().unwrap();
    let mut client = UnixStream::from(fd);
    client.write_all(b"unix").unwrap();
    let mut got = [0u8; 4];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"unix");
    drop(listener);
    // Nothing listens any more: refused at once, no fd.
    assert_eq!(
        owned(unsafe { sl_unix_connect_start(c(path.to_str().unwrap()).as_ptr()) }).unwrap_err(),
        libc::ECONNREFUSED
    );
    std::fs::remove_file(&path).unwrap();
    assert_eq!(owned(unsafe { sl_unix_connect_start(c(path.to_str().unwrap()).as_ptr()) }).unwrap_err(), libc::ENOENT);
    assert_eq!(owned(unsafe { sl_unix_connect_start(std::ptr::null()) }).unwrap_err(), libc::EINVAL);
}

#[test]
fn a_unix_connect_start_to_a_full_backlog_is_eagain_without_an_fd() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::env::temp_dir().join(format!("sockloop-connect-full-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let name = c(path.to_str().unwrap());
    let mut held = Vec::new();
    let err = loop {
        match owned(unsafe { sl_unix_connect_start(name.as_ptr()) }) {
            Ok(fd) => held.push(fd),
            Err(e) => break e,
        }
        assert!(held.len() < 5000, "the backlog never filled");
    };
    assert_eq!(err, libc::EAGAIN);
    drop(listener);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_arguments_are_einval() {
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(owned(unsafe { sl_tcp_connect_start(std::ptr::null(), 80) }).unwrap_err(), libc::EINVAL);
    assert_eq!(start("", 80).unwrap_err(), libc::EINVAL);
    assert_eq!(owned(unsafe { sl_tcp_connect_start(c("127.0.0.1").as_ptr(), 0) }).unwrap_err(), libc::EINVAL);
    assert_eq!(owned(unsafe { sl_tcp_connect_start(c("127.0.0.1").as_ptr(), 65536) }).unwrap_err(), libc::EINVAL);
    assert_eq!(start("no-such-host.invalid", 80).unwrap_err(), libc::ENOENT);
}

// ---------------------------------------------------------------- Happy Eyeballs

/// The open fds of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Serializes the tests that count fds.
static FD_COUNT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// RFC 8305 on loopback: the first address (IPv6, `::1`) never answers, its
/// SYNs dropped by a full accept queue; the IPv4 attempt starts 250 ms later
/// and wins in about 250-300 ms, not after the 5 s budget, and the silent
/// attempt is closed. A listener whose queue is full stands in for a dead
/// route: no firewall tool is needed, and no traffic leaves loopback.
#[test]
fn happy_eyeballs_reaches_ipv4_250_ms_after_a_silent_ipv6_address() {
    use sockloop::deadline::Deadline;
    use sockloop::net::{connect_any, ATTEMPT_DELAY};
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_silent, port6, _queued)) = full_backlog_listener_on("[::1]:0".parse().unwrap()) else {
        eprintln!("SKIP: no ::1 here, or its backlog could not be filled");
        return;
    };
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent6: std::net::SocketAddr = format!("[::1]:{port6}").parse().unwrap();
    let open4 = open.local_addr().unwrap();
    // Either order in: IPv6 goes first.
    for addrs in [[silent6, open4], [open4, silent6]] {
        let fds_before = open_fds();
        let started = Instant::now();
        let fd = connect_any(&addrs, Deadline::from_timeout_ms(5000).unwrap()).unwrap();
        let took = started.elapsed();
        eprintln!("Happy Eyeballs: {addrs:?} connected in {took:?}");
        assert!(took >= ATTEMPT_DELAY, "IPv4 started before the attempt delay: {took:?}");
        assert!(took < Duration::from_millis(1000), "took {took:?}, not about 250 ms");
        assert_eq!(fd_flags(fd.as_raw_fd()) & libc::O_NONBLOCK, 0, "the winner is blocking");
        assert_eq!(open_fds(), fds_before + 1, "the losing IPv6 attempt is closed");
        let (mut server, _) = open.accept().unwrap();
        let mut client = TcpStream::from(fd);
        client.write_all(b"he").unwrap();
        let mut got = [0u8; 2];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"he");
    }
}

#[test]
fn happy_eyeballs_takes_an_answering_ipv6_address_at_once_and_keeps_the_budget() {
    use sockloop::deadline::Deadline;
    use sockloop::net::{connect_any, happy_eyeballs_order};
    let _serial = FD_COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let a4: std::net::SocketAddr = "10.0.0.1:1".parse().unwrap();
    let b4: std::net::SocketAddr = "10.0.0.2:1".parse().unwrap();
    let a6: std::net::SocketAddr = "[fe80::1]:1".parse().unwrap();
    let b6: std::net::SocketAddr = "[fe80::2]:1".parse().unwrap();
    assert_eq!(happy_eyeballs_order(&[a4, b4, a6, b6]), [a6, a4, b6, b4]);
    assert_eq!(happy_eyeballs_order(&[a4, b4]), [a4, b4]);
    let Ok(open6) = TcpListener::bind("[::1]:0") else {
        eprintln!("SKIP: no ::1 here");
        return;
    };
    let Some((_silent, port4, _queued)) = full_backlog_listener() else { return };
    let silent4: std::net::SocketAddr = format!("127.0.0.1:{port4}").parse().unwrap();
    let started = Instant::now();
    let fd = connect_any(&[silent4, open6.local_addr().unwrap()], Deadline::from_timeout_ms(5000).unwrap()).unwrap();
    assert!(started.elapsed() < Duration::from_millis(200), "{:?}", started.elapsed());
    drop(fd);
    // Every address silent: one budget for all of them, then ETIMEDOUT.
    let silent6 = full_backlog_listener_on("[::1]:0".parse().unwrap());
    let mut addrs = vec![silent4];
    if let Some((_, p6, _)) = &silent6 {
        addrs.push(format!("[::1]:{p6}").parse().unwrap());
    }
    let fds_mid = open_fds();
    let err = connect_any(&addrs, Deadline::from_timeout_ms(600).unwrap()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIMEDOUT));
    assert_eq!(open_fds(), fds_mid, "every attempt is closed");
}

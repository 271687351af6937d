//! Connection setup and teardown through the C ABI: TCP connect/listen/accept
//! on loopback (IPv4 and IPv6), Unix sockets, options and the graceful close.
//! errno and fd flags are checked as a C caller sees them.

mod common;

use std::ffi::{CStr, CString};
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::ptr;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sockloop::ffi::net::*;
use sockloop::ffi::sockopt::*;
use sockloop::ffi::unix::*;

fn listen(host: Option<&str>, port: i32, backlog: i32) -> Result<OwnedFd, i32> {
    let host = host.map(c);
    owned(unsafe { sl_tcp_listen(host.as_ref().map_or(ptr::null(), |h| h.as_ptr()), port, backlog) })
}

fn connect(host: &str, port: i32, timeout_ms: i32) -> Result<OwnedFd, i32> {
    owned(unsafe { sl_tcp_connect(c(host).as_ptr(), port, timeout_ms) })
}

fn accept(listener: &OwnedFd, timeout_ms: i32, flags: i32) -> Result<(OwnedFd, String), i32> {
    let mut peer = [0x55 as libc::c_char; SL_ADDRSTRLEN];
    let fd = owned(unsafe { sl_accept(listener.as_raw_fd(), flags, timeout_ms, peer.as_mut_ptr(), peer.len()) })?;
    let text = unsafe { CStr::from_ptr(peer.as_ptr()) }.to_str().unwrap().to_string();
    Ok((fd, text))
}

fn port_of(fd: &OwnedFd) -> i32 {
    let port = sl_local_port(fd.as_raw_fd());
    assert!(port > 0, "sl_local_port: {port} errno {}", errno());
    port
}

fn assert_cloexec_and_blocking(fd: &impl AsRawFd) {
    let descriptor_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(descriptor_flags & libc::FD_CLOEXEC != 0, "fd {} is not close-on-exec", fd.as_raw_fd());
    assert_eq!(fd_flags(fd.as_raw_fd()) & libc::O_NONBLOCK, 0, "fd is non-blocking");
}

/// One message each way over a connected pair, proving they are the two ends.
fn assert_talks(a: &OwnedFd, b: &OwnedFd) {
    let (mut a, mut b) = (TcpOrUnix(a.as_raw_fd()), TcpOrUnix(b.as_raw_fd()));
    a.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    b.write_all(b"pong").unwrap();
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
}

/// Plain read/write on a borrowed fd.
struct TcpOrUnix(RawFd);

impl Read for TcpOrUnix {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

impl Write for TcpOrUnix {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = unsafe { libc::send(self.0, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn has_ipv6_loopback() -> bool {
    let ok = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    if !ok {
        eprintln!("SKIP: this machine has no ::1, IPv6 part skipped");
    }
    ok
}

/// A port nothing listens on: bound, then closed (the kernel does not hand an
/// ephemeral port out again at once).
fn closed_port() -> i32 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port() as i32
}

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sockloop-net-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn connect_listen_accept_over_ipv4() {
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    assert_cloexec_and_blocking(&listener);
    let port = port_of(&listener);
    let client = connect("127.0.0.1", port, 2000).unwrap();
    assert_cloexec_and_blocking(&client);
    let (server, peer) = accept(&listener, 2000, 0).unwrap();
    assert_cloexec_and_blocking(&server);
    assert_eq!(peer, format!("127.0.0.1:{}", port_of(&client)));
    assert_talks(&client, &server);
}

#[test]
fn connect_and_accept_over_ipv6_loopback() {
    if !has_ipv6_loopback() {
        return;
    }
    let listener = listen(Some("::1"), 0, 16).unwrap();
    let port = port_of(&listener);
    for host in ["::1", "[::1]"] {
        let client = connect(host, port, 2000).unwrap();
        let (server, peer) = accept(&listener, 2000, 0).unwrap();
        assert_eq!(peer, format!("[::1]:{}", port_of(&client)));
        assert_talks(&client, &server);
    }
    // An IPv6-only listener refuses an IPv4 client.
    assert_eq!(connect("127.0.0.1", port, 2000).unwrap_err(), libc::ECONNREFUSED);
}

#[test]
fn all_interfaces_take_both_families_and_print_ipv4_plainly() {
    let listener = listen(None, 0, 16).unwrap();
    let port = port_of(&listener);
    let v4 = connect("127.0.0.1", port, 2000).unwrap();
    let (server, peer) = accept(&listener, 2000, 0).unwrap();
    assert_eq!(peer, format!("127.0.0.1:{}", port_of(&v4)), "an IPv4-mapped peer is shown as IPv4");
    assert_talks(&v4, &server);
    if has_ipv6_loopback() {
        let v6 = connect("::1", port, 2000).unwrap();
        let (server, peer) = accept(&listener, 2000, 0).unwrap();
        assert_eq!(peer, format!("[::1]:{}", port_of(&v6)));
        assert_talks(&v6, &server);
    }
    // "" is the same as NULL.
    let empty = listen(Some(""), 0, 1).unwrap();
    connect("127.0.0.1", port_of(&empty), 2000).unwrap();
}

#[test]
fn localhost_listens_and_connects() {
    let listener = listen(Some("localhost"), 0, 16).unwrap();
    let port = port_of(&listener);
    let client = connect("localhost", port, 2000).unwrap();
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    assert_talks(&client, &server);
    // IPv4 first: a client of 127.0.0.1 reaches a "localhost" server.
    connect("127.0.0.1", port, 2000).unwrap();
}

#[test]
fn reuseaddr_lets_a_restarted_server_bind_while_time_wait_lingers() {
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    let port = port_of(&listener);
    let client = connect("127.0.0.1", port, 2000).unwrap();
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    drop(server); // the server closes first: its side goes to TIME_WAIT
    let mut buf = [0u8; 1];
    assert_eq!(unsafe { libc::read(client.as_raw_fd(), buf.as_mut_ptr().cast(), 1) }, 0);
    drop(client);
    drop(listener);
    let again = listen(Some("127.0.0.1"), port, 16).expect("rebinding the port right away");
    assert_eq!(port_of(&again), port);
    // Control: without SO_REUSEADDR the same bind fails, so this test can fail.
    let plain = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    drop(again);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(plain.bind(&addr.into()).unwrap_err().raw_os_error(), Some(libc::EADDRINUSE));
}

#[test]
fn a_closed_port_is_refused_quickly() {
    let started = Instant::now();
    assert_eq!(connect("127.0.0.1", closed_port(), 10_000).unwrap_err(), libc::ECONNREFUSED);
    assert!(started.elapsed() < Duration::from_secs(5), "refusal took {:?}", started.elapsed());
    assert_eq!(connect("127.0.0.1", closed_port(), -1).unwrap_err(), libc::ECONNREFUSED);
    assert_eq!(connect("127.0.0.1", closed_port(), 0).unwrap_err(), libc::ECONNREFUSED);
}

/// A listener whose accept queue is full: Linux drops further SYNs (with
/// `tcp_abort_on_overflow` 0), so a new connect never completes. Returns the
/// listener and the queued connections, or `None` (with a message) when the
/// queue could not be filled.
fn full_backlog_listener() -> Option<(OwnedFd, i32, Vec<socket2::Socket>)> {
    let listener = listen(Some("127.0.0.1"), 0, 0).unwrap();
    let port = port_of(&listener);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        let mut pfd = libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        let completed = unsafe { libc::poll(&mut pfd, 1, 300) } == 1;
        queued.push(s);
        if !completed {
            return Some((listener, port, queued));
        }
    }
    eprintln!("SKIP: could not fill a listen backlog (SYNs are not dropped here)");
    None
}

#[test]
fn a_connect_that_never_completes_times_out_on_time() {
    let Some((_listener, port, _queued)) = full_backlog_listener() else { return };
    let started = Instant::now();
    assert_eq!(connect("127.0.0.1", port, 300).unwrap_err(), libc::ETIMEDOUT);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "gave up early: {took:?}");
    assert!(took < Duration::from_millis(3000), "overran the timeout: {took:?}");
    assert_eq!(connect("127.0.0.1", port, 0).unwrap_err(), libc::EAGAIN);
}

#[test]
fn each_address_is_tried_within_one_deadline() {
    use sockloop::deadline::Deadline;
    use sockloop::net::connect_any;
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    let open: std::net::SocketAddr = format!("127.0.0.1:{}", port_of(&listener)).parse().unwrap();
    let refused: std::net::SocketAddr = format!("127.0.0.1:{}", closed_port()).parse().unwrap();
    let refused6: std::net::SocketAddr = format!("[::1]:{}", closed_port()).parse().unwrap();
    // Refused, refused, then one that answers.
    let fd = connect_any(&[refused6, refused, open], Deadline::from_timeout_ms(2000).unwrap()).unwrap();
    assert_cloexec_and_blocking(&fd);
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    assert_talks(&fd, &server);
    // None answers: the last address's own error.
    let err = connect_any(&[refused6, refused], Deadline::Never).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    // A silent address: the next one starts 250 ms later (Happy Eyeballs)
    // and wins; with a budget shorter than that, the call times out on time.
    if let Some((_full, port, _queued)) = full_backlog_listener() {
        let silent: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        let fd = connect_any(&[silent, open], Deadline::from_timeout_ms(2000).unwrap()).unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(1500), "{took:?}");
        let (server, _) = accept(&listener, 2000, 0).unwrap();
        assert_talks(&fd, &server);
        let started = Instant::now();
        let err = connect_any(&[silent, open], Deadline::from_timeout_ms(150).unwrap()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ETIMEDOUT));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150) && took < Duration::from_millis(3000), "{took:?}");
    }
}

#[test]
fn every_resolved_address_is_tried_until_one_answers() {
    // "localhost" resolves to 127.0.0.1 (and ::1 where /etc/hosts says so);
    // whichever comes first, a listener on 127.0.0.1 only is reached.
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    let client = connect("localhost", port_of(&listener), 2000).unwrap();
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    assert_talks(&client, &server);
}

#[test]
fn resolver_failures_have_a_documented_errno_and_text() {
    // In a network namespace of this thread only (no interface is up), a DNS
    // query cannot leave the machine: it fails locally.
    let outcome = thread::spawn(|| {
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return None;
        }
        let err = connect("no-such-host.invalid", 80, 3000).unwrap_err();
        let refused_locally = connect("127.0.0.1", 80, 1000).unwrap_err();
        Some((err, refused_locally))
    })
    .join()
    .unwrap();
    let Some((err, unreachable)) = outcome else {
        eprintln!("SKIP: unshare(CLONE_NEWNET) not permitted, resolver failure not exercised");
        return;
    };
    assert!([libc::ENOENT, libc::EHOSTDOWN].contains(&err), "resolver errno {err}");
    let text = unsafe { CStr::from_ptr(sl_resolve_strerror(err)) }.to_str().unwrap();
    let eai = if err == libc::ENOENT { libc::EAI_NONAME } else { libc::EAI_AGAIN };
    assert_eq!(text, unsafe { CStr::from_ptr(libc::gai_strerror(eai)) }.to_str().unwrap());
    // With loopback down the address's own error comes back.
    assert_eq!(unreachable, libc::ENETUNREACH);
}

#[test]
fn resolve_strerror_falls_back_to_strerror() {
    let text = unsafe { CStr::from_ptr(sl_resolve_strerror(libc::ECONNREFUSED)) }.to_str().unwrap();
    assert_eq!(text, unsafe { CStr::from_ptr(libc::strerror(libc::ECONNREFUSED)) }.to_str().unwrap());
    let text = unsafe { CStr::from_ptr(sl_resolve_strerror(libc::EHOSTDOWN)) }.to_str().unwrap();
    assert_eq!(text, unsafe { CStr::from_ptr(libc::gai_strerror(libc::EAI_AGAIN)) }.to_str().unwrap());
}

#[test]
fn accept_times_out_and_can_return_a_nonblocking_fd() {
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    let started = Instant::now();
    assert_eq!(accept(&listener, 200, 0).unwrap_err(), libc::ETIMEDOUT);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(3000), "{took:?}");
    assert_eq!(accept(&listener, 0, 0).unwrap_err(), libc::EAGAIN);
    assert_eq!(fd_flags(listener.as_raw_fd()) & libc::O_NONBLOCK, 0, "the listener's flags are untouched");

    let _client = connect("127.0.0.1", port_of(&listener), 2000).unwrap();
    let (server, _) = accept(&listener, 2000, SL_ACCEPT_NONBLOCK).unwrap();
    assert!(fd_flags(server.as_raw_fd()) & libc::O_NONBLOCK != 0);
    assert!(unsafe { libc::fcntl(server.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC != 0);
}

#[test]
fn accept_on_a_nonblocking_listener_waits_within_the_timeout() {
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    assert_eq!(sl_set_nonblocking(listener.as_raw_fd(), 1), 0);
    let port = port_of(&listener);
    let connector = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        connect("127.0.0.1", port, 2000).unwrap()
    });
    let (server, _) = accept(&listener, 5000, 0).unwrap();
    assert_eq!(fd_flags(server.as_raw_fd()) & libc::O_NONBLOCK, 0);
    assert_talks(&connector.join().unwrap(), &server);
    assert_eq!(accept(&listener, 50, 0).unwrap_err(), libc::ETIMEDOUT);
}

#[test]
fn accept_passes_over_a_connection_that_was_reset_in_the_queue() {
    let listener = listen(Some("127.0.0.1"), 0, 16).unwrap();
    let port = port_of(&listener) as u16;
    // A client that resets before being accepted (SO_LINGER 0, then close).
    let doomed = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket2::SockRef::from(&doomed).set_linger(Some(Duration::ZERO)).unwrap();
    drop(doomed);
    let good = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let local = good.local_addr().unwrap().port();
    // Linux hands out the reset one too (its reads fail); no error ever surfaces
    // from accept, and the good connection is reached within two accepts.
    let mut reached = false;
    for _ in 0..2 {
        let (server, peer) = accept(&listener, 2000, 0).unwrap();
        if peer == format!("127.0.0.1:{local}") {
            reached = true;
            let server = unsafe { TcpStream::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(server)) };
            (&good).write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            (&server).read_exact(&mut b).unwrap();
        }
    }
    assert!(reached);
}

#[test]
fn bad_inputs_fail_with_their_documented_errno() {
    unsafe {
        assert_eq!(owned(sl_tcp_connect(ptr::null(), 80, 100)).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_tcp_connect(c("").as_ptr(), 80, 100)).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_tcp_connect(c("127.0.0.1").as_ptr(), 0, 100)).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_tcp_connect(c("127.0.0.1").as_ptr(), 65536, 100)).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_tcp_connect(c("127.0.0.1").as_ptr(), 80, -2)).unwrap_err(), libc::EINVAL);
        let not_utf8 = CString::new(vec![0xffu8, 0xfe]).unwrap();
        assert_eq!(owned(sl_tcp_connect(not_utf8.as_ptr(), 80, 100)).unwrap_err(), libc::EINVAL);
    }
    assert_eq!(listen(Some("127.0.0.1"), 0, -1).unwrap_err(), libc::EINVAL);
    assert_eq!(listen(Some("127.0.0.1"), -1, 1).unwrap_err(), libc::EINVAL);
    assert_eq!(listen(Some("127.0.0.1"), 65536, 1).unwrap_err(), libc::EINVAL);

    let listener = listen(Some("127.0.0.1"), 0, 1).unwrap();
    let mut small = [0 as libc::c_char; SL_ADDRSTRLEN - 1];
    let lfd = listener.as_raw_fd();
    unsafe {
        assert_eq!(owned(sl_accept(lfd, 0, 0, small.as_mut_ptr(), small.len())).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_accept(lfd, 2, 0, ptr::null_mut(), 0)).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_accept(-1, 0, 0, ptr::null_mut(), 0)).unwrap_err(), libc::EINVAL);
        assert_eq!(owned(sl_accept(lfd, 0, -5, ptr::null_mut(), 0)).unwrap_err(), libc::EINVAL);
    }
    // Accepting on something that does not listen: said at once, whatever
    // the timeout and the fd's mode.
    let (a, _b) = socketpair();
    let (r, _w) = pipe();
    let started = Instant::now();
    for timeout_ms in [0, 5000, -1] {
        assert_eq!(accept(&a, timeout_ms, 0).unwrap_err(), libc::EINVAL);
        assert_eq!(accept(&r, timeout_ms, 0).unwrap_err(), libc::ENOTSOCK);
    }
    set_nonblocking(a.as_raw_fd());
    assert_eq!(accept(&a, 5000, 0).unwrap_err(), libc::EINVAL);
    assert!(started.elapsed() < Duration::from_secs(2));

    assert_eq!(sl_local_port(-1), -1);
    assert_eq!(errno(), libc::EINVAL);
    assert_eq!(sl_local_port(a.as_raw_fd()), -1);
    assert_eq!(errno(), libc::EAFNOSUPPORT);
    assert_eq!(sl_local_port(r.as_raw_fd()), -1);
    assert_eq!(errno(), libc::ENOTSOCK);
}

// ---------------------------------------------------------------- Unix

fn unix_listen(path: &[u8], backlog: i32) -> Result<OwnedFd, i32> {
    owned(unsafe { sl_unix_listen(CString::new(path).unwrap().as_ptr(), backlog) })
}

fn unix_connect(path: &[u8], timeout_ms: i32) -> Result<OwnedFd, i32> {
    owned(unsafe { sl_unix_connect(CString::new(path).unwrap().as_ptr(), timeout_ms) })
}

#[test]
fn unix_listen_connect_accept_on_a_path() {
    let path = temp_path("plain.sock");
    let p = path.as_os_str().as_encoded_bytes();
    let listener = unix_listen(p, 8).unwrap();
    assert_cloexec_and_blocking(&listener);
    let client = unix_connect(p, 2000).unwrap();
    assert_cloexec_and_blocking(&client);
    let (server, peer) = accept(&listener, 2000, 0).unwrap();
    assert_eq!(peer, "", "an unnamed client has no address");
    assert_talks(&client, &server);
    drop(listener);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_stale_socket_file_is_replaced_but_a_live_one_or_a_regular_file_is_not() {
    let path = temp_path("stale.sock");
    let p = path.as_os_str().as_encoded_bytes();
    // A server that died: its socket file is left behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    assert_eq!(unix_connect(p, 100).unwrap_err(), libc::ECONNREFUSED);
    let listener = unix_listen(p, 8).expect("the stale file is replaced");
    let client = unix_connect(p, 2000).unwrap();
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    assert_talks(&client, &server);
    // Someone listens: the file is left alone.
    assert_eq!(unix_listen(p, 8).unwrap_err(), libc::EADDRINUSE);
    // The liveness probe shows up as one connection that ends at once.
    let (probe, _) = accept(&listener, 2000, 0).unwrap();
    assert_eq!(unsafe { libc::read(probe.as_raw_fd(), [0u8; 1].as_mut_ptr().cast(), 1) }, 0);
    let another = unix_connect(p, 2000).unwrap();
    let (server, _) = accept(&listener, 2000, 0).expect("the live listener still works");
    assert_talks(&another, &server);
    drop(listener);
    std::fs::remove_file(&path).unwrap();
    // Not a socket: never deleted.
    std::fs::write(&path, b"precious").unwrap();
    assert_eq!(unix_listen(p, 8).unwrap_err(), libc::EADDRINUSE);
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn abstract_names_work_without_a_file() {
    let name = format!("@sockloop-test-{}-abstract", std::process::id());
    let listener = unix_listen(name.as_bytes(), 8).unwrap();
    assert!(!std::path::Path::new(&name).exists() && !std::path::Path::new(&name[1..]).exists());
    assert_eq!(unix_listen(name.as_bytes(), 8).unwrap_err(), libc::EADDRINUSE);
    let client = unix_connect(name.as_bytes(), 2000).unwrap();
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    assert_talks(&client, &server);
    drop(listener);
    // The name disappears with the listener.
    assert_eq!(unix_connect(name.as_bytes(), 100).unwrap_err(), libc::ECONNREFUSED);
    // A client bound to an abstract name is shown with '@'.
    let listener = unix_listen(name.as_bytes(), 8).unwrap();
    let named = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    let own = format!("\0sockloop-test-{}-client", std::process::id());
    named.bind(&socket2::SockAddr::unix(&own).unwrap()).unwrap();
    named.connect(&socket2::SockAddr::unix(format!("\0{}", &name[1..])).unwrap()).unwrap();
    let (_server, peer) = accept(&listener, 2000, 0).unwrap();
    assert_eq!(peer, format!("@{}", &own[1..]));
}

#[test]
fn unix_connect_waits_for_a_full_backlog_within_its_timeout() {
    let name = format!("@sockloop-test-{}-backlog", std::process::id());
    let _listener = unix_listen(name.as_bytes(), 0).unwrap();
    let mut queued = Vec::new();
    let started = Instant::now();
    let err = loop {
        match unix_connect(name.as_bytes(), 200) {
            Ok(fd) => queued.push(fd),
            Err(e) => break e,
        }
        assert!(queued.len() < 64, "the backlog never filled");
    };
    assert_eq!(err, libc::ETIMEDOUT);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_millis(3000), "{:?}", started.elapsed());
    assert_eq!(unix_connect(name.as_bytes(), 0).unwrap_err(), libc::EAGAIN);
}

#[test]
fn unix_bad_inputs() {
    let long = vec![b'x'; 108];
    assert_eq!(unix_listen(&long, 1).unwrap_err(), libc::ENAMETOOLONG);
    assert_eq!(unix_connect(&long, 100).unwrap_err(), libc::ENAMETOOLONG);
    let mut long_abstract = vec![b'@'];
    long_abstract.extend(vec![b'x'; 108]);
    assert_eq!(unix_listen(&long_abstract, 1).unwrap_err(), libc::ENAMETOOLONG);
    assert_eq!(unix_listen(b"", 1).unwrap_err(), libc::EINVAL);
    assert_eq!(unix_listen(b"@", 1).unwrap_err(), libc::EINVAL);
    assert_eq!(unix_listen(b"@sockloop-negative-backlog", -1).unwrap_err(), libc::EINVAL);
    assert_eq!(owned(unsafe { sl_unix_listen(ptr::null(), 1) }).unwrap_err(), libc::EINVAL);
    assert_eq!(owned(unsafe { sl_unix_connect(ptr::null(), 1) }).unwrap_err(), libc::EINVAL);
    assert_eq!(unix_connect(b"@sockloop-x", -2).unwrap_err(), libc::EINVAL);
    assert_eq!(unix_connect(b"/nonexistent/sockloop.sock", 100).unwrap_err(), libc::ENOENT);
}

// ---------------------------------------------------------------- options

fn int_opt(fd: RawFd, level: i32, name: i32) -> i32 {
    let mut value = 0i32;
    let mut len = 4 as libc::socklen_t;
    assert_eq!(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut i32).cast(), &mut len) }, 0);
    value
}

#[test]
fn option_setters_change_what_the_kernel_reports() {
    let (client, _server) = tcp_pair();
    let fd = client.as_raw_fd();
    assert_eq!(sl_set_nonblocking(fd, 1), 0);
    assert!(fd_flags(fd) & libc::O_NONBLOCK != 0);
    assert_eq!(sl_set_nonblocking(fd, 0), 0);
    assert_eq!(fd_flags(fd) & libc::O_NONBLOCK, 0);

    assert_eq!(sl_set_nodelay(fd, 1), 0);
    assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
    assert_eq!(sl_set_nodelay(fd, 0), 0);
    assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY), 0);

    assert_eq!(sl_set_reuseaddr(fd, 1), 0);
    assert_eq!(int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR), 1);
    assert_eq!(sl_set_reuseaddr(fd, 0), 0);
    assert_eq!(int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR), 0);

    let idle_default = int_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE);
    assert_eq!(sl_set_keepalive(fd, 1, 0, 0, 0), 0);
    assert_eq!(int_opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
    assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), idle_default, "0 leaves the default");
    assert_eq!(sl_set_keepalive(fd, 1, 30, 5, 3), 0);
    assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 30);
    assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 5);
    assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
    assert_eq!(sl_set_keepalive(fd, 0, 0, 0, 0), 0);
    assert_eq!(int_opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);

    assert_eq!(sl_set_buffer_sizes(fd, 65536, 0), 0);
    let (mut snd, mut rcv) = (0, 0);
    let rcv_before = int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF);
    assert_eq!(unsafe { sl_get_buffer_sizes(fd, &mut snd, &mut rcv) }, 0);
    assert_eq!(snd, 2 * 65536, "Linux doubles the requested size");
    assert_eq!(rcv, rcv_before, "0 leaves the receive buffer alone");
    assert_eq!(sl_set_buffer_sizes(fd, 0, 32768), 0);
    assert_eq!(unsafe { sl_get_buffer_sizes(fd, ptr::null_mut(), &mut rcv) }, 0);
    assert_eq!(rcv, 2 * 32768);
    // Capped at net.core.wmem_max (before doubling).
    let wmem_max: i32 = std::fs::read_to_string("/proc/sys/net/core/wmem_max").unwrap().trim().parse().unwrap();
    assert_eq!(sl_set_buffer_sizes(fd, i32::MAX, 0), 0);
    assert_eq!(unsafe { sl_get_buffer_sizes(fd, &mut snd, ptr::null_mut()) }, 0);
    assert_eq!(snd, 2 * wmem_max);
}

#[test]
fn option_setters_reject_bad_input() {
    let (client, _server) = tcp_pair();
    let fd = client.as_raw_fd();
    for rc in [
        sl_set_nonblocking(-1, 1),
        sl_set_nodelay(-1, 1),
        sl_set_reuseaddr(-1, 1),
        sl_set_keepalive(-1, 1, 0, 0, 0),
        sl_set_keepalive(fd, 1, -1, 0, 0),
        sl_set_keepalive(fd, 1, 0, -1, 0),
        sl_set_keepalive(fd, 1, 0, 0, -1),
        sl_set_buffer_sizes(fd, -1, 0),
        sl_set_buffer_sizes(fd, 0, -1),
        unsafe { sl_get_buffer_sizes(-1, ptr::null_mut(), ptr::null_mut()) },
        unsafe { sl_close_graceful(-1, 0) },
        unsafe { sl_close_graceful(fd, -2) },
    ] {
        assert_eq!((rc, errno()), (-1, libc::EINVAL));
    }
    let (a, _b) = socketpair();
    assert_eq!(sl_set_nodelay(a.as_raw_fd(), 1), -1);
    assert_eq!(errno(), libc::EOPNOTSUPP);
    let (r, _w) = pipe();
    assert_eq!(sl_set_reuseaddr(r.as_raw_fd(), 1), -1);
    assert_eq!(errno(), libc::ENOTSOCK);
    assert_eq!(sl_set_nonblocking(r.as_raw_fd(), 1), 0, "non-blocking works on any fd");
    // The fd survived the EINVAL from sl_close_graceful above.
    assert!(unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0);
}

// ---------------------------------------------------------------- graceful close

/// Sends a reply larger than every socket buffer on the way, with unread
/// input pending, then closes with `close`; returns what the peer received
/// and how its reading ended.
fn reply_then_close(close: impl FnOnce(OwnedFd) + Send + 'static) -> (usize, std::io::Result<()>) {
    const REPLY: usize = 4 << 20;
    let listener = listen(Some("127.0.0.1"), 0, 1).unwrap();
    let mut client = TcpStream::connect(("127.0.0.1", port_of(&listener) as u16)).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (server, _) = accept(&listener, 2000, 0).unwrap();
    set_buffer_sizes(&server, 16384);
    set_buffer_sizes(&client, 16384);
    client.write_all(b"request and some bytes the server never reads").unwrap();
    let closer = thread::spawn(move || {
        let reply = vec![7u8; REPLY];
        let mut sent = 0;
        let rc = unsafe {
            sockloop::ffi::io::sl_send_all(server.as_raw_fd(), reply.as_ptr().cast(), REPLY, 10_000, &mut sent)
        };
        assert_eq!(rc, REPLY as isize);
        close(server);
    });
    // A slow reader: the reply is still on its way when the server closes.
    thread::sleep(Duration::from_millis(200));
    let mut got = 0;
    let mut chunk = vec![0u8; 65536];
    let end = loop {
        match client.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => got += n,
            Err(e) => break Err(e),
        }
    };
    drop(client); // the peer finishes: sl_close_graceful sees end of stream
    closer.join().unwrap();
    (got, end)
}

#[test]
fn graceful_close_delivers_the_last_bytes_where_plain_close_resets() {
    let (got, end) = reply_then_close(|fd| {
        assert_eq!(unsafe { sl_close_graceful(std::os::fd::IntoRawFd::into_raw_fd(fd), 5000) }, 0, "errno {}", errno());
    });
    assert!(end.is_ok(), "reading ended with {end:?}");
    assert_eq!(got, 4 << 20, "every byte of the reply arrived");
    // Control: a plain close with unread input resets and loses the tail.
    let (got, end) = reply_then_close(drop);
    assert!(end.is_err() || got < 4 << 20, "plain close unexpectedly delivered everything");
}

#[test]
fn graceful_close_reports_a_timeout_and_a_reset_and_always_closes() {
    // The peer never closes: ETIMEDOUT, and the fd is closed anyway (the peer
    // reads end of stream).
    let (a, mut b) = tcp_pair();
    let started = Instant::now();
    assert_eq!(unsafe { sl_close_graceful(std::os::fd::IntoRawFd::into_raw_fd(a), 200) }, -1);
    assert_eq!(errno(), libc::ETIMEDOUT);
    assert!(started.elapsed() >= Duration::from_millis(200));
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(b.read(&mut [0u8; 8]).unwrap(), 0);
    b.write_all(b"x").unwrap(); // the first write after the peer closed is accepted ...
    thread::sleep(Duration::from_millis(50));
    assert!(b.write_all(b"x").is_err(), "... and the kernel reset the connection: the fd is gone");

    // timeout 0: only what is there already.
    let (a, _b) = tcp_pair();
    assert_eq!(unsafe { sl_close_graceful(std::os::fd::IntoRawFd::into_raw_fd(a), 0) }, -1);
    assert_eq!(errno(), libc::EAGAIN);

    // The peer resets: ECONNRESET.
    let (a, b) = tcp_pair();
    socket2::SockRef::from(&b).set_linger(Some(Duration::ZERO)).unwrap();
    drop(b);
    thread::sleep(Duration::from_millis(50));
    let rc = unsafe { sl_close_graceful(std::os::fd::IntoRawFd::into_raw_fd(a), 2000) };
    assert_eq!(rc, -1);
    assert_eq!(errno(), libc::ECONNRESET);

    // A Unix socketpair closes gracefully too.
    let (a, b) = UnixStream::pair().unwrap();
    let peer = thread::spawn(move || {
        let mut rest = Vec::new();
        (&b).read_to_end(&mut rest).unwrap();
        (&b).write_all(b"bye").unwrap();
        rest
    });
    (&a).write_all(b"last words").unwrap();
    assert_eq!(unsafe { sl_close_graceful(std::os::fd::IntoRawFd::into_raw_fd(a), 5000) }, 0);
    assert_eq!(peer.join().unwrap(), b"last words");
}

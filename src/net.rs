//! TCP connection setup: resolve and connect within one deadline, listen,
//! accept with a timeout, and addresses as text.
//!
//! Built on `socket2`: every socket it creates is close-on-exec (`SOCK_CLOEXEC`),
//! and [`ready::wait`] bounds the connect by the whole-call deadline. Name resolution is
//! `getaddrinfo(3)` called directly, because `std` hides its `EAI_*` code and a C
//! caller needs a documented errno for each resolver failure.
//!
//! ```
//! use std::os::fd::AsFd;
//! use sockloop::deadline::Deadline;
//! use sockloop::net::{accept, local_port, tcp_connect, tcp_listen};
//!
//! let listener = tcp_listen(Some("127.0.0.1"), 0, 8)?;
//! let port = local_port(listener.as_fd())?;
//! let client = tcp_connect("127.0.0.1", port, Deadline::from_timeout_ms(1000)?)?;
//! let (server, peer) = accept(listener.as_fd(), Deadline::from_timeout_ms(1000)?, false)?;
//! assert!(peer.as_socket().unwrap().ip().is_loopback());
//! # drop((client, server));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::{CStr, CString};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::deadline::Deadline;
use crate::interrupt;
use crate::ready::{self, Interest};
use crate::sockopt::make_blocking;
use crate::sys::errno;

// glibc's codes that `libc` does not export for every Linux target.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const EAI_NODATA: libc::c_int = -5;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const EAI_ADDRFAMILY: libc::c_int = -9;

/// The errno a resolver failure becomes. Each class gets an errno that TCP
/// `connect`/`bind` never return themselves, so the caller can tell them apart.
fn resolver_errno(eai: libc::c_int, os: io::Error) -> io::Error {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if eai == EAI_NODATA || eai == EAI_ADDRFAMILY {
        return errno(libc::ENOENT);
    }
    match eai {
        libc::EAI_NONAME => errno(libc::ENOENT),
        libc::EAI_AGAIN => errno(libc::EHOSTDOWN),
        libc::EAI_FAIL => errno(libc::EPROTO),
        libc::EAI_MEMORY => errno(libc::ENOMEM),
        libc::EAI_SYSTEM if os.raw_os_error().is_some_and(|e| e != 0) => os,
        _ => errno(libc::EINVAL),
    }
}

/// The resolver's own message for an errno produced by [`resolve`]
/// (`gai_strerror` of the matching `EAI_*` code), or `None` for other errnos.
pub fn resolver_message(errnum: libc::c_int) -> Option<&'static CStr> {
    let eai = match errnum {
        libc::ENOENT => libc::EAI_NONAME,
        libc::EHOSTDOWN => libc::EAI_AGAIN,
        libc::EPROTO => libc::EAI_FAIL,
        _ => return None,
    };
    // SAFETY: gai_strerror returns a pointer to a static, NUL-terminated string.
    Some(unsafe { CStr::from_ptr(libc::gai_strerror(eai)) })
}

/// Resolves `host` for TCP, in the resolver's order. A bracketed IPv6 literal
/// (`[::1]`) is accepted as well, since that is how addresses are printed.
pub fn resolve(host: &str, port: u16, passive: bool) -> io::Result<Vec<SocketAddr>> {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    // A numeric address needs no resolver (getaddrinfo still handles scope ids).
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let c_host = CString::new(host).map_err(|_| errno(libc::EINVAL))?;
    let service = CString::new(port.to_string()).expect("digits only");
    // SAFETY: an all-zero addrinfo is the documented "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_NUMERICSERV | if passive { libc::AI_PASSIVE } else { 0 };
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and hints; list receives an allocation freed below.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), service.as_ptr(), &hints, &mut list) };
    if rc != 0 {
        return Err(resolver_errno(rc, io::Error::last_os_error()));
    }
    let mut addrs = Vec::new();
    let mut node = list;
    while !node.is_null() {
        // SAFETY: node is an element of the list getaddrinfo returned.
        let ai = unsafe { &*node };
        // SAFETY: getaddrinfo's entries hold ai_addrlen bytes at ai_addr.
        if let Some(addr) = unsafe { socket_addr(ai.ai_addr, ai.ai_addrlen) } {
            addrs.push(addr);
        }
        node = ai.ai_next;
    }
    // SAFETY: list came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    if addrs.is_empty() {
        return Err(errno(libc::ENOENT));
    }
    Ok(addrs)
}

/// # Safety
/// `addr` must point to `len` readable bytes of a socket address.
unsafe fn socket_addr(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: the caller passes len readable bytes, and each cast below is
    // made only when len covers the whole structure.
    match unsafe { (*addr).sa_family } as libc::c_int {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: as above.
            let sin = unsafe { &*(addr as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above.
            let sin6 = unsafe { &*(addr as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
        }
        _ => None,
    }
}

/// Connects to `host:port`, racing the resolved addresses as Happy Eyeballs
/// does (RFC 8305; see [`connect_any`]) within one overall deadline. The
/// socket is blocking and close-on-exec.
///
/// Errors: as [`connect_any`]; resolver failures become `ENOENT`, `EHOSTDOWN`,
/// `EPROTO`, `ENOMEM`, the `EAI_SYSTEM` errno, or `EINVAL` (see `resolver_errno`).
pub fn tcp_connect(host: &str, port: u16, deadline: Deadline) -> io::Result<OwnedFd> {
    connect_any(&resolve(host, port, false)?, deadline)
}

/// How long a connection attempt runs alone before the next one starts: RFC
/// 8305's recommended "Connection Attempt Delay".
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The order in which [`connect_any`] tries addresses (RFC 8305, section 4):
/// IPv6 first, then the families alternate, each in the resolver's order.
pub fn happy_eyeballs_order(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.iter().partition(|a| a.is_ipv6());
    let mut out = Vec::with_capacity(addrs.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// The earlier of two deadlines, one of them an instant.
fn earlier(deadline: Deadline, at: Instant) -> Deadline {
    match deadline {
        Deadline::Never => Deadline::At(at),
        Deadline::Immediate => Deadline::Immediate,
        Deadline::At(end) => Deadline::At(end.min(at)),
    }
}

/// Connects to one of `addrs`, racing them as Happy Eyeballs (RFC 8305) does,
/// all within one deadline: the first attempt goes to the first address of
/// [`happy_eyeballs_order`] (IPv6 first, families alternating); each further
/// attempt starts [`ATTEMPT_DELAY`] after the one before, or at once when
/// every attempt so far has failed, while the earlier ones keep running. The
/// first handshake to complete wins; every other attempt is closed. With a
/// single-attempt deadline every address is started at once and looked at
/// once. The winning socket is made blocking.
///
/// Non-blocking connects and `poll(2)` on all attempts at once, not
/// socket2's `connect_timeout` (a per-call `Duration`, which cannot express
/// "forever" or "one attempt", and whose timeout error carries no errno).
///
/// Errors: `deadline.expired()` once the time is used up with attempts still
/// in flight; otherwise (every attempt failed) the last failure's own error
/// (`ECONNREFUSED`, ...); `EINVAL` for an empty list; `EINTR` from the
/// thread's interrupt check.
pub fn connect_any(addrs: &[SocketAddr], deadline: Deadline) -> io::Result<OwnedFd> {
    let order = happy_eyeballs_order(addrs);
    let mut last = errno(libc::EINVAL);
    let mut attempts: Vec<OwnedFd> = Vec::with_capacity(order.len());
    let (mut next, mut next_at) = (0, Instant::now());
    loop {
        while next < order.len()
            && (attempts.is_empty() || deadline == Deadline::Immediate || Instant::now() >= next_at)
        {
            match start_connect(order[next]) {
                Ok(fd) => attempts.push(fd),
                Err(err) => last = err,
            }
            next += 1;
            next_at = Instant::now() + ATTEMPT_DELAY;
        }
        if attempts.is_empty() {
            return Err(last);
        }
        let mut pfds: Vec<libc::pollfd> =
            attempts.iter().map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 }).collect();
        let wait = if next < order.len() { earlier(deadline, next_at) } else { deadline };
        if ready::poll_until(&mut pfds, wait)? == 0 {
            if next < order.len() && deadline.poll_timeout_ms().is_some() {
                continue; // time for the next attempt
            }
            return Err(deadline.expired());
        }
        // Backwards, so that removing an attempt keeps the indices of the rest.
        for i in (0..pfds.len()).rev() {
            if pfds[i].revents == 0 {
                continue;
            }
            // A started connect is writable once its handshake has ended:
            // SO_ERROR alone tells how (no getpeername, unlike
            // connect_finish, which may be handed any socket).
            match SockRef::from(&attempts[i]).take_error() {
                Ok(None) => {
                    let won = attempts.swap_remove(i);
                    make_blocking(won.as_fd())?;
                    return Ok(won); // the losers close as `attempts` drops
                }
                Ok(Some(err)) | Err(err) => {
                    attempts.remove(i);
                    last = err;
                    next_at = Instant::now(); // a failure starts the next attempt at once
                }
            }
        }
    }
}

/// Starts a TCP connect to `host:port` without waiting: the socket is
/// non-blocking and close-on-exec, and the handshake goes on in the kernel.
/// The first resolved address is used (a race between several is
/// [`tcp_connect`]'s job). Finish with [`connect_finish`] once the socket is
/// writable.
///
/// Errors: resolver failures as [`tcp_connect`]; an error the kernel reports
/// at once (`ENETUNREACH`, `ECONNREFUSED`, `EADDRNOTAVAIL`, `EMFILE`, ...).
pub fn tcp_connect_start(host: &str, port: u16) -> io::Result<OwnedFd> {
    let addr = *resolve(host, port, false)?.first().expect("resolve returns at least one address");
    start_connect(addr)
}

/// A non-blocking, close-on-exec socket with a connect to `addr` under way
/// (or done).
fn start_connect(addr: SocketAddr) -> io::Result<OwnedFd> {
    let socket = nonblocking_stream(Domain::for_address(addr))?;
    match socket.connect(&addr.into()) {
        Ok(()) => Ok(socket.into()),
        // EINTR: the connect goes on asynchronously, as after EINPROGRESS.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => Ok(socket.into()),
        Err(e) => Err(e),
    }
}

/// Where a started connect stands, without waiting: `Ok(true)` connected,
/// `Ok(false)` still in progress, or its error (from `SO_ERROR`, which this
/// reads and so clears). A socket no connect was started on is `ENOTCONN`,
/// a listening one `EINVAL`.
fn connect_state(socket: &SockRef<'_>) -> io::Result<bool> {
    if let Some(err) = socket.take_error()? {
        return Err(err);
    }
    match socket.peer_addr() {
        Ok(_) => return Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {}
        Err(e) => return Err(e),
    }
    if is_listener(socket)? {
        return Err(errno(libc::EINVAL));
    }
    // Not connected, no error: a handshake under way is not writable yet; a
    // socket never connected (or whose error was already taken) is.
    let mut pfd = libc::pollfd { fd: socket.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd; timeout 0 never blocks.
    if unsafe { libc::poll(&mut pfd, 1, 0) } == 1 && pfd.revents & libc::POLLOUT != 0 {
        // A last look: the handshake may have just ended.
        if let Some(err) = socket.take_error()? {
            return Err(err);
        }
        return match socket.peer_addr() {
            Ok(_) => Ok(true),
            Err(_) => Err(errno(libc::ENOTCONN)),
        };
    }
    Ok(false)
}

/// Finishes a connect started by [`tcp_connect_start`] (or any non-blocking
/// connect): waits within `deadline` for the handshake to end, then reports
/// its outcome, the real errno of a failure (`ECONNREFUSED`, `ETIMEDOUT`,
/// `EHOSTUNREACH`, ...). The fd's flags are not changed.
///
/// Errors: the connect's own; `deadline.expired()` while still in progress
/// (`EAGAIN` for a single attempt); `ENOTCONN` for a socket no connect was
/// started on; `EINVAL` for a listening socket; `ENOTSOCK`, `EBADF`.
pub fn connect_finish(fd: BorrowedFd<'_>, deadline: Deadline) -> io::Result<()> {
    let socket = SockRef::from(&fd);
    loop {
        if connect_state(&socket)? {
            return Ok(());
        }
        if !ready::wait(fd.as_raw_fd(), Interest::Writable, deadline)? {
            return Err(deadline.expired());
        }
    }
}

/// A listening TCP socket on `host:port` (`None` = every interface) with
/// `SO_REUSEADDR`, so a restarted server can bind while old connections sit in
/// `TIME_WAIT`.
///
/// Every interface is one dual-stack `[::]` socket that also takes IPv4 (as
/// `::ffff:a.b.c.d`), or `0.0.0.0` where IPv6 or dual-stack is unavailable. A
/// name binds the first resolved address that works, IPv4 first: one socket can
/// hold one address, and `127.0.0.1` is what most clients of "localhost" try.
pub fn tcp_listen(host: Option<&str>, port: u16, backlog: i32) -> io::Result<OwnedFd> {
    let Some(host) = host else {
        let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
        return listen_on(any6, backlog, Some(false))
            .or_else(|_| listen_on(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), backlog, None));
    };
    let mut addrs = resolve(host, port, true)?;
    addrs.sort_by_key(SocketAddr::is_ipv6); // stable: the resolver's order within a family
    let mut last = errno(libc::EADDRNOTAVAIL);
    for addr in addrs {
        match listen_on(addr, backlog, None) {
            Ok(fd) => return Ok(fd),
            Err(err) => last = err,
        }
    }
    Err(last)
}

fn listen_on(addr: SocketAddr, backlog: i32, only_v6: Option<bool>) -> io::Result<OwnedFd> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if let Some(only_v6) = only_v6 {
        socket.set_only_v6(only_v6)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The port `fd` is bound to (0 if unbound). A non-IP socket is `EAFNOSUPPORT`.
pub fn local_port(fd: BorrowedFd<'_>) -> io::Result<u16> {
    let addr = SockRef::from(&fd).local_addr()?;
    addr.as_socket().map(|a| a.port()).ok_or_else(|| errno(libc::EAFNOSUPPORT))
}

/// Errors of accept(2) about the pending connection, not the listener, after
/// which `accept` is simply tried again: the connection died before it was
/// taken (`ECONNABORTED`, `EPROTO`), or, on Linux, a network error of the new
/// connection that accept(2) passes on ("should be treated like EAGAIN", says
/// the manual). That list also has `EOPNOTSUPP`, which is as well what a
/// datagram socket answers: [`accept`] retries it only on a listener.
fn accept_retryable(code: libc::c_int) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if code == libc::ENONET {
        return true;
    }
    matches!(
        code,
        libc::ECONNABORTED
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
    )
}

/// A non-blocking, close-on-exec stream socket: one socket(2) with
/// `SOCK_NONBLOCK | SOCK_CLOEXEC` where the system has them; elsewhere (macOS)
/// socket2 sets close-on-exec (and `SO_NOSIGPIPE`) after socket(2), and
/// `O_NONBLOCK` follows.
pub(crate) fn nonblocking_stream(domain: Domain) -> io::Result<Socket> {
    #[cfg(not(target_vendor = "apple"))]
    return Socket::new(domain, Type::STREAM.nonblocking(), None);
    #[cfg(target_vendor = "apple")]
    {
        let socket = Socket::new(domain, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    }
}

/// accept(2) with the new fd close-on-exec, and non-blocking if asked: one
/// accept4 where it exists; elsewhere (macOS) accept, then fcntl (socket2's
/// accept sets `FD_CLOEXEC` and `SO_NOSIGPIPE` there; set again to be sure).
fn accept_cloexec(socket: &SockRef<'_>, nonblocking: bool) -> io::Result<(Socket, SockAddr)> {
    #[cfg(not(target_vendor = "apple"))]
    return socket.accept4(libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 });
    #[cfg(target_vendor = "apple")]
    {
        let (conn, peer) = socket.accept()?;
        conn.set_cloexec(true)?;
        if nonblocking {
            conn.set_nonblocking(true)?;
        }
        Ok((conn, peer))
    }
}

/// Whether the socket listens (`SO_ACCEPTCONN`): socket2's call where it has
/// one, getsockopt(2) elsewhere (macOS).
fn is_listener(socket: &SockRef<'_>) -> io::Result<bool> {
    #[cfg(not(target_vendor = "apple"))]
    return socket.is_listener();
    #[cfg(target_vendor = "apple")]
    {
        let mut on: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: on and len describe a valid int buffer for the option.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut on as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(on != 0)
    }
}

/// What accept(2) says of a socket that is not listening: `EINVAL` for a
/// connection-oriented socket, `EOPNOTSUPP` for a datagram one.
fn not_listening(socket: &SockRef<'_>) -> io::Error {
    let datagram = matches!(socket.r#type(), Ok(t) if t == Type::DGRAM || t == Type::RAW);
    errno(if datagram { libc::EOPNOTSUPP } else { libc::EINVAL })
}

/// Accepts one connection within `deadline`. The new fd is close-on-exec, and
/// non-blocking if asked. Works on TCP and Unix-domain listeners.
///
/// A blocking listener under a bounded deadline (or an interrupt check) waits
/// for readiness first, so that `accept` itself never blocks; the listener's
/// flags are not touched. A socket that is not listening fails at once with
/// accept(2)'s own errno, whatever the deadline.
pub fn accept(listener: BorrowedFd<'_>, deadline: Deadline, nonblocking: bool) -> io::Result<(OwnedFd, SockAddr)> {
    let socket = SockRef::from(&listener);
    let wait_first = (deadline.is_bounded() || interrupt::is_set()) && !socket.nonblocking()?;
    // Polling a socket that does not listen would wait out the whole timeout
    // before accept(2) could answer: ask first.
    if wait_first && !is_listener(&socket)? {
        return Err(not_listening(&socket));
    }
    loop {
        if wait_first && !ready::wait(listener.as_raw_fd(), Interest::Readable, deadline)? {
            return Err(deadline.expired());
        }
        match accept_cloexec(&socket, nonblocking) {
            Ok((conn, peer)) => return Ok((conn.into(), peer)),
            Err(err) => match err.raw_os_error() {
                // Another acceptor took it, or SO_RCVTIMEO ran out: wait again.
                Some(libc::EAGAIN) => {
                    if !wait_first && !ready::wait(listener.as_raw_fd(), Interest::Readable, deadline)? {
                        return Err(deadline.expired());
                    }
                }
                Some(libc::EINTR) => interrupt::after_eintr()?,
                Some(libc::EOPNOTSUPP) if is_listener(&socket)? => {}
                Some(code) if accept_retryable(code) => {}
                _ => return Err(err),
            },
        }
    }
}

/// An address as text: `127.0.0.1:54321`, `[::1]:54321` (an IPv4-mapped IPv6
/// peer of a dual-stack listener is shown as plain IPv4), a Unix path, `@name`
/// for an abstract Unix name, or empty for an unnamed Unix socket.
pub fn address_text(addr: &SockAddr) -> Vec<u8> {
    if let Some(ip) = addr.as_socket() {
        let ip = match ip {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::from((v4, v6.port())),
                None => ip,
            },
            v4 => v4,
        };
        return ip.to_string().into_bytes();
    }
    if let Some(name) = addr.as_abstract_namespace() {
        return [b"@", name].concat();
    }
    addr.as_pathname().map(|p| p.as_os_str().as_bytes().to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno_of(eai: libc::c_int) -> Option<i32> {
        resolver_errno(eai, errno(libc::EMFILE)).raw_os_error()
    }

    #[test]
    fn every_resolver_failure_has_its_documented_errno() {
        assert_eq!(errno_of(libc::EAI_NONAME), Some(libc::ENOENT));
        assert_eq!(errno_of(libc::EAI_AGAIN), Some(libc::EHOSTDOWN));
        assert_eq!(errno_of(libc::EAI_FAIL), Some(libc::EPROTO));
        assert_eq!(errno_of(libc::EAI_MEMORY), Some(libc::ENOMEM));
        assert_eq!(errno_of(libc::EAI_SYSTEM), Some(libc::EMFILE));
        assert_eq!(errno_of(libc::EAI_SERVICE), Some(libc::EINVAL));
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert_eq!(errno_of(EAI_NODATA), Some(libc::ENOENT));
        for errnum in [libc::ENOENT, libc::EHOSTDOWN, libc::EPROTO] {
            assert!(!resolver_message(errnum).unwrap().to_bytes().is_empty());
        }
        assert!(resolver_message(libc::ECONNREFUSED).is_none());
    }

    #[test]
    fn numeric_hosts_resolve_without_the_resolver() {
        assert_eq!(resolve("127.0.0.1", 80, false).unwrap(), vec!["127.0.0.1:80".parse().unwrap()]);
        assert_eq!(resolve("[::1]", 80, false).unwrap(), vec!["[::1]:80".parse().unwrap()]);
        assert_eq!(resolve("a\0b", 80, false).unwrap_err().raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn addresses_as_text() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:99".parse().unwrap();
        assert_eq!(address_text(&mapped.into()), b"10.1.2.3:99");
        let v6: SocketAddr = "[fe80::1%2]:7".parse().unwrap();
        assert_eq!(address_text(&v6.into()), b"[fe80::1%2]:7");
        assert_eq!(address_text(&SockAddr::unix("/tmp/x").unwrap()), b"/tmp/x");
    }
}

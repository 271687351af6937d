//! TCP connection setup: resolve and connect within one deadline, listen,
//! accept with a timeout, and addresses as text.
//!
//! Built on `socket2`: every socket it creates is close-on-exec (`SOCK_CLOEXEC`),
//! and [`ready::wait`] bounds the connect by the whole-call deadline. Name resolution is
//! `getaddrinfo(3)` called directly, because `std` hides its `EAI_*` code and a C
//! caller needs a documented errno for each resolver failure.

use std::ffi::{CStr, CString};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::deadline::Deadline;
use crate::interrupt;
use crate::ready::{self, Interest};
use crate::sockopt::make_blocking;

pub(crate) fn os_error(code: libc::c_int) -> io::Error {
    io::Error::from_raw_os_error(code)
}

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
        return os_error(libc::ENOENT);
    }
    match eai {
        libc::EAI_NONAME => os_error(libc::ENOENT),
        libc::EAI_AGAIN => os_error(libc::EHOSTDOWN),
        libc::EAI_FAIL => os_error(libc::EPROTO),
        libc::EAI_MEMORY => os_error(libc::ENOMEM),
        libc::EAI_SYSTEM if os.raw_os_error().is_some_and(|e| e != 0) => os,
        _ => os_error(libc::EINVAL),
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
    let c_host = CString::new(host).map_err(|_| os_error(libc::EINVAL))?;
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
        if let Some(addr) = unsafe { socket_addr(ai.ai_addr, ai.ai_addrlen) } {
            addrs.push(addr);
        }
        node = ai.ai_next;
    }
    // SAFETY: list came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    if addrs.is_empty() {
        return Err(os_error(libc::ENOENT));
    }
    Ok(addrs)
}

/// # Safety
/// `addr` must point to `len` readable bytes of a socket address.
unsafe fn socket_addr(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    match (*addr).sa_family as libc::c_int {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            let sin = &*(addr as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let sin6 = &*(addr as *const libc::sockaddr_in6);
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
        }
        _ => None,
    }
}

/// Connects `socket`, created non-blocking, to `addr` within what is left of
/// `deadline`.
///
/// A non-blocking connect, then [`ready::wait`] for writability and the
/// result from `SO_ERROR`. (socket2's `connect_timeout` is not used: it takes a
/// per-call `Duration`, so it cannot express "forever" or "one attempt", it
/// rounds the wait down and can return before the caller's deadline, and its
/// timeout error carries no errno.) The socket ends blocking, as promised.
fn connect_within(socket: &Socket, addr: &SockAddr, deadline: Deadline) -> io::Result<()> {
    let result = match socket.connect(addr) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => {
            if ready::wait(socket.as_raw_fd(), Interest::Writable, deadline)? {
                socket.take_error()?.map_or(Ok(()), Err)
            } else {
                Err(deadline.expired())
            }
        }
        other => other,
    };
    make_blocking(socket.as_fd())?;
    result
}

/// Connects to `host:port`, trying every resolved address in order (IPv6 and
/// IPv4 as the resolver sorts them) within one overall deadline. The socket is
/// blocking and close-on-exec.
///
/// Errors: as [`connect_any`]; resolver failures become `ENOENT`, `EHOSTDOWN`,
/// `EPROTO`, `ENOMEM`, the `EAI_SYSTEM` errno, or `EINVAL` (see `resolver_errno`).
pub fn tcp_connect(host: &str, port: u16, deadline: Deadline) -> io::Result<OwnedFd> {
    connect_any(&resolve(host, port, false)?, deadline)
}

/// Connects to the first of `addrs` that accepts, in order, all within one
/// deadline: each address gets what is left of it.
///
/// Errors: `deadline.expired()` once the time is used up; otherwise the last
/// address's own error (`ECONNREFUSED`, ...); `EINVAL` for an empty list.
pub fn connect_any(addrs: &[SocketAddr], deadline: Deadline) -> io::Result<OwnedFd> {
    let mut last = os_error(libc::EINVAL);
    for &addr in addrs {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), None)?;
        match connect_within(&socket, &addr.into(), deadline) {
            Ok(()) => return Ok(socket.into()),
            // The interrupt check ends the whole call, not one address.
            Err(err) if err.raw_os_error() == Some(libc::EINTR) => return Err(err),
            Err(err) => {
                if deadline.poll_timeout_ms().is_none() {
                    return Err(deadline.expired());
                }
                last = err;
            }
        }
    }
    Err(last)
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
    let mut last = os_error(libc::EADDRNOTAVAIL);
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
    addr.as_socket().map(|a| a.port()).ok_or_else(|| os_error(libc::EAFNOSUPPORT))
}

/// Errors of accept(2) about the pending connection, not the listener, after
/// which `accept` is simply tried again: the connection died before it was
/// taken (`ECONNABORTED`, `EPROTO`), or, on Linux, a network error of the new
/// connection that accept(2) passes on ("should be treated like EAGAIN", says
/// the manual). That list also has `EOPNOTSUPP`, which is as well what a
/// datagram socket answers: [`accept`] retries it only on a listener.
fn accept_retryable(code: libc::c_int) -> bool {
    matches!(
        code,
        libc::ECONNABORTED
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
    )
}

/// What accept(2) says of a socket that is not listening: `EINVAL` for a
/// connection-oriented socket, `EOPNOTSUPP` for a datagram one.
fn not_listening(socket: &SockRef<'_>) -> io::Error {
    let datagram = matches!(socket.r#type(), Ok(t) if t == Type::DGRAM || t == Type::RAW);
    os_error(if datagram { libc::EOPNOTSUPP } else { libc::EINVAL })
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
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    let wait_first = (deadline.is_bounded() || interrupt::is_set()) && !socket.nonblocking()?;
    // Polling a socket that does not listen would wait out the whole timeout
    // before accept(2) could answer: ask first.
    if wait_first && !socket.is_listener()? {
        return Err(not_listening(&socket));
    }
    loop {
        if wait_first && !ready::wait(listener.as_raw_fd(), Interest::Readable, deadline)? {
            return Err(deadline.expired());
        }
        match socket.accept4(flags) {
            Ok((conn, peer)) => return Ok((conn.into(), peer)),
            Err(err) => match err.raw_os_error() {
                // Another acceptor took it, or SO_RCVTIMEO ran out: wait again.
                Some(libc::EAGAIN) => {
                    if !wait_first && !ready::wait(listener.as_raw_fd(), Interest::Readable, deadline)? {
                        return Err(deadline.expired());
                    }
                }
                Some(libc::EINTR) => interrupt::after_eintr()?,
                Some(libc::EOPNOTSUPP) if socket.is_listener()? => {}
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
        resolver_errno(eai, os_error(libc::EMFILE)).raw_os_error()
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

//! `extern "C"` shims for TCP connection setup in [`crate::net`].

use std::os::fd::IntoRawFd;
use std::os::raw::{c_char, c_int};

use super::{borrow_fd, c_text, check, ffi_guard, Errno};
use crate::deadline::Deadline;
use crate::net;

/// `sl_accept` flag: make the accepted fd non-blocking (`O_NONBLOCK`), for a
/// server that drives its connections with a selector.
pub const SL_ACCEPT_NONBLOCK: c_int = 1;

/// The size of a `peer` buffer for `sl_accept` that every address fits in,
/// terminating NUL included: an IPv6 address with brackets, scope and port, or
/// a Unix path (`sun_path` is 108 bytes) with the `@` of an abstract name.
pub const SL_ADDRSTRLEN: usize = 112;

/// A host name: NULL, empty or not UTF-8 is `EINVAL`.
///
/// # Safety
/// A non-NULL `host` must point to a NUL-terminated string.
unsafe fn host_name<'a>(host: *const c_char) -> Result<&'a str, Errno> {
    // SAFETY: `host` is NULL or a NUL-terminated string (the C contract).
    let bytes = unsafe { c_text(host) }.unwrap_or_default();
    check(!bytes.is_empty())?;
    std::str::from_utf8(bytes).map_err(|_| Errno(libc::EINVAL))
}

/// A port number: 0..=65535, and not 0 unless `zero_ok`.
fn port_number(port: c_int, zero_ok: bool) -> Result<u16, Errno> {
    check(port > 0 || (zero_ok && port == 0))?;
    u16::try_from(port).map_err(|_| Errno(libc::EINVAL))
}

/// Opens a TCP connection to `host`:`port` and returns its fd.
///
/// `host` is a name ("localhost", "example.org") or a numeric address
/// (`"127.0.0.1"`, `"::1"`, `"[::1]"`). Every address the resolver returns is
/// raced as Happy Eyeballs does (RFC 8305): IPv6 first, the families
/// alternating; each further attempt starts 250 ms after the one before (at
/// once when the attempts so far failed) while the earlier ones keep going;
/// the first handshake to complete wins and every other attempt is closed. So
/// a first address that never answers (a dead IPv6 route) costs 250 ms, not
/// the whole timeout. The fd is blocking and close-on-exec (`FD_CLOEXEC`); the
/// caller closes it.
///
/// Timeout: one budget for the whole call, name resolution and every attempt
/// included: `-1` waits forever (each attempt gives up after the kernel's SYN
/// retries, about two minutes, with `ETIMEDOUT`), `0` starts one
/// non-blocking attempt per address at once and looks once (`EAGAIN` unless
/// a handshake completed at once), `> 0` is a deadline on the monotonic clock
/// taken at entry. `getaddrinfo(3)` itself cannot be interrupted: a slow DNS
/// server can overrun the deadline; numeric addresses never wait for it.
///
/// Returns the fd (>= 0). Errors (`-1`, errno):
/// - `ETIMEDOUT`: the timeout ran out (`EAGAIN` for `timeout_ms == 0`).
/// - every attempt failed: the last failure's own error: `ECONNREFUSED`
///   (nothing listens on the port), `ENETUNREACH`, `EHOSTUNREACH`,
///   `EADDRNOTAVAIL`, ...
/// - resolver failures (read its own text with `sl_resolve_strerror`):
///   `ENOENT`: no such host (`EAI_NONAME`, `EAI_NODATA`); `EHOSTDOWN`:
///   temporary resolver failure, try later (`EAI_AGAIN`); `EPROTO`:
///   permanent resolver failure (`EAI_FAIL`); `ENOMEM`; or the system error
///   behind `EAI_SYSTEM`.
/// - `EINVAL`: `host` NULL, empty or not UTF-8; `port` outside 1..65535;
///   `timeout_ms < -1`.
/// - `EMFILE`/`ENFILE`: no fd left.
#[no_mangle]
pub unsafe extern "C" fn sl_tcp_connect(host: *const c_char, port: c_int, timeout_ms: c_int) -> c_int {
    ffi_guard!({
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        // SAFETY: `host` is NULL or a NUL-terminated string (the C contract).
        let host = unsafe { host_name(host) }?;
        let port = port_number(port, false)?;
        Ok(net::tcp_connect(host, port, deadline)?.into_raw_fd())
    })
}

/// Starts a TCP connection to `host`:`port` and returns its fd at once, with
/// the handshake in progress: the non-blocking start of an event loop (the
/// tutorial's `connect_ex`), for many connections at a time. Register the fd
/// with a selector for `SL_WRITE`; when it is reported writable, call
/// `sl_connect_finish(fd, 0)` to learn whether the connection was made.
///
/// `host` as `sl_tcp_connect`; the first address the resolver returns is
/// used (to race several addresses, IPv6 and IPv4, use `sl_tcp_connect`).
/// Name resolution itself blocks (`getaddrinfo(3)`); numeric addresses never
/// wait. The fd is non-blocking (`O_NONBLOCK`, as an event loop wants it;
/// `sl_set_nonblocking(fd, 0)` for blocking I/O) and close-on-exec; the caller
/// closes it, also after a failed finish. No timeout: bound the wait in your
/// loop (the kernel alone gives up after its SYN retries, about two minutes).
///
/// Returns the fd (>= 0). Errors (`-1`, errno; no fd left open):
/// - an error the kernel reports at once: `ECONNREFUSED`, `ENETUNREACH`,
///   `EHOSTUNREACH`, `EADDRNOTAVAIL`, ... (most come later, from
///   `sl_connect_finish`).
/// - resolver failures as `sl_tcp_connect`: `ENOENT`, `EHOSTDOWN`, `EPROTO`,
///   `ENOMEM` (text from `sl_resolve_strerror`).
/// - `EINVAL`: `host` NULL, empty or not UTF-8; `port` outside 1..65535.
/// - `EMFILE`/`ENFILE`: no fd left.
#[no_mangle]
pub unsafe extern "C" fn sl_tcp_connect_start(host: *const c_char, port: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: `host` is NULL or a NUL-terminated string (the C contract).
        let host = unsafe { host_name(host) }?;
        let port = port_number(port, false)?;
        Ok(net::tcp_connect_start(host, port)?.into_raw_fd())
    })
}

/// Finishes a connect started by `sl_tcp_connect_start` or
/// `sl_unix_connect_start` (or any non-blocking connect(2) that said
/// `EINPROGRESS`): tells whether the connection was made, with the real errno
/// of a failure, read from `SO_ERROR`. Call it when a selector reports the fd
/// writable, with `timeout_ms == 0`; or with a timeout to wait here.
///
/// Timeout: `0` looks once (`EAGAIN` while the handshake is still in
/// progress: wait for `SL_WRITE` again), `> 0` waits at most that long for
/// the handshake (`ETIMEDOUT` if it is still in progress: the connect goes on
/// until you close the fd), `-1` waits until the kernel decides. The fd's
/// flags are not changed; on success it is a connected socket, ready for I/O.
///
/// A failure's errno is reported once (reading `SO_ERROR` clears it): close
/// the fd after it; a second call says `ENOTCONN`.
///
/// Returns 0 (connected). Errors (`-1`, errno):
/// - the connect's own: `ECONNREFUSED` (nothing listens), `ETIMEDOUT` (no
///   answer within the kernel's SYN retries), `EHOSTUNREACH`,
///   `ENETUNREACH`, `ECONNRESET`, ...
/// - `EAGAIN` (`timeout_ms == 0`) or `ETIMEDOUT` (`> 0`): still in progress.
/// - `ENOTCONN`: no connect was started on `fd` (or its failure was already
///   reported).
/// - `EINVAL`: `fd < 0`, `timeout_ms < -1`, or `fd` is a listening socket.
/// - `ENOTSOCK`, `EBADF`: not an open socket.
/// - `EINTR`: the thread's interrupt check asked to stop.
#[no_mangle]
pub extern "C" fn sl_connect_finish(fd: c_int, timeout_ms: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the fd is used for this call only; one the caller closes
        // under it only makes the system calls fail with EBADF.
        let fd = unsafe { borrow_fd(fd)? };
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        net::connect_finish(fd, deadline)?;
        Ok(0)
    })
}

/// Opens a listening TCP socket on `host`:`port` and returns its fd.
///
/// `SO_REUSEADDR` is set, so a restarted server binds at once although its
/// old connections are still in `TIME_WAIT`.
///
/// `host`:
/// - NULL or "": every interface. One IPv6 socket with `IPV6_V6ONLY` off
///   takes IPv4 clients too (their addresses appear as `::ffff:a.b.c.d`, and
///   `sl_accept` prints them as plain IPv4); where the system has no IPv6 or
///   refuses dual-stack, an IPv4 socket on `0.0.0.0`.
/// - a numeric address ("127.0.0.1", "::1"): exactly that address.
/// - a name ("localhost"): the first resolved address that binds, IPv4 ones
///   first, because one socket holds one address and IPv4 is what most
///   clients try ("localhost" binds `127.0.0.1`).
///   Binding the machine's host name is rarely what a server wants: it
///   listens on one interface only.
///
/// `port` 0 asks the kernel for a free (ephemeral) port; read it with
/// `sl_local_port`. `backlog` is passed to listen(2): the kernel caps it at
/// `net.core.somaxconn` and treats 0 as the smallest queue.
///
/// The fd is blocking and close-on-exec; the caller closes it.
///
/// Returns the fd (>= 0). Errors (`-1`, errno):
/// - `EADDRINUSE`: another socket listens on the port.
/// - `EACCES`: a port below 1024 without privilege.
/// - `EADDRNOTAVAIL`: `host` is not an address of this machine.
/// - resolver failures as `sl_tcp_connect`.
/// - `EINVAL`: `host` not UTF-8, `port` outside 0..65535, `backlog < 0`.
/// - `EMFILE`/`ENFILE`: no fd left.
///
/// Never waits (no timeout), except for the resolver on a name.
#[no_mangle]
pub unsafe extern "C" fn sl_tcp_listen(host: *const c_char, port: c_int, backlog: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: `host` is NULL or a NUL-terminated string (the C contract).
        let host = match unsafe { c_text(host) } {
            None | Some(b"") => None,
            Some(bytes) => Some(std::str::from_utf8(bytes).map_err(|_| Errno(libc::EINVAL))?),
        };
        let port = port_number(port, true)?;
        check(backlog >= 0)?;
        Ok(net::tcp_listen(host, port, backlog)?.into_raw_fd())
    })
}

/// Returns the local port `fd` is bound to: the ephemeral port the kernel
/// chose after `sl_tcp_listen(..., 0, ...)`, or a client's own port. An
/// unbound socket returns 0.
///
/// Errors (`-1`, errno): `EAFNOSUPPORT`: not an IPv4/IPv6 socket (a Unix
/// socket); `ENOTSOCK`: not a socket; `EBADF`: not open; `EINVAL`: `fd < 0`.
/// Never waits.
#[no_mangle]
pub extern "C" fn sl_local_port(fd: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller's fd, used only during this call (a closed or
        // wrong one makes the system call fail with EBADF/ENOTSOCK).
        let fd = unsafe { borrow_fd(fd)? };
        Ok(c_int::from(net::local_port(fd)?))
    })
}

/// Accepts one connection on the listening socket `listen_fd` (TCP or Unix)
/// and returns its fd.
///
/// Arguments in the library's order: the fd, then inputs (`flags`), then the
/// timeout, then the out-buffer and its capacity.
///
/// The new fd is close-on-exec, and non-blocking when `flags` has
/// `SL_ACCEPT_NONBLOCK` (for selector servers); the caller closes it. The
/// listener's own flags are never changed: a blocking listener with a bounded
/// timeout is polled before accept(2), so accept never blocks. (With several
/// processes accepting on one blocking listener, a connection another one
/// takes first makes this call wait for the next, within the timeout.)
///
/// A connection that died in the queue (`ECONNABORTED`, `EPROTO`), a signal
/// (`EINTR`, unless the interrupt check ends the call) and the network errors
/// Linux passes through accept(2) for the new connection are retried within
/// the timeout, never returned. An error about the listener itself is
/// returned at once, whatever the timeout.
///
/// `peer` (may be NULL, then `peer_capacity` is ignored) receives the peer's
/// address as NUL-terminated text: `"127.0.0.1:54321"`, `"[::1]:54321"`, a Unix
/// path, "@name" for an abstract Unix name, or "" for an unnamed Unix client
/// (the usual case). Its capacity must be at least `SL_ADDRSTRLEN`, checked
/// before anything is accepted, so the text is never truncated.
///
/// Timeout: `-1` waits forever, `0` takes only a connection that is already
/// waiting, `> 0` is the budget for the whole call.
///
/// Returns the fd (>= 0). Errors (`-1`, errno):
/// - `ETIMEDOUT`: no connection within the timeout (`EAGAIN` for
///   `timeout_ms == 0`).
/// - `EINVAL`: `listen_fd < 0`, unknown `flags` bits, `peer` non-NULL with
///   `peer_capacity < SL_ADDRSTRLEN`, `timeout_ms < -1`, or `listen_fd` is
///   a stream socket that is not listening.
/// - `EBADF` (not open), `ENOTSOCK` (not a socket), `EOPNOTSUPP` (a
///   datagram socket).
/// - `EINTR`: the thread's interrupt check ended the wait
///   (`sl_set_interrupt_check`).
/// - `EMFILE`/`ENFILE`: no fd left (the connection stays queued).
#[no_mangle]
pub unsafe extern "C" fn sl_accept(
    listen_fd: c_int,
    flags: c_int,
    timeout_ms: c_int,
    peer: *mut c_char,
    peer_capacity: usize,
) -> c_int {
    ffi_guard!({
        // SAFETY: the caller keeps `listen_fd` open for the call (the C contract).
        let listener = unsafe { borrow_fd(listen_fd) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        check(flags & !SL_ACCEPT_NONBLOCK == 0)?;
        check(peer.is_null() || peer_capacity >= SL_ADDRSTRLEN)?;
        let (fd, addr) = net::accept(listener, deadline, flags & SL_ACCEPT_NONBLOCK != 0)?;
        if !peer.is_null() {
            let text = net::address_text(&addr);
            // Cannot clip: SL_ADDRSTRLEN fits every address.
            let len = text.len().min(SL_ADDRSTRLEN - 1);
            // SAFETY: peer holds at least SL_ADDRSTRLEN > len bytes (checked above).
            unsafe {
                std::ptr::copy_nonoverlapping(text.as_ptr(), peer.cast::<u8>(), len);
                *peer.add(len) = 0;
            }
        }
        Ok(fd.into_raw_fd())
    })
}

/// Returns the text of the resolver's own message for an errno that
/// `sl_tcp_connect` or `sl_tcp_listen` set on a resolver failure: `ENOENT`
/// gives `gai_strerror(EAI_NONAME)` ("Name or service not known"),
/// `EHOSTDOWN` `gai_strerror(EAI_AGAIN)`, `EPROTO` `gai_strerror(EAI_FAIL)`;
/// any other value gives `strerror(errnum)`.
///
/// The string must not be freed or modified. Its lifetime: for `ENOENT`,
/// `EHOSTDOWN` and `EPROTO` it is the resolver's static text; for any other
/// value it is what `strerror(errnum)` returns, which with glibc is static
/// for a known errno value but, for an unknown one, a buffer of the calling
/// thread that its next `strerror` (or `sl_resolve_strerror`) call overwrites:
/// copy it to keep it. Never waits, never fails and never returns NULL
/// (except for an internal panic, with `errno` `EIO`).
#[no_mangle]
pub extern "C" fn sl_resolve_strerror(errnum: c_int) -> *const c_char {
    ffi_guard!({
        Ok(match net::resolver_message(errnum) {
            Some(text) => text.as_ptr(),
            // SAFETY: strerror returns a NUL-terminated string; glibc's is
            // static for known codes and thread-local for unknown ones.
            None => unsafe { libc::strerror(errnum) }.cast_const(),
        })
    })
}

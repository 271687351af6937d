//! `extern "C"` shims for socket options and the graceful close in
//! [`crate::sockopt`]. None of the setters waits; `on` is C truth (non-zero).

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::raw::c_int;
use std::time::Duration;

use super::{borrow_fd, check, ffi_guard, Errno};
use crate::deadline::Deadline;
use crate::sockopt;

/// A "0 = leave the system default" count: negative is `EINVAL`.
fn unless_zero(value: c_int) -> Result<Option<u32>, Errno> {
    check(value >= 0)?;
    Ok((value > 0).then_some(value as u32))
}

/// Turns `O_NONBLOCK` on (`on != 0`) or off for `fd`. Works on any fd
/// (sockets, pipes, ...). The sockloop transfer calls work either way; a
/// selector loop needs its fds non-blocking.
///
/// Never waits. Returns 0. Errors (`-1`, errno): `EINVAL`: `fd < 0`;
/// `EBADF`: not open.
#[no_mangle]
pub extern "C" fn sl_set_nonblocking(fd: c_int, on: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller's fd, used only during this call (a closed or
        // wrong one makes the system call fail with EBADF/ENOTSOCK).
        sockopt::set_nonblocking(unsafe { borrow_fd(fd)? }, on != 0)?;
        Ok(0)
    })
}

/// Sets `TCP_NODELAY` (`on != 0`: send small writes at once instead of
/// waiting to coalesce them, Nagle's algorithm off) on a TCP socket.
///
/// Never waits. Returns 0. Errors (`-1`, errno): `EINVAL`: `fd < 0`;
/// `EOPNOTSUPP`: not a TCP socket (a Unix socket); `ENOTSOCK`; `EBADF`.
#[no_mangle]
pub extern "C" fn sl_set_nodelay(fd: c_int, on: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller's fd, used only during this call (a closed or
        // wrong one makes the system call fail with EBADF/ENOTSOCK).
        sockopt::set_nodelay(unsafe { borrow_fd(fd)? }, on != 0)?;
        Ok(0)
    })
}

/// Sets `SO_REUSEADDR` (`on != 0`): lets a server bind its port again while
/// connections of a previous run are in `TIME_WAIT`. Must be set before
/// bind(2); `sl_tcp_listen` already does.
///
/// Never waits. Returns 0. Errors (`-1`, errno): `EINVAL`: `fd < 0`;
/// `ENOTSOCK`; `EBADF`.
#[no_mangle]
pub extern "C" fn sl_set_reuseaddr(fd: c_int, on: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller's fd, used only during this call (a closed or
        // wrong one makes the system call fail with EBADF/ENOTSOCK).
        sockopt::set_reuseaddr(unsafe { borrow_fd(fd)? }, on != 0)?;
        Ok(0)
    })
}

/// Turns TCP keep-alive probes on (`on != 0`) or off (`SO_KEEPALIVE`), so a
/// peer that vanished without a FIN or RST is eventually detected: a blocked
/// receive then fails with `ETIMEDOUT`.
///
/// When on, each parameter that is > 0 replaces the system default; 0 leaves
/// it: `idle_s` seconds of silence before the first probe (`TCP_KEEPIDLE`,
/// Linux default 7200), `interval_s` seconds between probes (`TCP_KEEPINTVL`,
/// default 75), `count` unanswered probes before the connection is dropped
/// (`TCP_KEEPCNT`, default 9). When off, they are ignored (but must still not
/// be negative).
///
/// Never waits. Returns 0. Errors (`-1`, errno): `EINVAL`: `fd < 0`, a
/// negative parameter,
/// or a value the kernel rejects (Linux: idle and interval 1..32767, count
/// 1..127); `EOPNOTSUPP`: the parameters on a non-TCP socket; `ENOTSOCK`;
/// `EBADF`.
#[no_mangle]
pub extern "C" fn sl_set_keepalive(fd: c_int, on: c_int, idle_s: c_int, interval_s: c_int, count: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller's fd, used only during this call (a closed or
        // wrong one makes the system call fail with EBADF/ENOTSOCK).
        let fd = unsafe { borrow_fd(fd)? };
        let idle = unless_zero(idle_s)?.map(|s| Duration::from_secs(s.into()));
        let interval = unless_zero(interval_s)?.map(|s| Duration::from_secs(s.into()));
        let count = unless_zero(count)?;
        sockopt::set_keepalive(fd, on != 0, idle, interval, count)?;
        Ok(0)
    })
}

/// Sets the kernel's send (`SO_SNDBUF`) and receive (`SO_RCVBUF`) buffer
/// sizes in bytes; 0 leaves that one alone.
///
/// Linux doubles the value you set (the extra half is bookkeeping overhead),
/// so `sl_get_buffer_sizes` reads back twice the request; it caps the request
/// at `net.core.wmem_max` / `net.core.rmem_max` (before doubling) and raises
/// it to a small minimum. Setting a size turns off the kernel's automatic
/// tuning for that buffer. Set the receive size before connect/listen for it
/// to shape the TCP window.
///
/// Never waits. Returns 0. Errors (`-1`, errno): `EINVAL`: `fd < 0` or a
/// negative size;
/// `ENOTSOCK`; `EBADF`. When the second one fails, the first stays set.
#[no_mangle]
pub extern "C" fn sl_set_buffer_sizes(fd: c_int, sndbuf: c_int, rcvbuf: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller's fd, used only during this call (a closed or
        // wrong one makes the system call fail with EBADF/ENOTSOCK).
        let fd = unsafe { borrow_fd(fd)? };
        let send = unless_zero(sndbuf)?.map(|n| n as usize);
        let recv = unless_zero(rcvbuf)?.map(|n| n as usize);
        sockopt::set_buffer_sizes(fd, send, recv)?;
        Ok(0)
    })
}

/// Reads the kernel's send and receive buffer sizes into `*sndbuf` and
/// `*rcvbuf` (either may be NULL). On Linux these are the doubled values
/// (see `sl_set_buffer_sizes`).
///
/// Never waits. Returns 0. Errors (`-1`, errno, outputs untouched):
/// `EINVAL`: `fd < 0`;
/// `ENOTSOCK`; `EBADF`.
#[no_mangle]
pub unsafe extern "C" fn sl_get_buffer_sizes(fd: c_int, sndbuf: *mut c_int, rcvbuf: *mut c_int) -> c_int {
    ffi_guard!({
        // SAFETY: the caller keeps `fd` open for the call (the C contract).
        let (send, recv) = sockopt::buffer_sizes(unsafe { borrow_fd(fd) }?)?;
        let clamp = |n: usize| n.min(c_int::MAX as usize) as c_int;
        if !sndbuf.is_null() {
            // SAFETY: non-NULL, so writable (the C contract).
            unsafe { *sndbuf = clamp(send) };
        }
        if !rcvbuf.is_null() {
            // SAFETY: non-NULL, so writable (the C contract).
            unsafe { *rcvbuf = clamp(recv) };
        }
        Ok(0)
    })
}

/// Closes a connected socket politely and says whether the peer finished
/// cleanly.
///
/// Steps: shutdown(SHUT_WR), so the peer reads all our bytes and then end of
/// stream; read and discard whatever the peer still sends until its end of
/// stream; close. Without the draining step, closing with unread input makes
/// the kernel send a reset, which can destroy our last reply before the peer
/// reads it.
///
/// `fd` is closed on every return except `EINVAL` and `EBADF` (bad fd or
/// arguments: nothing is done). Bytes the peer sent are discarded.
///
/// Timeout: the budget for the drain: `-1` waits for the peer's end of stream
/// however long it takes, `0` takes only what is already there, `> 0` is the
/// budget for the whole call. When it runs out, the fd is closed anyway (with
/// unread input, that sends a reset).
///
/// Returns 0 when the peer's end of stream arrived. Errors (`-1`, errno, fd
/// closed):
/// - `ETIMEDOUT`: no end of stream within the timeout (`EAGAIN` for
///   `timeout_ms == 0`).
/// - `ECONNRESET`: the peer reset the connection.
/// - `ENOTCONN`: the socket was not connected; `ENOTSOCK`: not a socket;
///   `EOPNOTSUPP`: a datagram socket, which has no end of stream to wait for
///   (checked before anything else, whatever the timeout).
/// - `EINTR`: the thread's interrupt check ended the drain
///   (`sl_set_interrupt_check`).
///
/// Errors with the fd left open: `EINVAL` (`fd < 0`, `timeout_ms < -1`),
/// `EBADF` (not open).
#[no_mangle]
pub unsafe extern "C" fn sl_close_graceful(fd: c_int, timeout_ms: c_int) -> c_int {
    ffi_guard!({
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        check(fd >= 0)?;
        // SAFETY: F_GETFD only reads the descriptor flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Errno(libc::EBADF));
        }
        // SAFETY: fd is open, and the C caller hands it over to be closed.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        sockopt::close_graceful(owned, deadline)?;
        Ok(0)
    })
}

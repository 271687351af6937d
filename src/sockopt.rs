//! Socket options in one call each, and the graceful close.
//!
//! The setters are `socket2`'s; this module only decides what "0 = leave the
//! system default" means for the multi-valued ones.
//!
//! ```
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use sockloop::deadline::Deadline;
//! use sockloop::sockopt::{buffer_sizes, close_graceful};
//!
//! let (a, b) = UnixStream::pair()?;
//! let (send, recv) = buffer_sizes(a.as_fd())?;
//! assert!(send > 0 && recv > 0);
//! drop(b); // the peer finished: the polite close sees its end of stream
//! close_graceful(a.into(), Deadline::from_timeout_ms(1000)?)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive, Type};

use crate::deadline::Deadline;
use crate::interrupt;
use crate::ready::{self, Interest};
use crate::sys::{cvt, errno};

/// Turns `O_NONBLOCK` on or off (any fd, not only sockets).
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    SockRef::from(&fd).set_nonblocking(on)
}

/// Makes a socket created non-blocking blocking, in one system call where
/// `set_nonblocking` reads the flags first (connects use it on every call).
pub fn make_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let off: libc::c_int = 0;
    // SAFETY: FIONBIO reads one int through the pointer, which outlives the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &off) }).map(drop)
}

/// Sets `TCP_NODELAY`: small writes go out at once instead of waiting for
/// the peer's acknowledgement (Nagle's algorithm).
pub fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    SockRef::from(&fd).set_tcp_nodelay(on)
}

/// Sets `SO_REUSEADDR`: a restarted server can bind while old connections
/// sit in `TIME_WAIT`.
pub fn set_reuseaddr(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    SockRef::from(&fd).set_reuse_address(on)
}

/// Keep-alive on or off. When on, each of `idle`, `interval` and `count` that is
/// `Some` replaces the system default (`TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
/// `TCP_KEEPCNT`).
pub fn set_keepalive(
    fd: BorrowedFd<'_>,
    on: bool,
    idle: Option<Duration>,
    interval: Option<Duration>,
    count: Option<u32>,
) -> io::Result<()> {
    let socket = SockRef::from(&fd);
    if !on {
        return socket.set_keepalive(false);
    }
    let mut params = TcpKeepalive::new();
    if let Some(idle) = idle {
        params = params.with_time(idle);
    }
    if let Some(interval) = interval {
        params = params.with_interval(interval);
    }
    if let Some(count) = count {
        params = params.with_retries(count);
    }
    socket.set_tcp_keepalive(&params)
}

/// Sets `SO_SNDBUF` / `SO_RCVBUF`; `None` leaves that one alone.
pub fn set_buffer_sizes(fd: BorrowedFd<'_>, send: Option<usize>, recv: Option<usize>) -> io::Result<()> {
    let socket = SockRef::from(&fd);
    if let Some(size) = send {
        socket.set_send_buffer_size(size)?;
    }
    if let Some(size) = recv {
        socket.set_recv_buffer_size(size)?;
    }
    Ok(())
}

/// The kernel's `(SO_SNDBUF, SO_RCVBUF)`.
pub fn buffer_sizes(fd: BorrowedFd<'_>) -> io::Result<(usize, usize)> {
    let socket = SockRef::from(&fd);
    Ok((socket.send_buffer_size()?, socket.recv_buffer_size()?))
}

/// Closes a connection the polite way: `shutdown(SHUT_WR)` so the peer reads
/// end-of-stream after our last byte, then reads and discards until the peer's
/// end-of-stream or the deadline, then closes. `fd` is closed on every return.
///
/// Why drain: closing a socket with unread input makes the kernel send a reset,
/// and a reset can destroy data the peer has not read yet (our last reply).
///
/// `Ok(())` means the peer closed cleanly; otherwise the error says why not
/// (`deadline.expired()`, `ECONNRESET`, `ENOTCONN`, ...).
pub fn close_graceful(fd: OwnedFd, deadline: Deadline) -> io::Result<()> {
    let socket = SockRef::from(&fd);
    // A connected datagram socket would wait for an end of stream that no
    // datagram socket has: say so at once, whatever the deadline.
    if matches!(socket.r#type(), Ok(t) if t == Type::DGRAM || t == Type::RAW) {
        return Err(errno(libc::EOPNOTSUPP));
    }
    if let Err(err) = socket.shutdown(Shutdown::Write) {
        // A connection the peer already reset is "not connected" any more;
        // the reset itself is the better answer.
        return Err(socket.take_error()?.unwrap_or(err));
    }
    let never_block = deadline.is_bounded() || interrupt::is_set();
    let flags = if never_block { libc::MSG_DONTWAIT } else { 0 };
    let mut sink = [MaybeUninit::<u8>::uninit(); 4096];
    loop {
        match socket.recv_with_flags(&mut sink, flags) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(err) => match err.raw_os_error() {
                Some(libc::EINTR) => interrupt::after_eintr()?,
                Some(libc::EAGAIN) => {
                    if !ready::wait(fd.as_raw_fd(), Interest::Readable, deadline)? {
                        return Err(deadline.expired());
                    }
                }
                _ => return Err(err),
            },
        }
    }
}

//! Unix-domain stream sockets: listen (replacing a stale socket file) and
//! connect within a deadline. `@name` is a Linux abstract-namespace name.
//!
//! Built on `socket2` (`SockAddr::unix` takes both forms); every socket is
//! close-on-exec.
//!
//! ```
//! use sockloop::deadline::Deadline;
//! use sockloop::unix::{unix_connect, unix_listen};
//!
//! let name = format!("@sockloop-doc-{}", std::process::id());
//! let listener = unix_listen(name.as_bytes(), 4)?;
//! let client = unix_connect(name.as_bytes(), Deadline::from_timeout_ms(1000)?)?;
//! # drop((listener, client));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::deadline::Deadline;
use crate::interrupt;
use crate::sockopt::make_blocking;
use crate::sys::errno;

/// The address for a name: a filesystem path, or on Linux `@name` for the
/// abstract namespace (stored as a leading NUL byte). Empty or a bare `@` is
/// `EINVAL`; a path that does not fit in `sun_path` is `ENAMETOOLONG`.
pub fn unix_address(name: &[u8]) -> io::Result<SockAddr> {
    let bytes: Vec<u8> = match name {
        [] | [b'@'] => return Err(errno(libc::EINVAL)),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        [b'@', rest @ ..] => [&[0u8][..], rest].concat(),
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        [b'@', ..] => return Err(errno(libc::EAFNOSUPPORT)),
        path => path.to_vec(),
    };
    SockAddr::unix(OsStr::from_bytes(&bytes)).map_err(|err| match err.raw_os_error() {
        Some(_) => err,
        None => errno(libc::ENAMETOOLONG),
    })
}

/// A listening Unix stream socket on `name`.
///
/// When a socket file is already there and nobody accepts on it (a connect is
/// refused: the server that made it died), it is removed and the bind is
/// retried. A live socket, or any file that is not a socket, is `EADDRINUSE`:
/// nothing else is ever deleted.
pub fn unix_listen(name: &[u8], backlog: i32) -> io::Result<OwnedFd> {
    let addr = unix_address(name)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    if let Err(err) = socket.bind(&addr) {
        let stale_path = match (err.raw_os_error(), addr.as_pathname()) {
            (Some(libc::EADDRINUSE), Some(path)) if is_stale(&addr, path)? => path.to_owned(),
            _ => return Err(err),
        };
        std::fs::remove_file(&stale_path)?;
        socket.bind(&addr)?;
    }
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// True when `path` is a socket file that refuses connections.
fn is_stale(addr: &SockAddr, path: &std::path::Path) -> io::Result<bool> {
    if !std::fs::symlink_metadata(path)?.file_type().is_socket() {
        return Ok(false);
    }
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?; // a live listener with a full backlog says EAGAIN
    Ok(matches!(probe.connect(addr), Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED)))
}

/// Connects to the Unix stream socket `name` within `deadline`; the fd is
/// blocking and close-on-exec.
///
/// A Unix connect waits only when the listener's backlog is full. So a
/// bounded connect first tries without blocking (one system call more than a
/// bare connect when it succeeds, as it usually does); `0` stops there. After
/// that a blocking connect waits: on Linux at most `SO_SNDTIMEO`, then it
/// fails with `EAGAIN`, so the remaining time goes there (reset afterwards).
/// An unbounded connect under an interrupt check takes the same path, in
/// chunks: with a timeout set on the socket the kernel never restarts the
/// connect after a signal, so the check sees every `EINTR`.
pub fn unix_connect(name: &[u8], deadline: Deadline) -> io::Result<OwnedFd> {
    /// How long one wait of an unbounded connect lasts before it is renewed.
    const FOREVER_CHUNK_MS: i32 = 60_000;
    let addr = unix_address(name)?;
    if deadline == Deadline::Never && !interrupt::is_set() {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        while let Err(err) = socket.connect(&addr) {
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
        }
        return Ok(socket.into());
    }
    let socket = crate::net::nonblocking_stream(Domain::UNIX)?;
    let first = socket.connect(&addr);
    make_blocking(socket.as_fd())?;
    match first {
        Ok(()) => return Ok(socket.into()),
        Err(err) if err.raw_os_error() != Some(libc::EAGAIN) => return Err(err),
        Err(_) => {}
    }
    let result = loop {
        let ms = match deadline.poll_timeout_ms() {
            None | Some(0) => break Err(deadline.expired()),
            Some(-1) => FOREVER_CHUNK_MS,
            Some(ms) => ms,
        };
        socket.set_write_timeout(Some(Duration::from_millis(ms as u64)))?;
        match socket.connect(&addr) {
            Ok(()) => break Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::EINTR) => {
                if let Err(err) = interrupt::after_eintr() {
                    break Err(err);
                }
            }
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => {} // the loop checks the time
            Err(err) => break Err(err),
        }
    };
    socket.set_write_timeout(None)?;
    result.map(|()| socket.into())
}

/// Starts a connect to the Unix stream socket `name` without waiting: a
/// non-blocking, close-on-exec socket. A Unix connect has no handshake in
/// flight: it is done at once, or refused, or (backlog full) `EAGAIN`, in
/// which case no fd is returned and Linux offers no readiness event for the
/// moment the backlog frees: try again later. [`crate::net::connect_finish`]
/// on the returned fd reports success at once.
pub fn unix_connect_start(name: &[u8]) -> io::Result<OwnedFd> {
    let addr = unix_address(name)?;
    let socket = crate::net::nonblocking_stream(Domain::UNIX)?;
    socket.connect(&addr)?;
    Ok(socket.into())
}

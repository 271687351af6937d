//! Unix-domain stream sockets: listen (replacing a stale socket file) and
//! connect within a deadline. `@name` is a Linux abstract-namespace name.
//!
//! Built on `socket2` (`SockAddr::unix` takes both forms); every socket is
//! close-on-exec.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::deadline::Deadline;
use crate::net::os_error;

/// The address for a name: a filesystem path, or on Linux `@name` for the
/// abstract namespace (stored as a leading NUL byte). Empty or a bare `@` is
/// `EINVAL`; a path that does not fit in `sun_path` is `ENAMETOOLONG`.
pub fn unix_address(name: &[u8]) -> io::Result<SockAddr> {
    let bytes: Vec<u8> = match name {
        [] | [b'@'] => return Err(os_error(libc::EINVAL)),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        [b'@', rest @ ..] => [&[0u8][..], rest].concat(),
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        [b'@', ..] => return Err(os_error(libc::EAFNOSUPPORT)),
        path => path.to_vec(),
    };
    SockAddr::unix(OsStr::from_bytes(&bytes)).map_err(|err| match err.raw_os_error() {
        Some(_) => err,
        None => os_error(libc::ENAMETOOLONG),
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
/// A Unix connect waits only when the listener's backlog is full. On Linux a
/// blocking connect waits at most `SO_SNDTIMEO` and then fails with `EAGAIN`,
/// so the remaining time goes there (and is reset afterwards); `0` makes one
/// non-blocking attempt.
pub fn unix_connect(name: &[u8], deadline: Deadline) -> io::Result<OwnedFd> {
    let addr = unix_address(name)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    let mut timed = false; // SO_SNDTIMEO was set and must be reset
    loop {
        let Some(ms) = deadline.poll_timeout_ms() else {
            return Err(deadline.expired());
        };
        match ms {
            0 => socket.set_nonblocking(true)?,
            -1 => {}
            ms => {
                socket.set_write_timeout(Some(Duration::from_millis(ms as u64)))?;
                timed = true;
            }
        }
        match socket.connect(&addr) {
            Ok(()) => break,
            Err(err) => match err.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN | libc::EINPROGRESS) if ms != 0 => {} // the loop checks the time
                Some(libc::EAGAIN | libc::EINPROGRESS) => return Err(deadline.expired()),
                _ => return Err(err),
            },
        }
    }
    if deadline == Deadline::Immediate {
        socket.set_nonblocking(false)?;
    }
    if timed {
        socket.set_write_timeout(None)?;
    }
    Ok(socket.into())
}

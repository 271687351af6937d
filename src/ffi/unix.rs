//! `extern "C"` shims for Unix-domain sockets in [`crate::unix`].

use std::os::fd::IntoRawFd;
use std::os::raw::{c_char, c_int};

use super::{c_text, check, ffi_guard, Errno};
use crate::deadline::Deadline;
use crate::unix;

/// Opens a listening Unix-domain stream socket on `path` and returns its fd.
///
/// `path` is a filesystem path, or on Linux "@name" for the abstract
/// namespace: no file is created and the name disappears with the last fd
/// (to bind a file whose name starts with '@', write "./@name").
///
/// A socket file left behind by a server that died is removed and replaced,
/// but only when nothing accepts on it (a test connect is refused). A live
/// socket, or any file that is not a socket, gives `EADDRINUSE` and is left
/// alone; the live server then sees the test connect as one connection that
/// ends at once (its first read returns end of stream). The check and the
/// removal are not atomic: two servers starting at the same instant on one
/// path can both believe the file stale. The file is not removed when the fd is closed: `unlink(path)` when
/// done.
///
/// `backlog` is passed to listen(2) (capped by the kernel at
/// `net.core.somaxconn`). The fd is blocking and close-on-exec; the caller
/// closes it. Never waits.
///
/// Returns the fd (>= 0). Errors (`-1`, errno):
/// - `EADDRINUSE`: a live socket or another kind of file is at `path`, or
///   the abstract name is taken.
/// - `ENAMETOOLONG`: `path` does not fit in `sun_path` (107 bytes and the
///   NUL; 107 after the '@' for an abstract name).
/// - `EINVAL`: `path` NULL, "" or "@"; `backlog < 0`.
/// - `EAFNOSUPPORT`: an "@name" on a system without abstract names.
/// - `ENOENT`, `EACCES`, `ENOTDIR`, ...: the directory's own errors.
/// - `EMFILE`/`ENFILE`: no fd left.
#[no_mangle]
pub unsafe extern "C" fn sl_unix_listen(path: *const c_char, backlog: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: `path` is NULL or a NUL-terminated string (the C contract).
        let name = unsafe { c_text(path) }.ok_or(Errno(libc::EINVAL))?;
        check(backlog >= 0)?;
        Ok(unix::unix_listen(name, backlog)?.into_raw_fd())
    })
}

/// Connects to the Unix-domain stream socket `path` ("@name" for an
/// abstract name, as `sl_unix_listen`) and returns a blocking, close-on-exec
/// fd; the caller closes it.
///
/// Timeout: a Unix connect waits only while the listener's backlog is full.
/// `-1` waits forever, `0` makes one non-blocking attempt (`EAGAIN` when the
/// backlog is full), `> 0` is the budget for the whole call (done with
/// `SO_SNDTIMEO` on Linux, which is reset to 0 on return).
///
/// Returns the fd (>= 0). Errors (`-1`, errno):
/// - `ETIMEDOUT`: the backlog stayed full for the whole timeout.
/// - `EINTR`: the thread's interrupt check ended the wait
///   (`sl_set_interrupt_check`).
/// - `ECONNREFUSED`: a socket file nobody listens on (stale), or a name
///   nobody listens on.
/// - `ENOENT`: no such file; `EACCES`: no write permission on it.
/// - `ENAMETOOLONG`, `EAFNOSUPPORT`: as `sl_unix_listen`.
/// - `EINVAL`: `path` NULL, "" or "@"; `timeout_ms < -1`.
/// - `EMFILE`/`ENFILE`: no fd left.
#[no_mangle]
pub unsafe extern "C" fn sl_unix_connect(path: *const c_char, timeout_ms: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: `path` is NULL or a NUL-terminated string (the C contract).
        let name = unsafe { c_text(path) }.ok_or(Errno(libc::EINVAL))?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        Ok(unix::unix_connect(name, deadline)?.into_raw_fd())
    })
}

/// Starts a connection to the Unix-domain stream socket `path` ("@name" for
/// an abstract name) without waiting, for event loops: the counterpart of
/// `sl_tcp_connect_start`. A Unix connect has no handshake in flight: it
/// completes at once, so the returned fd is already connected
/// (`sl_connect_finish(fd, 0)` returns 0 at once, and a selector reports it
/// writable at once). The fd is non-blocking and close-on-exec; the caller
/// closes it.
///
/// Returns the fd (>= 0). Errors (`-1`, errno; no fd left open):
/// - `EAGAIN`: the listener's backlog is full. Linux gives no readiness event
///   for the moment it frees: try again later (or use `sl_unix_connect` with
///   a timeout, which waits).
/// - `ECONNREFUSED`, `ENOENT`, `EACCES`, `ENAMETOOLONG`, `EAFNOSUPPORT`: as
///   `sl_unix_connect`.
/// - `EINVAL`: `path` NULL, "" or "@".
/// - `EMFILE`/`ENFILE`: no fd left.
#[no_mangle]
pub unsafe extern "C" fn sl_unix_connect_start(path: *const c_char) -> c_int {
    ffi_guard!({
        // SAFETY: `path` is NULL or a NUL-terminated string (the C contract).
        let name = unsafe { c_text(path) }.ok_or(Errno(libc::EINVAL))?;
        Ok(unix::unix_connect_start(name)?.into_raw_fd())
    })
}

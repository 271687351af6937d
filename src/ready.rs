//! Readiness: waiting until an fd can be read or written.
//!
//! Built on `poll(2)`, so any fd number works (no `FD_SETSIZE` limit). Error and
//! hang-up conditions count as ready: the next `recv`/`send` reports them.

use std::io;
use std::os::fd::RawFd;

use crate::deadline::Deadline;

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Readable,
    Writable,
}

impl Interest {
    fn poll_events(self) -> libc::c_short {
        match self {
            Interest::Readable => libc::POLLIN,
            Interest::Writable => libc::POLLOUT,
        }
    }
}

/// Waits until `fd` is ready for `interest` or the deadline passes.
///
/// Returns `Ok(true)` when ready (including error and hang-up), `Ok(false)` when
/// the deadline passed first. `EINTR` is retried with the time that is left; a
/// closed fd is `EBADF`.
pub fn wait(fd: RawFd, interest: Interest, deadline: Deadline) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: interest.poll_events(), revents: 0 };
    loop {
        let Some(timeout) = deadline.poll_timeout_ms() else {
            return Ok(false);
        };
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            if deadline == Deadline::Immediate {
                return Ok(false);
            }
            continue; // poll_timeout_ms() decides whether time is really up
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        return Ok(true);
    }
}

//! Readiness: waiting until fds can be read or written.
//!
//! Built on `poll(2)`, so any fd number works (no `FD_SETSIZE` limit: `FD_SET`
//! on an fd of 1024 or more writes past the `fd_set`). Error and hang-up
//! conditions count as ready: the next `recv`/`send` reports them.
//!
//! ```
//! use std::io::Write;
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use sockloop::deadline::Deadline;
//! use sockloop::ready::{select, wait_readable};
//!
//! let (a, mut b) = UnixStream::pair()?;
//! assert!(!wait_readable(a.as_raw_fd(), Deadline::Immediate)?);
//! b.write_all(b"x")?;
//! let ready = select(&[a.as_raw_fd()], &[], &[], Some(Duration::from_secs(1)))?;
//! assert_eq!(ready.readers().collect::<Vec<_>>(), [a.as_raw_fd()]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::interrupt;
use crate::sys::errno;

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Data, end of stream or a connection to accept (or an error).
    Readable,
    /// Room to send (or an error).
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

/// The waiting loop of every readiness call: runs `attempt(timeout_ms)` (a
/// `poll`/`epoll_wait`-like call returning a count or -1 with errno) with the
/// time left until it reports something or the deadline passes.
///
/// `first_timeout` is the caller's own `timeout_ms` when `deadline` was made
/// from it just now: the first attempt then gets the whole budget without a
/// second clock read (about a tenth of an `epoll_wait` that finds an fd ready).
///
/// Returns the count, or 0 once the deadline has passed. `EINTR` is retried
/// with the time that is left unless the thread's interrupt check says to
/// stop ([`interrupt::after_eintr`]), and an early timeout (the kernel
/// rounds) is retried too, so 0 means the time really ran out.
pub(crate) fn wait_loop(
    deadline: Deadline,
    mut first_timeout: Option<libc::c_int>,
    mut attempt: impl FnMut(libc::c_int) -> libc::c_int,
) -> io::Result<usize> {
    loop {
        let Some(timeout) = first_timeout.take().or_else(|| deadline.poll_timeout_ms()) else {
            return Ok(0);
        };
        let n = attempt(timeout);
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                interrupt::after_eintr()?;
                continue;
            }
            return Err(err);
        }
        if n > 0 || deadline == Deadline::Immediate {
            return Ok(n as usize);
        }
        // n == 0: poll_timeout_ms() decides whether time is really up.
    }
}

/// Runs `poll(2)` on `fds` until something is ready or the deadline passes:
/// returns the number of entries with `revents != 0`, or 0 once the deadline
/// has passed (`EINTR` retried as everywhere). An empty `fds` just waits out the deadline.
pub fn poll_until(fds: &mut [libc::pollfd], deadline: Deadline) -> io::Result<usize> {
    // SAFETY: fds is a valid array of fds.len() pollfds.
    wait_loop(deadline, None, |timeout| unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) })
}

/// Waits until `fd` is ready for `interest` or the deadline passes.
///
/// Returns `Ok(true)` when ready (including error and hang-up), `Ok(false)` when
/// the deadline passed first. `EINTR` is retried with the time that is left; a
/// negative fd is `EINVAL` (poll would ignore it and wait out the deadline), a
/// closed one `EBADF`.
pub fn wait(fd: RawFd, interest: Interest, deadline: Deadline) -> io::Result<bool> {
    if fd < 0 {
        return Err(errno(libc::EINVAL));
    }
    let mut pfd = libc::pollfd { fd, events: interest.poll_events(), revents: 0 };
    if poll_until(std::slice::from_mut(&mut pfd), deadline)? == 0 {
        return Ok(false);
    }
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(errno(libc::EBADF));
    }
    Ok(true)
}

/// [`wait`] for [`Interest::Readable`].
pub fn wait_readable(fd: RawFd, deadline: Deadline) -> io::Result<bool> {
    wait(fd, Interest::Readable, deadline)
}

/// [`wait`] for [`Interest::Writable`].
pub fn wait_writable(fd: RawFd, deadline: Deadline) -> io::Result<bool> {
    wait(fd, Interest::Writable, deadline)
}

/// The result of [`select`]: the polled entries, from which each list's
/// ready subset is read in input order (one allocation per call, no copies).
#[derive(Clone, Debug, Default)]
pub struct Selected {
    fds: Vec<libc::pollfd>,
    nreaders: usize,
    nwriters: usize,
}

impl Selected {
    fn ready(&self, range: std::ops::Range<usize>, mask: libc::c_short) -> impl Iterator<Item = RawFd> + '_ {
        self.fds[range].iter().filter(move |p| p.revents & mask != 0).map(|p| p.fd)
    }

    /// The ready readers, in input order.
    pub fn readers(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.ready(0..self.nreaders, READ_READY)
    }

    /// The ready writers, in input order.
    pub fn writers(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.ready(self.nreaders..self.nreaders + self.nwriters, WRITE_READY)
    }

    /// The errs with an exceptional condition, in input order.
    pub fn errs(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.ready(self.nreaders + self.nwriters..self.fds.len(), ERR_READY)
    }

    /// Ready entries over all three lists (an fd ready in two counts twice).
    pub fn total(&self) -> usize {
        self.readers().count() + self.writers().count() + self.errs().count()
    }
}

// What makes an entry of each list ready, as Linux's select(2) decides it,
// except that a hang-up also wakes writers (the send then reports EPIPE), and
// a hang-up or pending socket error also counts as an "error" condition, which
// is what the HOWTO's potential_errs is for (and poll reports both whether
// asked or not: leaving them out would make a wait return with nothing).
const READ_READY: libc::c_short = libc::POLLIN | libc::POLLHUP | libc::POLLERR;
const WRITE_READY: libc::c_short = libc::POLLOUT | libc::POLLHUP | libc::POLLERR;
const ERR_READY: libc::c_short = libc::POLLPRI | libc::POLLHUP | libc::POLLERR;

/// The HOWTO's `select(potential_readers, potential_writers, potential_errs,
/// timeout)` on `poll(2)`: any fd number, any number of fds, cost of one poll.
///
/// Readers are ready with data, end of stream, hang-up or a pending error;
/// writers when a write would not block, or on hang-up or error; errs on
/// exceptional conditions (`POLLPRI`: out-of-band data), hang-up or a pending
/// error. `timeout`: `None` forever, zero one check, else a whole-call
/// budget (rounded up to whole milliseconds); when it passes first, every
/// subset is empty. A negative fd is `EINVAL`, a closed one `EBADF` (as
/// `select(2)`), out of memory `ENOMEM`. An fd may appear in several lists,
/// and more than once in one; each entry is reported on its own.
pub fn select(readers: &[RawFd], writers: &[RawFd], errs: &[RawFd], timeout: Option<Duration>) -> io::Result<Selected> {
    let deadline = Deadline::from_timeout(timeout);
    let mut fds = Vec::new();
    // Out of memory is ENOMEM for the caller, not an abort of its process.
    fds.try_reserve_exact(readers.len() + writers.len() + errs.len()).map_err(|_| errno(libc::ENOMEM))?;
    let lists = [(readers, libc::POLLIN), (writers, libc::POLLOUT), (errs, libc::POLLPRI)];
    for (list, events) in lists {
        for &fd in list {
            if fd < 0 {
                return Err(errno(libc::EINVAL));
            }
            fds.push(libc::pollfd { fd, events, revents: 0 });
        }
    }
    // The deadline was taken just now: the first poll gets all of it.
    // SAFETY: fds is a valid array of fds.len() pollfds.
    let ready = wait_loop(deadline, Some(Deadline::first_wait_ms(timeout)), |timeout| unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout)
    })?;
    if ready == 0 {
        fds.iter_mut().for_each(|p| p.revents = 0);
    } else if fds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        return Err(errno(libc::EBADF));
    }
    Ok(Selected { fds, nreaders: readers.len(), nwriters: writers.len() })
}

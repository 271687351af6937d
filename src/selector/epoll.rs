//! The epoll backend: the kernel keeps the interest list, so a select costs
//! one `epoll_wait` whatever the number of registered fds.
//!
//! Level-triggered, as `selectors.EpollSelector`. The kernel moves each
//! reported fd to the back of its ready list, so when more fds are ready than
//! one select takes, the next select reports the others first: no starvation.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::{Events, Token};
use crate::deadline::Deadline;
use crate::ready::wait_loop;
use crate::sys::{cvt, errno};

pub const NAME: &str = "epoll";

pub struct Backend {
    epoll: OwnedFd,
    /// Reused between selects: grows to the largest `max` asked for.
    buffer: Vec<libc::epoll_event>,
}

fn epoll_bits(events: Events) -> u32 {
    let mut bits = 0;
    if events.is_readable() {
        bits |= libc::EPOLLIN as u32;
    }
    if events.is_writable() {
        bits |= libc::EPOLLOUT as u32;
    }
    bits
}

fn ready_events(bits: u32) -> Events {
    // Error and hang-up wake both directions, as in selectors.
    let both = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
    let read = bits & (libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32 | both) != 0;
    let write = bits & (libc::EPOLLOUT as u32 | both) != 0;
    Events::from_bits(read as i32 | (write as i32) << 1).unwrap_or(Events::NONE)
}

impl Backend {
    pub fn new() -> io::Result<Backend> {
        // SAFETY: plain system call; a non-negative result is a new fd we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        cvt(fd)?;
        // SAFETY: fd was just created and is owned by nobody else.
        Ok(Backend { epoll: unsafe { OwnedFd::from_raw_fd(fd) }, buffer: Vec::new() })
    }

    fn ctl(epoll: RawFd, op: libc::c_int, fd: RawFd, events: Events, token: Token) -> io::Result<()> {
        let mut event = libc::epoll_event { events: epoll_bits(events), u64: token };
        // SAFETY: event is a valid epoll_event for the call.
        cvt(unsafe { libc::epoll_ctl(epoll, op, fd, &mut event) }).map(drop)
    }

    pub fn add(&mut self, fd: RawFd, events: Events, token: Token) -> io::Result<()> {
        Self::ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn modify(&mut self, fd: RawFd, events: Events, token: Token) -> io::Result<()> {
        Self::ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Ignores errors: after a close the kernel has already dropped the fd
    /// (`EBADF`) or the number now names another file (`ENOENT`, `EPERM`);
    /// a watch of the old file that outlives this is stale, and the selector
    /// rebuilds the set when it reports.
    pub fn delete(&mut self, fd: RawFd) {
        let _ = Self::ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, Events::READ, 0);
    }

    /// Replaces the kernel set with a new one watching exactly `watches`;
    /// on failure (`ENOMEM`, `ENOSPC`, `EMFILE`) the old set stays. A
    /// registered fd that was closed meanwhile (`EBADF`) is left out: its
    /// watch is gone either way, and unregistering it is the caller's part.
    pub fn rebuild(&mut self, watches: impl Iterator<Item = (RawFd, Events, Token)>) -> io::Result<()> {
        let new = Backend::new()?;
        for (fd, events, token) in watches {
            match Self::ctl(new.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, events, token) {
                Err(err) if err.raw_os_error() != Some(libc::EBADF) => return Err(err),
                _ => {}
            }
        }
        self.epoll = new.epoll;
        Ok(())
    }

    /// One `epoll_wait` for at most `max` events (retried on `EINTR`, see
    /// [`wait_loop`] for `first_timeout`), each passed to `each`; returns how
    /// many the kernel reported.
    pub fn wait(
        &mut self,
        max: usize,
        deadline: Deadline,
        first_timeout: Option<libc::c_int>,
        each: &mut dyn FnMut(Token, Events),
    ) -> io::Result<usize> {
        let max = max.min(libc::c_int::MAX as usize);
        if self.buffer.len() < max {
            let more = max - self.buffer.len();
            self.buffer.try_reserve_exact(more).map_err(|_| errno(libc::ENOMEM))?;
            self.buffer.resize(max, libc::epoll_event { events: 0, u64: 0 });
        }
        let (epoll, buffer) = (self.epoll.as_raw_fd(), &mut self.buffer);
        // SAFETY: buffer holds at least max epoll_events.
        let n = wait_loop(deadline, first_timeout, |timeout| unsafe {
            libc::epoll_wait(epoll, buffer.as_mut_ptr(), max as libc::c_int, timeout)
        })?;
        for event in &buffer[..n] {
            let (bits, token) = (event.events, event.u64);
            each(token, ready_events(bits));
        }
        Ok(n)
    }
}

//! The poll backend: one `pollfd` per registered fd, scanned on every select
//! (cost grows with the registered fds). Used where epoll does not exist, and
//! on Linux with the `poll-backend` feature so that it stays tested.
//!
//! Fairness: reporting resumes after the last fd reported, round-robin over
//! the set, so when more fds are ready than one select takes, the others come
//! first in the next select.

use std::io;
use std::os::fd::RawFd;

use super::{Events, FdMap, Token};
use crate::deadline::Deadline;
use crate::ready::wait_loop;
use crate::sys::{cvt, errno};

pub const NAME: &str = "poll";

pub struct Backend {
    fds: Vec<libc::pollfd>,
    /// The token of each entry of `fds`.
    tokens: Vec<Token>,
    /// fd -> its index in `fds`.
    index: FdMap<usize>,
    /// Where the next scan of `fds` starts.
    next: usize,
}

fn poll_bits(events: Events) -> libc::c_short {
    let mut bits = 0;
    if events.is_readable() {
        bits |= libc::POLLIN;
    }
    if events.is_writable() {
        bits |= libc::POLLOUT;
    }
    bits
}

fn ready_events(revents: libc::c_short) -> Events {
    // Error, hang-up and a closed fd wake both directions, as in selectors:
    // the caller's next I/O reports what happened.
    let both = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
    let read = revents & (libc::POLLIN | libc::POLLPRI | both) != 0;
    let write = revents & (libc::POLLOUT | both) != 0;
    Events::from_bits(read as i32 | (write as i32) << 1).unwrap_or(Events::NONE)
}

/// poll accepts any number; an fd must be open to be added or changed, as
/// with epoll_ctl (`EBADF`).
fn check_open(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD only reads the fd's flags.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) }).map(drop)
}

impl Backend {
    pub fn new() -> io::Result<Backend> {
        Ok(Backend { fds: Vec::new(), tokens: Vec::new(), index: FdMap::default(), next: 0 })
    }

    pub fn add(&mut self, fd: RawFd, events: Events, token: Token) -> io::Result<()> {
        check_open(fd)?;
        let enomem = |_| errno(libc::ENOMEM);
        self.index.try_reserve(1).map_err(enomem)?;
        self.fds.try_reserve(1).map_err(enomem)?;
        self.tokens.try_reserve(1).map_err(enomem)?;
        self.index.insert(fd, self.fds.len());
        self.fds.push(libc::pollfd { fd, events: poll_bits(events), revents: 0 });
        self.tokens.push(token);
        Ok(())
    }

    pub fn modify(&mut self, fd: RawFd, events: Events, token: Token) -> io::Result<()> {
        check_open(fd)?;
        if let Some(&i) = self.index.get(&fd) {
            self.fds[i].events = poll_bits(events);
            self.tokens[i] = token;
        }
        Ok(())
    }

    pub fn delete(&mut self, fd: RawFd) {
        let Some(i) = self.index.remove(&fd) else { return };
        self.fds.swap_remove(i);
        self.tokens.swap_remove(i);
        if let Some(moved) = self.fds.get(i) {
            self.index.insert(moved.fd, i);
        }
    }

    /// Nothing to do: the set is the registrations themselves, so an
    /// unregistered fd is never polled again.
    pub fn rebuild(&mut self, _watches: impl Iterator<Item = (RawFd, Events, Token)>) -> io::Result<()> {
        Ok(())
    }

    /// One `poll` over every registered fd (retried on `EINTR`, see
    /// [`wait_loop`] for `first_timeout`); passes at
    /// most `max` ready fds to `each`, starting after the last one reported
    /// by the previous call. Returns how many it passed.
    pub fn wait(
        &mut self,
        max: usize,
        deadline: Deadline,
        first_timeout: Option<libc::c_int>,
        each: &mut dyn FnMut(Token, Events),
    ) -> io::Result<usize> {
        let fds = &mut self.fds;
        // SAFETY: fds is a valid array of fds.len() pollfds.
        let ready = wait_loop(deadline, first_timeout, |timeout| unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout)
        })?;
        if ready == 0 {
            return Ok(0);
        }
        let len = self.fds.len();
        let start = self.next.min(len);
        let mut passed = 0;
        for i in (start..len).chain(0..start) {
            let pfd = self.fds[i];
            if pfd.revents == 0 {
                continue;
            }
            each(self.tokens[i], ready_events(pfd.revents));
            passed += 1;
            if passed == max {
                self.next = i + 1;
                break;
            }
        }
        Ok(passed)
    }
}

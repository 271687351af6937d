//! A selector: Python's `selectors` module for fds, with a `usize` of caller
//! data per registration.
//!
//! The backend is epoll on Linux (the cost of a select grows with the ready
//! fds, not the registered ones) and `poll(2)` elsewhere; the `poll-backend`
//! cargo feature picks poll on Linux too, so that it is built and tested.
//!
//! Semantics follow `selectors`: registering an fd twice is `EEXIST`, an
//! unknown fd `ENOENT`, an empty or unknown event mask `EINVAL`; error and
//! hang-up are reported as readable *and* writable, then masked with the
//! registered events; a positive timeout is rounded up to whole milliseconds
//! and `EINTR` is retried with the time left; with nothing registered, a
//! select waits out its timeout. When more fds are ready than the caller takes
//! in one select, the rest come first in the next ones: no fd starves.
//!
//! Close an fd only after unregistering it (see [`Selector::unregister`]). A
//! selector is not synchronised: one thread at a time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::RawFd;

use crate::deadline::Deadline;

#[cfg(all(any(target_os = "linux", target_os = "android"), not(feature = "poll-backend")))]
#[path = "selector/epoll.rs"]
mod backend;
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(feature = "poll-backend"))))]
#[path = "selector/poll.rs"]
mod backend;

/// The name of the backend this build uses: `"epoll"` or `"poll"`.
pub const BACKEND: &str = backend::NAME;

/// A set of readiness events: [`Events::READ`], [`Events::WRITE`] or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Events(u8);

impl Events {
    pub const READ: Events = Events(1);
    pub const WRITE: Events = Events(2);
    pub const BOTH: Events = Events(3);
    const NONE: Events = Events(0);

    /// The mask from its bits (`1` read, `2` write); `None` for an empty mask
    /// or unknown bits, which are `EINVAL`.
    pub fn from_bits(bits: i32) -> Option<Events> {
        (1..=3).contains(&bits).then_some(Events(bits as u8))
    }

    pub fn bits(self) -> i32 {
        self.0 as i32
    }

    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    fn and(self, other: Events) -> Events {
        Events(self.0 & other.0)
    }
}

/// What was registered for an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    pub events: Events,
    pub data: usize,
}

/// One ready fd: its ready events (within the registered ones) and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub fd: RawFd,
    pub events: Events,
    pub data: usize,
}

/// A map keyed by fd. fds are small distinct integers chosen by the kernel,
/// not by a peer, so a multiplicative hash is enough: SipHash's flooding
/// resistance would cost a tenth of an `epoll_wait` on every ready event.
pub(crate) type FdMap<V> = HashMap<RawFd, V, BuildHasherDefault<FdHasher>>;

#[derive(Default)]
pub(crate) struct FdHasher(u64);

impl Hasher for FdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_i32(&mut self, fd: i32) {
        // Fibonacci hashing: spreads consecutive fds over the high bits too.
        self.0 = (fd as u32 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// Registered fds and the kernel object (or poll set) that watches them.
pub struct Selector {
    registry: FdMap<Registration>,
    backend: backend::Backend,
}

impl Selector {
    /// A new, empty selector. With epoll it holds one close-on-exec fd.
    pub fn new() -> io::Result<Selector> {
        Ok(Selector { registry: FdMap::default(), backend: backend::Backend::new()? })
    }

    /// Starts watching `fd` for `events`, reporting `data` with each event.
    ///
    /// Errors: `EINVAL` negative fd, `EEXIST` already registered, `EBADF` not
    /// an open fd; with epoll, `EPERM` for an fd epoll cannot watch (a regular
    /// file or directory).
    pub fn register(&mut self, fd: RawFd, events: Events, data: usize) -> io::Result<()> {
        if fd < 0 {
            return Err(errno(libc::EINVAL));
        }
        if self.registry.contains_key(&fd) {
            return Err(errno(libc::EEXIST));
        }
        // Reserve first, so that out of memory is ENOMEM and never leaves the
        // kernel watching an fd the table does not know.
        self.registry.try_reserve(1).map_err(|_| errno(libc::ENOMEM))?;
        self.backend.add(fd, events)?;
        self.registry.insert(fd, Registration { events, data });
        Ok(())
    }

    /// Changes the events and data of a registered fd (`ENOENT` if it is not).
    pub fn modify(&mut self, fd: RawFd, events: Events, data: usize) -> io::Result<()> {
        let reg = self.registry.get_mut(&fd).ok_or_else(|| errno(libc::ENOENT))?;
        if reg.events != events {
            self.backend.modify(fd, events)?;
        }
        *reg = Registration { events, data };
        Ok(())
    }

    /// Stops watching `fd` (`ENOENT` if it is not registered) and returns its
    /// registration.
    ///
    /// Succeeds for an fd that was closed while registered, so the entry can
    /// always be removed. Unregister *before* closing, though: with epoll the
    /// kernel watches the open file, not the number, so a closed fd whose file
    /// is still open elsewhere (a `dup`, a forked child) keeps being reported,
    /// and once unregistered it can no longer be removed from the kernel, so
    /// selects wake for it and spin until their timeout while that file stays
    /// open; with poll a closed fd is reported ready (its next I/O fails with
    /// `EBADF`).
    pub fn unregister(&mut self, fd: RawFd) -> io::Result<Registration> {
        let reg = self.registry.remove(&fd).ok_or_else(|| errno(libc::ENOENT))?;
        self.backend.delete(fd);
        Ok(reg)
    }

    /// The registration of `fd`, or `None`.
    pub fn get(&self, fd: RawFd) -> Option<Registration> {
        self.registry.get(&fd).copied()
    }

    /// Number of registered fds.
    pub fn len(&self) -> usize {
        self.registry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.registry.is_empty()
    }

    /// Waits until a registered fd is ready or `timeout_ms` passes (`-1`
    /// forever, `0` one check, `> 0` a whole-call deadline, as `poll(2)`), and
    /// hands at most `max` ready events to `each(index, event)`. Returns how
    /// many (0: the time ran out). `max == 0` or `timeout_ms < -1` is `EINVAL`.
    pub fn select(&mut self, max: usize, timeout_ms: i32, mut each: impl FnMut(usize, Event)) -> io::Result<usize> {
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        if max == 0 {
            return Err(errno(libc::EINVAL));
        }
        // The deadline was taken just now: the first wait gets all of it.
        let mut first_timeout = Some(timeout_ms);
        // The kernel never reports more fds than are registered: this bounds
        // the epoll buffer whatever capacity a caller passes.
        let max = max.min(self.registry.len().max(1));
        let registry = &self.registry;
        let mut count = 0;
        // Loops only when every kernel event was masked away, for instance an
        // fd that was closed and whose number is not registered any more.
        loop {
            let ready = self.backend.wait(max, deadline, first_timeout.take(), &mut |fd, raw| {
                let Some(reg) = registry.get(&fd) else { return };
                let events = raw.and(reg.events);
                if events != Events::NONE {
                    each(count, Event { fd, events, data: reg.data });
                    count += 1;
                }
            })?;
            // A single attempt never loops, not even over masked events.
            if count > 0 || ready == 0 || deadline == Deadline::Immediate {
                return Ok(count);
            }
        }
    }

    /// [`Selector::select`] into a new vector.
    pub fn select_vec(&mut self, max: usize, timeout_ms: i32) -> io::Result<Vec<Event>> {
        let mut out = Vec::new();
        self.select(max, timeout_ms, |_, ev| out.push(ev))?;
        Ok(out)
    }
}

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
//! Each registration carries a token in the kernel (its fd and a generation
//! number), so an event from a watch that is no longer the registration of
//! record (an fd closed while another descriptor of its file stays open, then
//! unregistered, perhaps registered again as a new file) is recognised and
//! never reported; the first such event rebuilds the kernel set without it.
//!
//! A selector is not synchronised: one thread at a time, except for its
//! [`Waker`], which any thread or signal handler may use.
//!
//! ```
//! use std::io::Write;
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use sockloop::selector::{Events, Selector};
//!
//! let (a, mut b) = UnixStream::pair()?;
//! let mut sel = Selector::new()?;
//! sel.register(a.as_raw_fd(), Events::READ, 42)?;
//! b.write_all(b"x")?;
//! let events = sel.select_vec(16, Some(Duration::from_secs(1)))?;
//! assert_eq!((events[0].fd, events[0].data), (a.as_raw_fd(), 42));
//! sel.waker().wake()?; // from any thread or signal handler
//! let woken = sel.select_vec(16, None).unwrap_err();
//! assert_eq!(woken.raw_os_error(), Some(libc::EINTR));
//! sel.unregister(a.as_raw_fd())?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::sys::errno;

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
    /// Readable: data, end of stream, a connection to accept, an error.
    pub const READ: Events = Events(1);
    /// Writable: a send would not block, or an error.
    pub const WRITE: Events = Events(2);
    /// Both.
    pub const BOTH: Events = Events(3);
    const NONE: Events = Events(0);

    /// The mask from its bits (`1` read, `2` write); `None` for an empty mask
    /// or unknown bits, which are `EINVAL`.
    pub fn from_bits(bits: i32) -> Option<Events> {
        (1..=3).contains(&bits).then_some(Events(bits as u8))
    }

    /// The bits, as C's `SL_READ | SL_WRITE`.
    pub fn bits(self) -> i32 {
        self.0 as i32
    }

    /// True when [`Events::READ`] is in the set.
    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// True when [`Events::WRITE`] is in the set.
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
    /// The events watched.
    pub events: Events,
    /// The caller's value, handed back with each event.
    pub data: usize,
}

/// A registration and the token its kernel watch reports.
#[derive(Clone, Copy, Debug)]
struct Entry {
    reg: Registration,
    token: Token,
}

/// What the kernel reports with each event: the fd in the low 32 bits and a
/// generation in the high ones, new for every registration, so that an event
/// from an older watch of the same fd number is told apart.
pub(crate) type Token = u64;

/// The token of the selector's own wakeup fd; no registration has it (its fd
/// half would be -1).
pub(crate) const WAKE_TOKEN: Token = u64::MAX;

fn token_fd(token: Token) -> RawFd {
    token as u32 as RawFd
}

/// One ready fd: its ready events (within the registered ones) and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The registered fd.
    pub fd: RawFd,
    /// What it is ready for, within its registered events.
    pub events: Events,
    /// Its registration's data.
    pub data: usize,
}

/// A map keyed by fd. fds are small distinct integers chosen by the kernel,
/// not by a peer, so a multiplicative hash is enough: SipHash's flooding
/// resistance would cost a tenth of an `epoll_wait` on every ready event.
pub(crate) type FdMap<V> = HashMap<RawFd, V, BuildHasherDefault<IntHasher>>;

/// A hash for integer keys no peer chooses (fds, the addresses of a ring's
/// connections); it also keeps `RandomState` and its `getrandom` out of the
/// library.
#[derive(Default)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
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
    fn write_usize(&mut self, address: usize) {
        // An address's low bits are its alignment's zeros, and a product's
        // low bits depend only on the factors' low bits: the table indexes
        // with the low bits, so it gets the product's well-mixed high half.
        self.0 = (address as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(32);
    }
}

/// Ends a selector's current or next select from any thread or signal
/// handler: the C counterpart of Python's `signal.set_wakeup_fd` and
/// asyncio's self-pipe. Cloning is cheap; a waker keeps its fds open after
/// the selector is gone (waking then does nothing).
#[derive(Clone, Debug)]
pub struct Waker {
    shared: Arc<WakeShared>,
}

#[derive(Debug)]
struct WakeShared {
    /// Set by every wakeup, cleared by the select that reports it: read
    /// after every wait, so a wakeup is seen even when more fds are ready
    /// than one select takes and its fd's event is not in the batch.
    pending: AtomicBool,
    /// Written to wake a select that waits: an eventfd on Linux, the write
    /// end of a socket pair elsewhere.
    write: OwnedFd,
    /// What the selector watches, where it is not `write` itself.
    read: Option<OwnedFd>,
}

impl Waker {
    /// A waker whose fds are non-blocking and close-on-exec.
    fn new() -> io::Result<Waker> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let (write, read) = {
            use std::os::fd::FromRawFd;

            use crate::sys::cvt;
            // SAFETY: plain system call; a non-negative result is a new fd we own.
            let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
            // SAFETY: fd was just created and is owned by nobody else.
            (unsafe { OwnedFd::from_raw_fd(fd) }, None)
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let (write, read) = {
            let (read, write) = std::os::unix::net::UnixStream::pair()?;
            read.set_nonblocking(true)?;
            write.set_nonblocking(true)?;
            (OwnedFd::from(write), Some(OwnedFd::from(read)))
        };
        Ok(Waker { shared: Arc::new(WakeShared { pending: AtomicBool::new(false), write, read }) })
    }

    /// Makes the selector's current or next select end with `EINTR`.
    /// Async-signal-safe: an atomic store and one `write(2)`, no allocation,
    /// no lock. Wakeups that arrive before a select sees them count as one.
    pub fn wake(&self) -> io::Result<()> {
        self.shared.pending.store(true, Ordering::Release);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to the waker's own fd.
        let n = unsafe { libc::write(self.shared.write.as_raw_fd(), (&one as *const u64).cast(), 8) };
        // EAGAIN: a full counter or socket buffer, so a wakeup is pending already.
        if n < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The fd the selector watches.
    fn watched_fd(&self) -> RawFd {
        self.shared.read.as_ref().unwrap_or(&self.shared.write).as_raw_fd()
    }

    /// Takes every pending wakeup: true if there was one. `seen`: the
    /// wait reported the waker's fd, which is then drained even without a
    /// pending wakeup (one that an earlier select took between the flag and
    /// the write), so that it never wakes a wait again.
    fn take(&self, seen: bool) -> bool {
        // A plain load first: the swap's locked instruction only when needed.
        if !seen && !self.shared.pending.load(Ordering::Relaxed) {
            return false;
        }
        let pending = self.shared.pending.swap(false, Ordering::Acquire);
        if pending || seen {
            let mut sink = [0u8; 64];
            // SAFETY: reads into a local buffer of its size; the fd is
            // non-blocking, so this stops at EAGAIN.
            while unsafe { libc::read(self.watched_fd(), sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
        }
        pending
    }
}

/// Registered fds and the kernel object (or poll set) that watches them.
pub struct Selector {
    registry: FdMap<Entry>,
    backend: backend::Backend,
    waker: Waker,
    /// The generation of the next registration.
    generation: u32,
}

impl Selector {
    /// A new, empty selector. It holds a close-on-exec fd for its waker, and
    /// with epoll one more for the kernel set.
    pub fn new() -> io::Result<Selector> {
        let waker = Waker::new()?;
        let mut backend = backend::Backend::new()?;
        backend.add(waker.watched_fd(), Events::READ, WAKE_TOKEN)?;
        Ok(Selector { registry: FdMap::default(), backend, waker, generation: 0 })
    }

    /// The waker that ends this selector's selects from another thread or a
    /// signal handler.
    pub fn waker(&self) -> &Waker {
        &self.waker
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
        let token = (self.generation as u64) << 32 | fd as u32 as u64;
        self.backend.add(fd, events, token)?;
        self.generation = self.generation.wrapping_add(1);
        self.registry.insert(fd, Entry { reg: Registration { events, data }, token });
        Ok(())
    }

    /// Changes the events and data of a registered fd (`ENOENT` if it is not,
    /// `EINVAL` for a negative fd).
    ///
    /// A change of events on an fd that was closed since it was registered is
    /// `EBADF`, also when its number now names another file: unregister it.
    pub fn modify(&mut self, fd: RawFd, events: Events, data: usize) -> io::Result<()> {
        if fd < 0 {
            return Err(errno(libc::EINVAL));
        }
        let entry = self.registry.get_mut(&fd).ok_or_else(|| errno(libc::ENOENT))?;
        if entry.reg.events != events {
            self.backend.modify(fd, events, entry.token).map_err(|err| match err.raw_os_error() {
                // The number names a file the kernel set does not hold.
                Some(libc::ENOENT) => errno(libc::EBADF),
                _ => err,
            })?;
        }
        entry.reg = Registration { events, data };
        Ok(())
    }

    /// Stops watching `fd` (`ENOENT` if it is not registered, `EINVAL` for a
    /// negative fd) and returns its registration.
    ///
    /// Succeeds for an fd that was closed while registered, so the entry can
    /// always be removed. Unregister *before* closing, though: with epoll the
    /// kernel watches the open file, not the number, so until then a closed
    /// fd whose file is still open elsewhere (a `dup`, a forked child) keeps
    /// being reported, and with poll a closed fd is reported ready (its next
    /// I/O fails with `EBADF`). After this call neither is ever reported: with
    /// epoll such a watch can no longer be removed by number, so the first
    /// event it causes rebuilds the kernel set without it.
    pub fn unregister(&mut self, fd: RawFd) -> io::Result<Registration> {
        if fd < 0 {
            return Err(errno(libc::EINVAL));
        }
        let entry = self.registry.remove(&fd).ok_or_else(|| errno(libc::ENOENT))?;
        self.backend.delete(fd);
        Ok(entry.reg)
    }

    /// The registration of `fd`, or `None`.
    pub fn get(&self, fd: RawFd) -> Option<Registration> {
        self.registry.get(&fd).map(|entry| entry.reg)
    }

    /// Makes a new kernel set holding exactly the registrations of record and
    /// the waker, so that every stale watch dies with the old one. One
    /// `epoll_ctl` per registration (poll: nothing to do).
    fn rebuild(&mut self) -> io::Result<()> {
        let live = self.registry.iter().map(|(&fd, entry)| (fd, entry.reg.events, entry.token));
        let wake = std::iter::once((self.waker.watched_fd(), Events::READ, WAKE_TOKEN));
        self.backend.rebuild(wake.chain(live))
    }

    /// Number of registered fds.
    pub fn len(&self) -> usize {
        self.registry.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.registry.is_empty()
    }

    /// Waits until a registered fd is ready or the timeout passes (`None`
    /// forever, zero one check, else a whole-call budget rounded up to whole
    /// milliseconds), and hands at most `max` ready events to
    /// `each(index, event)`. Returns how many (0: the time ran out).
    /// `max == 0` is `EINVAL`.
    ///
    /// `EINTR` when the [`Waker`] was used (the wakeup is consumed; events
    /// already handed to `each` stay ready for the next select), or when the
    /// thread's interrupt check asked for it.
    pub fn select(
        &mut self,
        max: usize,
        timeout: Option<Duration>,
        mut each: impl FnMut(usize, Event),
    ) -> io::Result<usize> {
        if max == 0 {
            return Err(errno(libc::EINVAL));
        }
        let deadline = Deadline::from_timeout(timeout);
        // The deadline was taken just now: the first wait gets all of it.
        let mut first_timeout = Some(Deadline::first_wait_ms(timeout));
        // No more slots than watches (the registrations and the waker): the
        // kernel never reports more, unless stale ones crowd in, and those
        // are removed by the rebuild below. A wakeup is seen through its
        // flag whether or not its fd made it into the batch.
        let kernel_max = max.min(self.registry.len() + 1);
        let mut count = 0;
        let mut retried_immediate = false;
        loop {
            let (mut stale, mut seen_wake) = (false, false);
            let registry = &self.registry;
            let ready = self.backend.wait(kernel_max, deadline, first_timeout.take(), &mut |token, raw| {
                if token == WAKE_TOKEN {
                    seen_wake = true;
                    return;
                }
                match registry.get(&token_fd(token)) {
                    Some(entry) if entry.token == token => {
                        let events = raw.and(entry.reg.events);
                        if events != Events::NONE {
                            each(count, Event { fd: token_fd(token), events, data: entry.reg.data });
                            count += 1;
                        }
                    }
                    _ => stale = true,
                }
            })?;
            if stale {
                self.rebuild()?;
            }
            if self.waker.take(seen_wake) {
                return Err(errno(libc::EINTR));
            }
            if count > 0 || ready == 0 {
                return Ok(count);
            }
            // Only stale events came: wait again within the time left; a
            // single attempt gets one more look at the rebuilt set.
            if deadline == Deadline::Immediate {
                if retried_immediate {
                    return Ok(0);
                }
                retried_immediate = true;
            }
        }
    }

    /// [`Selector::select`] into a new vector.
    pub fn select_vec(&mut self, max: usize, timeout: Option<Duration>) -> io::Result<Vec<Event>> {
        let mut out = Vec::new();
        self.select(max, timeout, |_, ev| out.push(ev))?;
        Ok(out)
    }
}

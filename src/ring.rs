//! A completion-based batch backend for buffered connections: one call per
//! loop turn writes every connection's queued output, receives into every
//! connection's read buffer and reports which connections have new data,
//! reached end of stream or failed.
//!
//! On Linux the ring is an io_uring: each turn is one `io_uring_enter` that
//! submits a send per connection with new output (`MSG_DONTWAIT`, so it
//! completes inside that very call and the connection's queue is never read
//! after the wait returns), arms receives where needed, and waits for the
//! next completion. A connection's receive is a multishot receive (armed
//! once, it completes each time data arrives) into buffers the ring owns,
//! chosen by the kernel from a registered buffer ring when data arrives, then
//! copied into the connection and given straight back. While the
//! connection's read buffer has less room left than one ring buffer, a
//! single receive of exactly that room is armed instead, so the buffer's
//! bound holds. Where io_uring cannot be had (`ENOSYS`, `EPERM` under
//! seccomp, the `io_uring_disabled` sysctl, a kernel without buffer rings),
//! or when the caller forces it ([`FORCE_EPOLL`], or `SOCKLOOP_RING=epoll`
//! in the environment, read once per process), the same behaviour runs on
//! epoll: a non-blocking flush per connection with new output,
//! `epoll_wait`, one fill per readable connection.
//!
//! A turn looks only at the connections that need it: those that queued
//! output since the last turn (each connection puts itself on the ring's
//! list from its queue calls, see [`Conn`]'s `ring_link`), those whose
//! receive must be re-armed (a full read buffer waiting for the caller to
//! take messages), and those with completions.
//!
//! Nothing is lost: bytes received are in the connection's read buffer
//! (a receive is armed for at most the room the buffer has within its
//! bound; the few bytes of a multishot receive that arrive while it is
//! being stopped wait in the ring and are handed over first, as the caller
//! takes messages), and bytes queued are either written or still pending.
//! The fd's flags are never changed.

// Outside Linux only the stub epoll backend exists (every ring is ENOSYS).
#![cfg_attr(not(target_os = "linux"), allow(irrefutable_let_patterns, unused_imports, dead_code))]

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::OnceLock;

use crate::conn::{Conn, RingEntry, RingList};
use crate::deadline::Deadline;
use crate::interrupt::after_eintr;
use crate::selector::IntHasher;

/// Event bit: new bytes are in the connection's read buffer.
pub const DATA: u32 = 1;
/// Event bit: the peer closed its side (end of stream); no more reads.
pub const CLOSED: u32 = 2;
/// Event bit: a receive or send failed; `error` says why.
pub const ERROR: u32 = 4;

/// `Ring::new` flag: use epoll even where io_uring works.
pub const FORCE_EPOLL: u32 = 1;

/// The backend a ring runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Linux io_uring.
    IoUring,
    /// epoll: the fallback.
    Epoll,
}

impl Kind {
    /// `"io_uring"` or `"epoll"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::IoUring => "io_uring",
            Kind::Epoll => "epoll",
        }
    }
}

/// One reported connection.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// The connection.
    pub conn: *mut Conn,
    /// The handle given at `add_with_handle` (the conn's address for `add`).
    pub handle: usize,
    /// The `data` given at add.
    pub data: usize,
    /// `DATA | CLOSED | ERROR` bits.
    pub events: u32,
    /// The errno of the failure when `ERROR` is set, else 0.
    pub error: i32,
}

fn error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// `SOCKLOOP_RING=epoll` forces the fallback for every ring of the process.
fn env_forces_epoll() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| std::env::var_os("SOCKLOOP_RING").is_some_and(|v| v == "epoll"))
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<NonNull<Conn>>,
    /// The connection's link to the ring's list (see `new_entry`).
    entry: Option<NonNull<RingEntry>>,
    handle: usize,
    data: usize,
    gen: u32,
    /// Events gathered and not yet reported, and the error among them.
    events: u32,
    error: i32,
    queued: bool,
    /// On the ring's list of receives to (re)arm.
    rearm_listed: bool,
    /// No more reads (end of stream or a receive error), no more sends.
    read_done: bool,
    send_failed: bool,
    /// io_uring: a receive / a POLLOUT wait is in flight; the receive is
    /// being cancelled (a multishot one, with too little room left).
    recv_armed: bool,
    recv_stopping: bool,
    pollout_armed: bool,
    /// io_uring: the receive in flight writes straight into the
    /// connection's read buffer (pinned meanwhile), not into a ring buffer.
    recv_direct: bool,
    /// The room that receive was given.
    recv_room: u32,
    /// Direct receives in a row that brought little (see `complete_direct`).
    small_run: u8,
    /// io_uring: receive straight into the connection's buffer, one
    /// receive at a time, not with the multishot receive into ring buffers.
    /// A new connection starts so, and goes to the multishot receive once
    /// its receives bring little (small messages, where re-arming a receive
    /// per message costs more than the copy it spares); it comes back when
    /// data arrives faster than the caller takes it (a multishot receive
    /// filled it to within a ring buffer of its bound). Starting with the
    /// multishot receive, a stream's first burst filled every ring buffer
    /// (4 MiB) that the connection then took 64 KiB a turn, with the socket
    /// unread meanwhile: the receiver fell behind and stayed behind, copying
    /// cold data (8 streams: 41 against 18 ns a frame).
    bulk: bool,
    /// io_uring: `CLOSED` or `ERROR` (with its errno) that came while bytes
    /// received before it were still in `spill`: reported after them.
    held: u32,
    held_error: i32,
    /// Received bytes the connection could not take (a multishot receive's
    /// completions that arrived while it was being stopped, or a connection
    /// filled behind the ring's back); handed over first.
    spill: Spill,
    /// epoll: the interest set now registered.
    interest: u32,
}

/// The lists that spare a turn from looking at every connection.
struct Work {
    /// Slots that queued output since the last turn: each linked connection
    /// pushes itself here from its queue calls (at most once until the ring
    /// takes the list). Owned here (a leaked `Box`, freed in `Ring::drop`
    /// after every connection is unlinked), at one address, with capacity
    /// for every registered connection.
    listed: NonNull<RingList>,
    /// The list a turn works through (swapped with `listed`; empty between
    /// turns, same capacity).
    taking: RingList,
    /// Slots whose receive is to be armed (new, or waiting for room in
    /// their read buffer), and the same list's other half while a turn
    /// goes through it.
    rearm: Vec<u32>,
    rearm_next: Vec<u32>,
}

impl Work {
    /// Room in every list for `n` entries, so that no push allocates.
    fn reserve(&mut self, n: usize) -> io::Result<()> {
        fn room(v: &mut Vec<u32>, n: usize) -> io::Result<()> {
            v.try_reserve(n.saturating_sub(v.len())).map_err(|_| error(libc::ENOMEM))
        }
        // SAFETY: the list is ours and no connection code runs meanwhile.
        room(unsafe { &mut *self.listed.as_ptr() }, n)?;
        room(&mut self.taking, n)?;
        room(&mut self.rearm, n)?;
        room(&mut self.rearm_next, n)
    }

    /// Calls `send` for each connection that queued output since the last
    /// turn, taken off the list first (a queue call meanwhile lists it
    /// again). After an error from `send` the connections not yet seen stay
    /// listed, for the next turn, and the error is returned.
    fn each_listed(
        &mut self,
        slots: &mut [Slot],
        mut send: impl FnMut(&mut Slot, u32, &mut Conn) -> io::Result<()>,
    ) -> io::Result<()> {
        // SAFETY: as in reserve; the reference ends with the swap.
        std::mem::swap(unsafe { &mut *self.listed.as_ptr() }, &mut self.taking);
        let mut result = Ok(());
        for &index in &self.taking {
            let slot = &mut slots[index as usize];
            let Some(conn) = slot.conn else { continue };
            // SAFETY: registered connections are valid (add's contract).
            let conn = unsafe { &mut *conn.as_ptr() };
            conn.ring_unlisted();
            if result.is_err() {
                conn.ring_list();
            } else if let Err(err) = send(slot, index, conn) {
                result = Err(err);
            }
        }
        self.taking.clear();
        result
    }

    /// Queues a slot for a receive to be armed at the next turn.
    fn rearm(&mut self, slot: &mut Slot, index: u32) {
        if !slot.rearm_listed {
            slot.rearm_listed = true;
            self.rearm.push(index);
        }
    }

    /// Calls `arm` for each slot whose receive is to be (re)armed. A slot
    /// for which it returns false (no room yet) or an error stays on the
    /// list for the next turn; the error is returned once every slot was
    /// seen.
    fn each_rearm(
        &mut self,
        slots: &mut [Slot],
        mut arm: impl FnMut(&mut Slot, u32) -> io::Result<bool>,
    ) -> io::Result<()> {
        std::mem::swap(&mut self.rearm, &mut self.rearm_next);
        let mut result = Ok(());
        for &index in &self.rearm_next {
            let slot = &mut slots[index as usize];
            match arm(slot, index) {
                Ok(true) => slot.rearm_listed = false,
                Ok(false) => self.rearm.push(index),
                Err(err) => {
                    self.rearm.push(index);
                    result = Err(err);
                }
            }
        }
        self.rearm_next.clear();
        result
    }

    fn forget(&mut self, index: u32) {
        // SAFETY: as in reserve.
        unsafe { &mut *self.listed.as_ptr() }.retain(|&i| i != index);
        self.rearm.retain(|&i| i != index);
    }
}

/// A batch backend over many connections. See the module docs.
pub struct Ring {
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_conn: HashMap<usize, u32, BuildHasherDefault<IntHasher>>,
    ready: VecDeque<u32>,
    work: Work,
    backend: Backend,
}

enum Backend {
    #[cfg(target_os = "linux")]
    Uring(Box<uring::Uring>),
    Epoll(Epoll),
}

// A Ring holds pointers to connections its caller keeps alive; it may move
// to another thread with them, as a Conn can.
// SAFETY: the connections are used only through `&mut Ring`, by one thread
// at a time, and the io_uring and epoll fds may be used from any thread; the
// list the connections push onto is used only by that same thread.
unsafe impl Send for Ring {}

impl Ring {
    /// A ring on io_uring, or on epoll where io_uring is unavailable or
    /// `flags` has [`FORCE_EPOLL`]. `EINVAL` for unknown flags.
    pub fn new(flags: u32) -> io::Result<Ring> {
        if flags & !FORCE_EPOLL != 0 {
            return Err(error(libc::EINVAL));
        }
        let backend =
            if flags & FORCE_EPOLL != 0 || env_forces_epoll() { Backend::Epoll(Epoll::new()?) } else { Self::probe()? };
        let work = Work {
            listed: NonNull::from(Box::leak(Box::default())),
            taking: Vec::new(),
            rearm: Vec::new(),
            rearm_next: Vec::new(),
        };
        Ok(Ring {
            slots: Vec::new(),
            free: Vec::new(),
            by_conn: HashMap::default(),
            ready: VecDeque::new(),
            work,
            backend,
        })
    }

    #[cfg(target_os = "linux")]
    fn probe() -> io::Result<Backend> {
        match uring::Uring::new() {
            Ok(u) => Ok(Backend::Uring(Box::new(u))),
            Err(err) if err.raw_os_error() == Some(libc::ENOMEM) => Err(err),
            Err(_) => Ok(Backend::Epoll(Epoll::new()?)),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn probe() -> io::Result<Backend> {
        Ok(Backend::Epoll(Epoll::new()?))
    }

    /// The backend this ring runs on.
    pub fn kind(&self) -> Kind {
        match self.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(_) => Kind::IoUring,
            Backend::Epoll(_) => Kind::Epoll,
        }
    }

    /// Connections registered.
    pub fn len(&self) -> usize {
        self.by_conn.len()
    }

    /// True when no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }

    /// Registers `conn` with `data` for its events. `EEXIST` when it is
    /// registered already (in this ring or another).
    ///
    /// # Safety
    /// `conn` must stay valid, and not be used by a fill or a blocking read
    /// of its own, until it is removed or the ring is dropped; the ring and
    /// its connections must be used by one thread at a time.
    pub unsafe fn add(&mut self, conn: *mut Conn, data: usize) -> io::Result<()> {
        // SAFETY: the caller's promise is the one add_with_handle asks for.
        unsafe { self.add_with_handle(conn, conn as usize, data) }
    }

    /// As [`Ring::add`], with a `handle` that events carry back (the C shims
    /// give the `sl_conn` around the connection).
    ///
    /// # Safety
    /// As [`Ring::add`].
    pub unsafe fn add_with_handle(&mut self, conn: *mut Conn, handle: usize, data: usize) -> io::Result<()> {
        let mut conn = NonNull::new(conn).ok_or_else(|| error(libc::EINVAL))?;
        let key = conn.as_ptr() as usize;
        // SAFETY: the caller promised `conn` is valid.
        if self.by_conn.contains_key(&key) || unsafe { conn.as_ref() }.ring_linked() {
            return Err(error(libc::EEXIST));
        }
        self.by_conn.try_reserve(1).map_err(|_| error(libc::ENOMEM))?;
        self.work.reserve(self.by_conn.len() + 1)?;
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i =
                    u32::try_from(self.slots.len()).ok().filter(|&i| i < 1 << 30).ok_or_else(|| error(libc::ENOMEM))?;
                self.slots.try_reserve(1).map_err(|_| error(libc::ENOMEM))?;
                self.slots.push(Slot::default());
                i
            }
        };
        // SAFETY: the caller promised `conn` is valid.
        let fd = unsafe { conn.as_ref() }.fd();
        if let Backend::Epoll(ep) = &mut self.backend {
            let token = token(index, self.slots[index as usize].gen);
            if let Err(err) = ep.ctl(CTL_ADD, fd, IN_BITS, token) {
                self.free.push(index);
                return Err(err);
            }
        }
        let entry = match new_entry(RingEntry { list: self.work.listed, index, listed: false, pinned: false }) {
            Ok(entry) => entry,
            Err(err) => {
                if let Backend::Epoll(ep) = &mut self.backend {
                    ep.delete(fd);
                }
                self.free.push(index);
                return Err(err);
            }
        };
        // SAFETY: the entry and the list live until the connection is
        // unlinked (remove, drop), at one address, the list with room for
        // every registered connection (reserved above); one thread at a time
        // is the caller's promise.
        let linked = unsafe { conn.as_mut().ring_link(entry) };
        debug_assert!(linked, "checked above");
        let slot = &mut self.slots[index as usize];
        let gen = slot.gen;
        *slot = Slot { conn: Some(conn), entry: Some(entry), handle, data, gen, bulk: true, ..Slot::default() };
        if matches!(self.backend, Backend::Epoll(_)) {
            slot.interest = IN_BITS;
        }
        self.work.rearm(slot, index);
        self.by_conn.insert(key, index);
        Ok(())
    }

    /// Unregisters `conn`: nothing of the ring refers to it afterwards, and
    /// bytes the ring had received for it are in its read buffer. `ENOENT`
    /// when it is not registered; `ENOBUFS` (still registered) when received
    /// bytes do not fit its full buffer: take messages, then remove again.
    pub fn remove(&mut self, conn: *mut Conn) -> io::Result<()> {
        let &index = self.by_conn.get(&(conn as usize)).ok_or_else(|| error(libc::ENOENT))?;
        #[cfg(target_os = "linux")]
        if let Backend::Uring(u) = &mut self.backend {
            u.quiesce(&mut self.slots, Some(index), &mut self.ready, &mut self.work)?;
        }
        let slot = &mut self.slots[index as usize];
        // SAFETY: registered connections are valid (add's contract).
        let conn = unsafe { &mut *slot.conn.expect("registered").as_ptr() };
        if !slot.spill.is_empty() {
            slot.spill.hand_over(conn);
            if !slot.spill.is_empty() {
                return Err(error(libc::ENOBUFS));
            }
        }
        if let Backend::Epoll(ep) = &mut self.backend {
            if slot.interest != 0 {
                ep.delete(conn.fd());
            }
        }
        conn.ring_unlink();
        free_entry(slot.entry.take());
        self.work.forget(index);
        self.by_conn.remove(&(conn as *mut Conn as usize));
        let slot = &mut self.slots[index as usize];
        let gen = slot.gen.wrapping_add(1);
        *slot = Slot { gen, ..Slot::default() };
        self.ready.retain(|&i| i != index);
        self.free.push(index);
        Ok(())
    }

    /// One loop turn: writes queued output, receives, and hands up to `max`
    /// events to `each`; returns how many. Waits within `timeout_ms` (as
    /// `poll`) for at least one event; 0 when the time ran out. Events left
    /// over when more than `max` are ready come first next time.
    /// `EINTR` only when the thread's interrupt check asks for it.
    pub fn wait(&mut self, max: usize, timeout_ms: i32, mut each: impl FnMut(Event)) -> io::Result<usize> {
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        loop {
            let block = self.ready.is_empty() && max > 0;
            let turn = match &mut self.backend {
                #[cfg(target_os = "linux")]
                Backend::Uring(u) => u.turn(&mut self.slots, &mut self.ready, &mut self.work, deadline, block),
                Backend::Epoll(ep) => ep.turn(&mut self.slots, &mut self.ready, &mut self.work, deadline, block),
            };
            let timed_out = match turn {
                Ok(timed_out) => timed_out,
                Err(err) if err.raw_os_error() == Some(libc::EINTR) => {
                    after_eintr()?;
                    false
                }
                Err(err) => return Err(err),
            };
            let mut n = 0;
            while n < max {
                let Some(index) = self.ready.pop_front() else { break };
                let slot = &mut self.slots[index as usize];
                slot.queued = false;
                let Some(conn) = slot.conn else { continue };
                each(Event {
                    conn: conn.as_ptr(),
                    handle: slot.handle,
                    data: slot.data,
                    events: slot.events,
                    error: slot.error,
                });
                slot.events = 0;
                slot.error = 0;
                n += 1;
            }
            if n > 0 || max == 0 || timed_out || deadline == Deadline::Immediate {
                return Ok(n);
            }
            if deadline.poll_timeout_ms().is_none() {
                return Ok(0);
            }
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Backend::Uring(u) = &mut self.backend {
            // Every receive ends before the buffers they may fill are freed.
            let _ = u.quiesce(&mut self.slots, None, &mut self.ready, &mut self.work);
        }
        for slot in &mut self.slots {
            if let Some(conn) = slot.conn {
                // SAFETY: registered connections are valid (add's contract).
                let conn = unsafe { &mut *conn.as_ptr() };
                // Bytes held for it go in as far as they fit (the rest is
                // lost with the ring only if it was filled behind its back).
                slot.spill.hand_over(conn);
                conn.ring_unlink();
            }
            free_entry(slot.entry.take());
        }
        // SAFETY: made by Box::leak in new; no connection links to it now.
        drop(unsafe { Box::from_raw(self.work.listed.as_ptr()) });
    }
}

/// A connection's link entry on the heap, at a fixed address: `ENOMEM`
/// instead of an abort.
fn new_entry(entry: RingEntry) -> io::Result<NonNull<RingEntry>> {
    let layout = std::alloc::Layout::new::<RingEntry>();
    // SAFETY: RingEntry has a non-zero size.
    let ptr =
        NonNull::new(unsafe { std::alloc::alloc(layout) }.cast::<RingEntry>()).ok_or_else(|| error(libc::ENOMEM))?;
    // SAFETY: freshly allocated for one RingEntry.
    unsafe { ptr.as_ptr().write(entry) };
    Ok(ptr)
}

/// Frees an entry from `new_entry` once its connection is unlinked.
fn free_entry(entry: Option<NonNull<RingEntry>>) {
    if let Some(ptr) = entry {
        // SAFETY: allocated by new_entry with this layout; no connection
        // refers to it any more; RingEntry needs no drop.
        unsafe { std::alloc::dealloc(ptr.as_ptr().cast(), std::alloc::Layout::new::<RingEntry>()) };
    }
}

fn token(index: u32, gen: u32) -> u64 {
    (gen as u64) << 32 | index as u64
}

/// Records `events` for a slot and queues it for reporting.
fn mark(slot: &mut Slot, index: u32, ready: &mut VecDeque<u32>, events: u32, errno: i32) {
    slot.events |= events;
    if errno != 0 {
        slot.error = errno;
    }
    if !slot.queued {
        slot.queued = true;
        ready.push_back(index);
    }
}

/// Received bytes waiting for room in their connection, taken from the
/// front. Taking moves a read offset, not the bytes behind it: a multishot
/// receive can leave megabytes here while the caller takes 64 KiB a turn,
/// and draining the front of a `Vec` would move all of them every time.
#[derive(Debug, Default)]
struct Spill {
    bytes: Vec<u8>,
    head: usize,
}

impl Spill {
    fn is_empty(&self) -> bool {
        self.head == self.bytes.len()
    }

    /// Moves what fits into the connection's read buffer; returns how many.
    /// `copy_in` loops: one `ring_input_room` may stop short of the bound
    /// (it compacts or grows the buffer only when the tail is full).
    fn hand_over(&mut self, conn: &mut Conn) -> usize {
        let moved = copy_in(conn, &self.bytes[self.head..]);
        self.head += moved;
        if self.is_empty() {
            // A burst's worth of memory is not kept for the next one.
            self.bytes = Vec::new();
            self.head = 0;
        }
        moved
    }
}

/// Copies received `bytes` into the connection, keeping what does not fit.
fn deliver(conn: &mut Conn, spill: &mut Spill, bytes: &[u8]) {
    let moved = if spill.is_empty() { copy_in(conn, bytes) } else { 0 };
    spill.bytes.extend_from_slice(&bytes[moved..]);
}

/// Copies the front of `bytes` into the connection's buffer, within its
/// bound; returns how many.
fn copy_in(conn: &mut Conn, bytes: &[u8]) -> usize {
    let mut moved = 0;
    while moved < bytes.len() {
        let Ok(room) = conn.ring_input_room() else { break };
        let n = room.len().min(bytes.len() - moved);
        if n == 0 {
            break;
        }
        room[..n].copy_from_slice(&bytes[moved..moved + n]);
        conn.ring_input_added(n);
        moved += n;
    }
    moved
}

// ------------------------------------------------------------------ epoll

#[cfg(any(target_os = "linux", target_os = "android"))]
struct Epoll {
    epoll: OwnedFd,
    buffer: Vec<libc::epoll_event>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const IN_BITS: u32 = libc::EPOLLIN as u32;
#[cfg(any(target_os = "linux", target_os = "android"))]
const CTL_ADD: i32 = libc::EPOLL_CTL_ADD;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const IN_BITS: u32 = 1;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const CTL_ADD: i32 = 1;

/// Elsewhere there is no epoll (and no io_uring): a ring cannot be made.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
struct Epoll;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Epoll {
    fn new() -> io::Result<Epoll> {
        Err(error(libc::ENOSYS))
    }

    fn ctl(&self, _op: i32, _fd: RawFd, _bits: u32, _token: u64) -> io::Result<()> {
        Err(error(libc::ENOSYS))
    }

    fn delete(&self, _fd: RawFd) {}

    fn turn(&mut self, _: &mut [Slot], _: &mut VecDeque<u32>, _: &mut Work, _: Deadline, _: bool) -> io::Result<bool> {
        Err(error(libc::ENOSYS))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call; a non-negative result is ours.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just created, owned by nobody else.
        Ok(Epoll { epoll: unsafe { OwnedFd::from_raw_fd(fd) }, buffer: Vec::new() })
    }

    fn ctl(&self, op: i32, fd: RawFd, bits: u32, token: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut event = libc::epoll_event { events: bits, u64: token };
        // SAFETY: `event` is a valid epoll_event for the call.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn delete(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// An empty set leaves epoll altogether: a hung-up fd would otherwise be
    /// reported on every wait.
    fn set_interest(&self, slot: &mut Slot, index: u32, fd: RawFd, bits: u32) {
        if slot.interest == bits {
            return;
        }
        let op = match (slot.interest, bits) {
            (_, 0) => libc::EPOLL_CTL_DEL,
            (0, _) => libc::EPOLL_CTL_ADD,
            _ => libc::EPOLL_CTL_MOD,
        };
        if self.ctl(op, fd, bits, token(index, slot.gen)).is_ok() {
            slot.interest = bits;
        }
    }

    /// One turn; true when the wait timed out.
    fn turn(
        &mut self,
        slots: &mut [Slot],
        ready: &mut VecDeque<u32>,
        work: &mut Work,
        deadline: Deadline,
        block: bool,
    ) -> io::Result<bool> {
        let (inb, outb) = (libc::EPOLLIN as u32, libc::EPOLLOUT as u32);
        // Reads paused by a full read buffer resume once it has room.
        work.each_rearm(slots, |slot, index| {
            let Some(conn) = slot.conn else { return Ok(true) };
            // SAFETY: registered connections are valid (add's contract).
            let conn = unsafe { &mut *conn.as_ptr() };
            if slot.read_done || slot.interest & inb != 0 || conn.ring_input_space() > 0 {
                if !slot.read_done {
                    self.set_interest(slot, index, conn.fd(), slot.interest | inb);
                }
                Ok(true)
            } else {
                Ok(false)
            }
        })?;
        // Output queued since the last turn: written now as far as the
        // socket takes it, the rest when it is writable.
        work.each_listed(slots, |slot, index, conn| {
            if !slot.send_failed && conn.pending() > 0 && slot.interest & outb == 0 {
                match conn.flush() {
                    Ok(0) => {}
                    Ok(_) => self.set_interest(slot, index, conn.fd(), slot.interest | outb),
                    Err(err) => {
                        slot.send_failed = true;
                        mark(slot, index, ready, ERROR, err.raw_os_error().unwrap_or(libc::EIO));
                    }
                }
            }
            Ok(())
        })?;
        let max = slots.len().clamp(1, 1024);
        if self.buffer.len() < max {
            self.buffer.resize(max, libc::epoll_event { events: 0, u64: 0 });
        }
        let timeout = if block { deadline.poll_timeout_ms().unwrap_or(0) } else { 0 };
        use std::os::fd::AsRawFd;
        // SAFETY: the buffer holds `max` events.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), self.buffer.as_mut_ptr(), max as i32, timeout) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for i in 0..n as usize {
            let event = self.buffer[i];
            let (index, gen) = (event.u64 as u32, (event.u64 >> 32) as u32);
            let Some(slot) = slots.get_mut(index as usize) else { continue };
            let Some(conn) = slot.conn.filter(|_| slot.gen == gen) else { continue };
            // SAFETY: as above.
            let conn = unsafe { &mut *conn.as_ptr() };
            let mut bits = slot.interest;
            let hup = event.events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
            if slot.interest & outb != 0 && (event.events & outb != 0 || hup) {
                match conn.flush() {
                    Ok(0) => bits &= !outb,
                    Ok(_) => {}
                    Err(err) => {
                        bits &= !outb;
                        slot.send_failed = true;
                        mark(slot, index, ready, ERROR, err.raw_os_error().unwrap_or(libc::EIO));
                    }
                }
            }
            if slot.interest & inb != 0 && (event.events & inb != 0 || hup) {
                match conn.fill() {
                    Ok(0) => {
                        slot.read_done = true;
                        bits &= !inb;
                        mark(slot, index, ready, CLOSED, 0);
                    }
                    Ok(_) => mark(slot, index, ready, DATA, 0),
                    Err(err) => match err.raw_os_error() {
                        Some(libc::EAGAIN) | Some(libc::EINTR) => {}
                        Some(libc::ENOBUFS) => {
                            bits &= !inb;
                            work.rearm(slot, index);
                        }
                        code => {
                            slot.read_done = true;
                            bits &= !inb;
                            mark(slot, index, ready, ERROR, code.unwrap_or(libc::EIO));
                        }
                    },
                }
            }
            self.set_interest(slot, index, conn.fd(), bits);
        }
        Ok(n == 0 && block)
    }
}

// ------------------------------------------------------------------ io_uring

#[cfg(target_os = "linux")]
mod uring {
    use super::*;
    use io_uring::{cqueue, opcode, squeue, types, IoUring};
    use std::alloc::{alloc_zeroed, dealloc, Layout};
    use std::sync::atomic::{AtomicU16, Ordering};

    /// Receive buffers the ring owns, in a buffer ring registered with the
    /// kernel: it takes one when data arrives, the ring gives it back as
    /// soon as the bytes are copied into the connection. Where the kernel
    /// can (6.12 on), buffers are consumed incrementally: a 64-byte receive
    /// uses 64 bytes of a buffer, not all of it, so that a few buffers serve
    /// thousands of connections' small messages in one turn (whole buffers
    /// ran out at 1,000 connections, ending multishot receives with ENOBUFS).
    const BUF_SIZE: usize = 16 * 1024;
    const BUF_COUNT: usize = 256;
    const GROUP: u16 = 0;
    /// Small direct receives in a row after which a connection goes back to
    /// the multishot receive.
    const SMALL_RUN_ENDS_BULK: u8 = 8;
    const ENTRIES: u32 = 1024;
    /// `IOU_PBUF_RING_INC` (not exported by the io-uring crate).
    const PBUF_RING_INC: u16 = 2;

    const RECV: u64 = 0;
    const SEND: u64 = 1;
    const POLLOUT: u64 = 2;
    const OTHER: u64 = 3;

    fn user_data(kind: u64, index: u32, gen: u32) -> u64 {
        (gen as u64) << 32 | (index as u64) << 2 | kind
    }

    /// Zeroed memory the kernel reads or writes behind Rust's back (the
    /// buffer ring's entries, the receive buffers), so it is reached through
    /// raw pointers only. From `calloc` where the alignment allows: fresh
    /// pages come zeroed, untouched until used, so a new ring does not write
    /// its 4 MiB of buffers.
    struct Pages {
        base: NonNull<u8>,
        layout: Layout,
    }

    impl Pages {
        fn zeroed(size: usize, align: usize) -> io::Result<Pages> {
            let layout = Layout::from_size_align(size, align).map_err(|_| error(libc::EINVAL))?;
            // SAFETY: the layout has a non-zero size.
            let base = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or_else(|| error(libc::ENOMEM))?;
            Ok(Pages { base, layout })
        }
    }

    impl Drop for Pages {
        fn drop(&mut self) {
            // SAFETY: allocated in zeroed with this layout.
            unsafe { dealloc(self.base.as_ptr(), self.layout) };
        }
    }

    pub struct Uring {
        ring: IoUring,
        /// The buffer ring's entries, page-aligned.
        entries: Pages,
        /// The buffer ring's tail as published to the kernel, and as written.
        tail: u16,
        published: u16,
        /// The receive buffers, BUF_COUNT of BUF_SIZE bytes.
        pool: Pages,
        /// Bytes of each buffer the kernel has filled so far (incremental
        /// consumption; always 0 otherwise).
        used: Box<[u32]>,
        /// Multishot receives work (a kernel before 6.0 refuses them: then
        /// every receive is a single one).
        multishot: bool,
        /// SQEs queued whose completion comes inside the submitting call.
        inline_ops: usize,
        sends_in_flight: usize,
        completions: Vec<(u64, i32, u32)>,
    }

    impl Drop for Uring {
        fn drop(&mut self) {
            // The kernel lets go of the entries and the pool before they are
            // freed (the ring is quiet: Ring::drop quiesced it).
            let _ = self.ring.submitter().unregister_buf_ring(GROUP);
        }
    }

    impl Uring {
        pub fn new() -> io::Result<Uring> {
            let ring = IoUring::builder()
                .setup_cqsize(ENTRIES * 4)
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .build(ENTRIES)?;
            let pool = Pages::zeroed(BUF_SIZE * BUF_COUNT, 16)?;
            let entries = Pages::zeroed(BUF_COUNT * std::mem::size_of::<types::BufRingEntry>(), 4096)?;
            let register = |flags| {
                // SAFETY: the entries are page-aligned, BUF_COUNT (a power of
                // two) long, and outlive the registration (unregistered in drop).
                unsafe {
                    ring.submitter().register_buf_ring_with_flags(
                        entries.base.as_ptr() as u64,
                        BUF_COUNT as u16,
                        GROUP,
                        flags,
                    )
                }
            };
            // Incremental consumption where the kernel has it (EINVAL before 6.12).
            register(PBUF_RING_INC).or_else(|_| register(0))?;
            let mut u = Uring {
                ring,
                entries,
                tail: 0,
                published: 0,
                pool,
                used: vec![0; BUF_COUNT].into_boxed_slice(),
                multishot: true,
                inline_ops: 0,
                sends_in_flight: 0,
                completions: Vec::new(),
            };
            for bid in 0..BUF_COUNT as u16 {
                u.give_back(bid);
            }
            u.publish();
            Ok(u)
        }

        /// Puts buffer `bid` back in the buffer ring (seen by the kernel
        /// after `publish`).
        fn give_back(&mut self, bid: u16) {
            let at = self.tail as usize & (BUF_COUNT - 1);
            // SAFETY: `at` is inside the entries; the kernel reads only
            // entries before the published tail, and this one is past it.
            let entry = unsafe { &mut *self.entries.base.cast::<types::BufRingEntry>().as_ptr().add(at) };
            // SAFETY: the buffer is inside the pool.
            entry.set_addr(unsafe { self.pool.base.as_ptr().add(bid as usize * BUF_SIZE) } as u64);
            entry.set_len(BUF_SIZE as u32);
            entry.set_bid(bid);
            self.tail = self.tail.wrapping_add(1);
        }

        /// `n` bytes of buffer `bid` were received into: it goes back to the
        /// kernel unless the kernel goes on filling it after them.
        fn consumed(&mut self, bid: u16, n: usize, flags: u32) {
            let used = &mut self.used[bid as usize & (BUF_COUNT - 1)];
            if cqueue::buffer_more(flags) {
                *used += n as u32;
            } else {
                *used = 0;
                self.give_back(bid);
            }
        }

        /// Shows the buffers given back to the kernel.
        fn publish(&mut self) {
            if self.published == self.tail {
                return;
            }
            // SAFETY: the tail field lies inside the first entry; the kernel
            // reads it concurrently, hence the atomic release store, after
            // which it may use the entries written before.
            unsafe {
                let tail = types::BufRingEntry::tail(self.entries.base.cast().as_ptr()) as *mut u16;
                AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
            }
            self.published = self.tail;
        }

        /// Queues an SQE, submitting first when the queue is full.
        fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
            loop {
                // SAFETY: every buffer an SQE names lives until its completion
                // (pool) or until the submitting call returns (sends).
                if unsafe { self.ring.submission().push(sqe) }.is_ok() {
                    return Ok(());
                }
                match self.ring.submit() {
                    Ok(_) => {}
                    Err(err) if err.raw_os_error() == Some(libc::EINTR) || err.raw_os_error() == Some(libc::EBUSY) => {}
                    Err(err) => return Err(err),
                }
            }
        }

        /// Arms a receive for a slot when its connection has room: a
        /// multishot one with room for a whole ring buffer, else one of
        /// exactly the room. False when it must wait for room.
        fn arm_receive(&mut self, slot: &mut Slot, index: u32, ready: &mut VecDeque<u32>) -> io::Result<bool> {
            let Some(conn) = slot.conn else { return Ok(true) };
            // SAFETY: registered connections are valid (add's contract).
            let conn = unsafe { &mut *conn.as_ptr() };
            if !slot.spill.is_empty() {
                if slot.spill.hand_over(conn) > 0 {
                    mark(slot, index, ready, DATA, 0);
                }
                if !slot.spill.is_empty() {
                    return Ok(false);
                }
            }
            if slot.held != 0 {
                // End of stream or an error after the bytes just handed over.
                mark(slot, index, ready, slot.held, slot.held_error);
                slot.held = 0;
            }
            if slot.read_done || slot.recv_armed {
                return Ok(true);
            }
            let space = conn.ring_input_space();
            if space == 0 {
                return Ok(false);
            }
            let fd = types::Fd(conn.fd());
            let ud = user_data(RECV, index, slot.gen);
            if self.multishot && space >= BUF_SIZE && !slot.bulk {
                self.push(&opcode::RecvMulti::new(fd, GROUP).build().user_data(ud))?;
            } else {
                // One receive of the room left (within the bound), straight
                // into the connection's buffer, pinned until it completes.
                let Some((at, len)) = conn.ring_recv_target()? else { return Ok(false) };
                let len = len.min(u32::MAX as usize) as u32;
                let sqe = opcode::Recv::new(fd, at.as_ptr(), len).build().user_data(ud);
                if let Err(err) = self.push(&sqe) {
                    conn.ring_recv_done(0);
                    return Err(err);
                }
                slot.recv_direct = true;
                slot.recv_room = len;
            }
            slot.recv_armed = true;
            Ok(true)
        }

        /// One turn; true when the wait timed out.
        pub fn turn(
            &mut self,
            slots: &mut [Slot],
            ready: &mut VecDeque<u32>,
            work: &mut Work,
            deadline: Deadline,
            block: bool,
        ) -> io::Result<bool> {
            self.inline_ops = 0;
            // Receives to arm: new connections, ended receives, and those
            // waiting for room in their read buffer.
            work.each_rearm(slots, |slot, index| self.arm_receive(slot, index, ready))?;
            // Output queued since the last turn: one send each.
            work.each_listed(slots, |slot, index, conn| {
                if !slot.send_failed && !slot.pollout_armed && conn.pending() > 0 {
                    let out = conn.ring_output();
                    let len = out.len().min(u32::MAX as usize) as u32;
                    let sqe = opcode::Send::new(types::Fd(conn.fd()), out.as_ptr(), len)
                        .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                        .build()
                        .user_data(user_data(SEND, index, slot.gen));
                    if let Err(err) = self.push(&sqe) {
                        // Listed again: the send is made on a later turn.
                        conn.ring_list();
                        return Err(err);
                    }
                    self.inline_ops += 1;
                    self.sends_in_flight += 1;
                }
                Ok(())
            })?;
            let timed_out = self.enter(deadline, block && ready.is_empty());
            self.reap(slots, ready, work);
            // No send may outlive the call: its buffer is the connection's queue.
            while self.sends_in_flight > 0 {
                match self.ring.submit_and_wait(1) {
                    Ok(_) | Err(_) => self.reap(slots, ready, work),
                }
            }
            timed_out
        }

        /// Submits and waits for one completion past those that come inside
        /// the call; true when the deadline ran out first.
        fn enter(&mut self, deadline: Deadline, block: bool) -> io::Result<bool> {
            let want = if block { self.inline_ops + 1 } else { 0 };
            let result = match (block, deadline) {
                (false, _) | (_, Deadline::Immediate) => self.ring.submit(),
                (true, Deadline::Never) => self.ring.submit_and_wait(want),
                (true, Deadline::At(end)) => {
                    let left = end.saturating_duration_since(std::time::Instant::now());
                    let ts = types::Timespec::from(left);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.ring.submitter().submit_with_args(want, &args)
                }
            };
            match result {
                Ok(_) => Ok(false),
                Err(err) if err.raw_os_error() == Some(libc::ETIME) => Ok(true),
                Err(err) if err.raw_os_error() == Some(libc::EBUSY) => Ok(false),
                Err(err) => Err(err),
            }
        }

        fn reap(&mut self, slots: &mut [Slot], ready: &mut VecDeque<u32>, work: &mut Work) {
            let mut completions = std::mem::take(&mut self.completions);
            {
                let mut cq = self.ring.completion();
                cq.sync();
                completions.extend((&mut cq).map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())));
            }
            for &(ud, res, flags) in &completions {
                self.complete(slots, ready, work, ud, res, flags);
            }
            completions.clear();
            self.completions = completions;
            self.publish();
        }

        fn complete(
            &mut self,
            slots: &mut [Slot],
            ready: &mut VecDeque<u32>,
            work: &mut Work,
            ud: u64,
            res: i32,
            flags: u32,
        ) {
            let kind = ud & 3;
            let index = (ud as u32) >> 2;
            let gen = (ud >> 32) as u32;
            let buffer = cqueue::buffer_select(flags);
            if kind == SEND {
                self.sends_in_flight -= 1;
            }
            let Some(slot) = slots.get_mut(index as usize).filter(|s| s.gen == gen && s.conn.is_some()) else {
                if let Some(bid) = buffer {
                    self.consumed(bid, res.max(0) as usize, flags);
                }
                return;
            };
            match kind {
                RECV if slot.recv_direct => self.complete_direct(slot, index, ready, work, res),
                RECV => {
                    let more = cqueue::more(flags);
                    // SAFETY: registered connections are valid (add's contract).
                    let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
                    if let Some(bid) = buffer {
                        let at = (bid as usize & (BUF_COUNT - 1)) * BUF_SIZE
                            + self.used[bid as usize & (BUF_COUNT - 1)] as usize;
                        let n = res.max(0) as usize;
                        if n > 0 {
                            // SAFETY: the kernel wrote these n bytes of the
                            // pool and writes no more there until the buffer
                            // is given back (consumed, below).
                            let bytes = unsafe { std::slice::from_raw_parts(self.pool.base.as_ptr().add(at), n) };
                            deliver(conn, &mut slot.spill, bytes);
                            mark(slot, index, ready, DATA, 0);
                        }
                        self.consumed(bid, n, flags);
                    }
                    if !more {
                        slot.recv_armed = false;
                        slot.recv_stopping = false;
                    }
                    let end = if res == 0 {
                        CLOSED
                    } else if res == -libc::EINVAL && self.multishot && slot.spill.is_empty() {
                        // A kernel without multishot receives: single ones.
                        self.multishot = false;
                        0
                    } else if res < 0 && !matches!(-res, libc::ENOBUFS | libc::EAGAIN | libc::EINTR | libc::ECANCELED) {
                        ERROR
                    } else {
                        0
                    };
                    if end != 0 {
                        slot.read_done = true;
                        let errno = if end == ERROR { -res } else { 0 };
                        if slot.spill.is_empty() {
                            mark(slot, index, ready, end, errno);
                        } else {
                            // Reported once the bytes before it are in the
                            // connection's buffer (arm_receive hands them over).
                            slot.held = end;
                            slot.held_error = errno;
                        }
                    }
                    if slot.read_done {
                        if !slot.spill.is_empty() {
                            work.rearm(slot, index);
                        }
                        return;
                    }
                    if !slot.recv_armed {
                        work.rearm(slot, index);
                    } else if !slot.recv_stopping && (conn.ring_input_space() < BUF_SIZE || !slot.spill.is_empty()) {
                        // Too little room for another whole buffer: stop the
                        // multishot receive; a single one of the exact room
                        // follows once it has ended.
                        let sqe = opcode::AsyncCancel::new(user_data(RECV, index, gen))
                            .build()
                            .user_data(user_data(OTHER, 0, 0));
                        if self.push(&sqe).is_ok() {
                            slot.recv_stopping = true;
                            slot.bulk = true;
                        }
                    }
                }
                SEND => {
                    // SAFETY: as above.
                    let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
                    if res >= 0 {
                        conn.output_sent(res as usize);
                        if conn.pending() > 0 {
                            self.arm_pollout(slot, index);
                        }
                    } else if -res == libc::EAGAIN || -res == libc::EINTR {
                        self.arm_pollout(slot, index);
                    } else {
                        slot.send_failed = true;
                        mark(slot, index, ready, ERROR, -res);
                    }
                }
                POLLOUT => {
                    slot.pollout_armed = false;
                    // SAFETY: as above.
                    let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
                    // Writable (or failed): the next turn sends.
                    conn.ring_list();
                }
                _ => {}
            }
        }

        /// A receive straight into the connection's buffer ended: `res`
        /// bytes are there (or end of stream, or an error); the next turn
        /// arms another.
        fn complete_direct(
            &mut self,
            slot: &mut Slot,
            index: u32,
            ready: &mut VecDeque<u32>,
            work: &mut Work,
            res: i32,
        ) {
            // SAFETY: registered connections are valid (add's contract).
            let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
            let n = res.max(0) as usize;
            conn.ring_recv_done(n);
            slot.recv_armed = false;
            slot.recv_stopping = false;
            slot.recv_direct = false;
            if n > 0 {
                mark(slot, index, ready, DATA, 0);
                // Little at a time again (less than it had room for, and
                // little) for a while: back to the multishot receive. A
                // stream pauses now and then; one small read is no sign.
                if n == slot.recv_room as usize || n >= BUF_SIZE / 4 {
                    slot.small_run = 0;
                } else {
                    slot.small_run += 1;
                    if slot.small_run == SMALL_RUN_ENDS_BULK {
                        slot.small_run = 0;
                        slot.bulk = false;
                    }
                }
            }
            if res == 0 {
                slot.read_done = true;
                mark(slot, index, ready, CLOSED, 0);
            } else if res < 0 && !matches!(-res, libc::EAGAIN | libc::EINTR | libc::ECANCELED) {
                slot.read_done = true;
                mark(slot, index, ready, ERROR, -res);
            } else {
                work.rearm(slot, index);
            }
        }

        fn arm_pollout(&mut self, slot: &mut Slot, index: u32) {
            // SAFETY: as above.
            let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
            let sqe = opcode::PollAdd::new(types::Fd(conn.fd()), libc::POLLOUT as u32)
                .build()
                .user_data(user_data(POLLOUT, index, slot.gen));
            if self.push(&sqe).is_ok() {
                slot.pollout_armed = true;
            } else {
                // No wait could be queued: the next turn tries the send again.
                conn.ring_list();
            }
        }

        /// Ends the receives and waits of one slot (`Some`) or of all: each
        /// receive that completes with data first delivers it.
        pub fn quiesce(
            &mut self,
            slots: &mut [Slot],
            only: Option<u32>,
            ready: &mut VecDeque<u32>,
            work: &mut Work,
        ) -> io::Result<()> {
            let armed = |slots: &[Slot]| -> bool {
                match only {
                    Some(i) => slots[i as usize].recv_armed,
                    None => slots.iter().any(|s| s.recv_armed),
                }
            };
            for (index, slot) in slots.iter_mut().enumerate() {
                if only.is_some_and(|i| i as usize != index) {
                    continue;
                }
                if slot.recv_armed {
                    let sqe = opcode::AsyncCancel::new(user_data(RECV, index as u32, slot.gen))
                        .build()
                        .user_data(user_data(OTHER, 0, 0));
                    self.push(&sqe)?;
                    slot.recv_stopping = true;
                }
                if slot.pollout_armed {
                    let sqe = opcode::AsyncCancel::new(user_data(POLLOUT, index as u32, slot.gen))
                        .build()
                        .user_data(user_data(OTHER, 0, 0));
                    self.push(&sqe)?;
                    slot.pollout_armed = false;
                }
            }
            // Bounded: a cancelled receive completes at once.
            for _ in 0..1000 {
                if !armed(slots) {
                    return Ok(());
                }
                let _ = self.ring.submit_and_wait(1);
                self.reap(slots, ready, work);
            }
            Err(error(libc::EBUSY))
        }
    }
}

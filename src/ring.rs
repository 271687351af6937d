//! A completion-based batch backend for buffered connections: one call per
//! loop turn writes every connection's queued output, receives into every
//! connection's read buffer and reports which connections have new data,
//! reached end of stream or failed.
//!
//! On Linux the ring is an io_uring: each turn is one `io_uring_enter` that
//! submits a send per connection with output (`MSG_DONTWAIT`, so it completes
//! inside that very call and the connection's queue is never read after the
//! wait returns), re-arms one receive per connection (into a buffer the ring
//! owns, chosen by the kernel from a provided-buffer group when data arrives,
//! then copied into the connection), and waits for the next completion.
//! Where io_uring cannot be had (`ENOSYS`, `EPERM` under seccomp, the
//! `io_uring_disabled` sysctl, a kernel without provided buffers), or when the
//! caller forces it ([`FORCE_EPOLL`], or `SOCKLOOP_RING=epoll` in the
//! environment, read once per process), the same behaviour runs on epoll:
//! a non-blocking flush per connection with output, `epoll_wait`, one fill
//! per readable connection.
//!
//! Nothing is lost: bytes received are in the connection's read buffer (a
//! receive is only armed for as many bytes as the buffer may still take
//! within its bound), and bytes queued are either written or still pending.
//! The fd's flags are never changed.

// Outside Linux only the stub epoll backend exists (every ring is ENOSYS).
#![cfg_attr(not(target_os = "linux"), allow(irrefutable_let_patterns, unused_imports, dead_code))]

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use crate::conn::Conn;
use crate::deadline::Deadline;
use crate::interrupt::after_eintr;

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
    conn: Option<std::ptr::NonNull<Conn>>,
    handle: usize,
    data: usize,
    gen: u32,
    /// Events gathered and not yet reported, and the error among them.
    events: u32,
    error: i32,
    queued: bool,
    /// No more reads (end of stream or a receive error), no more sends.
    read_done: bool,
    send_failed: bool,
    /// io_uring: a receive / a POLLOUT wait is in flight.
    recv_armed: bool,
    pollout_armed: bool,
    /// Received bytes the connection could not take (only if the caller
    /// filled it behind the ring's back); handed over first.
    spill: Vec<u8>,
    /// epoll: the interest set now registered.
    interest: u32,
}

/// A batch backend over many connections. See the module docs.
pub struct Ring {
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_conn: HashMap<usize, u32>,
    ready: VecDeque<u32>,
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
// at a time, and the io_uring and epoll fds may be used from any thread.
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
        Ok(Ring { slots: Vec::new(), free: Vec::new(), by_conn: HashMap::new(), ready: VecDeque::new(), backend })
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
    /// registered already.
    ///
    /// # Safety
    /// `conn` must stay valid, and not be used by a fill or a blocking read
    /// of its own, until it is removed or the ring is dropped.
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
        let conn = std::ptr::NonNull::new(conn).ok_or_else(|| error(libc::EINVAL))?;
        let key = conn.as_ptr() as usize;
        if self.by_conn.contains_key(&key) {
            return Err(error(libc::EEXIST));
        }
        self.by_conn.try_reserve(1).map_err(|_| error(libc::ENOMEM))?;
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
        let slot = &mut self.slots[index as usize];
        let gen = slot.gen;
        *slot = Slot { conn: Some(conn), handle, data, gen, ..Slot::default() };
        if matches!(self.backend, Backend::Epoll(_)) {
            slot.interest = IN_BITS;
        }
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
            u.quiesce(&mut self.slots, Some(index), &mut self.ready)?;
        }
        let slot = &mut self.slots[index as usize];
        if !slot.spill.is_empty() {
            // SAFETY: registered connections are valid (add's contract).
            let conn = unsafe { &mut *slot.conn.expect("registered").as_ptr() };
            hand_over(conn, &mut slot.spill);
            if !slot.spill.is_empty() {
                return Err(error(libc::ENOBUFS));
            }
        }
        if let Backend::Epoll(ep) = &mut self.backend {
            if slot.interest != 0 {
                // SAFETY: as above.
                let fd = unsafe { slot.conn.expect("registered").as_ref() }.fd();
                ep.delete(fd);
            }
        }
        self.by_conn.remove(&(conn as usize));
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
                Backend::Uring(u) => u.turn(&mut self.slots, &mut self.ready, deadline, block),
                Backend::Epoll(ep) => ep.turn(&mut self.slots, &mut self.ready, deadline, block),
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
            let _ = u.quiesce(&mut self.slots, None, &mut self.ready);
        }
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

/// Moves what fits of `bytes` into the connection's read buffer; the rest
/// stays in `bytes`. Returns how many moved. Loops: one call of
/// `ring_input_room` may stop short of the bound (it compacts or grows the
/// buffer only when the tail is full), the next one makes the rest.
fn hand_over(conn: &mut Conn, bytes: &mut Vec<u8>) -> usize {
    let moved = copy_in(conn, bytes);
    bytes.drain(..moved);
    moved
}

/// Copies received `bytes` into the connection, keeping what does not fit.
fn deliver(conn: &mut Conn, spill: &mut Vec<u8>, bytes: &[u8]) {
    let moved = copy_in(conn, bytes);
    spill.extend_from_slice(&bytes[moved..]);
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

    fn turn(&mut self, _: &mut [Slot], _: &mut VecDeque<u32>, _: Deadline, _: bool) -> io::Result<bool> {
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
        deadline: Deadline,
        block: bool,
    ) -> io::Result<bool> {
        let (inb, outb) = (libc::EPOLLIN as u32, libc::EPOLLOUT as u32);
        for (index, slot) in slots.iter_mut().enumerate() {
            let Some(conn) = slot.conn else { continue };
            // SAFETY: registered connections are valid (add's contract).
            let conn = unsafe { &mut *conn.as_ptr() };
            let mut bits = slot.interest;
            if !slot.send_failed && conn.pending() > 0 && slot.interest & outb == 0 {
                match conn.flush() {
                    Ok(0) => {}
                    Ok(_) => bits |= outb,
                    Err(err) => {
                        slot.send_failed = true;
                        mark(slot, index as u32, ready, ERROR, err.raw_os_error().unwrap_or(libc::EIO));
                    }
                }
            }
            if !slot.read_done && bits & inb == 0 && conn.ring_input_space() > 0 {
                bits |= inb;
            }
            self.set_interest(slot, index as u32, conn.fd(), bits);
        }
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
                        Some(libc::ENOBUFS) => bits &= !inb,
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

    /// Receive buffers the ring owns: the kernel picks one when data arrives.
    const BUF_SIZE: usize = 16 * 1024;
    const BUF_COUNT: usize = 256;
    const GROUP: u16 = 0;
    const ENTRIES: u32 = 1024;

    const RECV: u64 = 0;
    const SEND: u64 = 1;
    const POLLOUT: u64 = 2;
    const OTHER: u64 = 3;

    fn user_data(kind: u64, index: u32, gen: u32) -> u64 {
        (gen as u64) << 32 | (index as u64) << 2 | kind
    }

    pub struct Uring {
        ring: IoUring,
        pool: Box<[u8]>,
        /// Buffers to give back to the kernel with the next submission.
        recycle: Vec<u16>,
        /// Buffers the kernel has now.
        provided: usize,
        /// SQEs queued whose completion comes inside the submitting call.
        inline_ops: usize,
        sends_in_flight: usize,
    }

    impl Uring {
        pub fn new() -> io::Result<Uring> {
            let ring = IoUring::builder()
                .setup_cqsize(ENTRIES * 4)
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .build(ENTRIES)?;
            let mut pool = Vec::new();
            pool.try_reserve_exact(BUF_SIZE * BUF_COUNT).map_err(|_| error(libc::ENOMEM))?;
            pool.resize(BUF_SIZE * BUF_COUNT, 0u8);
            let mut u = Uring {
                ring,
                pool: pool.into_boxed_slice(),
                recycle: Vec::new(),
                provided: 0,
                inline_ops: 0,
                sends_in_flight: 0,
            };
            let provide = opcode::ProvideBuffers::new(u.pool.as_mut_ptr(), BUF_SIZE as i32, BUF_COUNT as u16, GROUP, 0)
                .build()
                .user_data(user_data(OTHER, 0, 0));
            // SAFETY: the pool lives as long as the ring (dropped after it is quiet).
            unsafe { u.ring.submission().push(&provide) }.map_err(|_| error(libc::EBUSY))?;
            loop {
                match u.ring.submit_and_wait(1) {
                    Ok(_) => break,
                    Err(err) if err.raw_os_error() == Some(libc::EINTR) => continue,
                    Err(err) => return Err(err),
                }
            }
            let cqe = u.ring.completion().next().ok_or_else(|| error(libc::EIO))?;
            if cqe.result() < 0 {
                return Err(error(-cqe.result()));
            }
            u.provided = BUF_COUNT;
            Ok(u)
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

        fn queue_recycled(&mut self) -> io::Result<()> {
            while let Some(bid) = self.recycle.pop() {
                // SAFETY: the buffer is inside the pool.
                let addr = unsafe { self.pool.as_mut_ptr().add(bid as usize * BUF_SIZE) };
                let sqe = opcode::ProvideBuffers::new(addr, BUF_SIZE as i32, 1, GROUP, bid)
                    .build()
                    .user_data(user_data(OTHER, 0, 0));
                self.push(&sqe)?;
                self.inline_ops += 1;
                self.provided += 1;
            }
            Ok(())
        }

        /// One turn; true when the wait timed out.
        pub fn turn(
            &mut self,
            slots: &mut [Slot],
            ready: &mut VecDeque<u32>,
            deadline: Deadline,
            block: bool,
        ) -> io::Result<bool> {
            self.inline_ops = 0;
            self.queue_recycled()?;
            for (index, slot) in slots.iter_mut().enumerate() {
                let Some(conn) = slot.conn else { continue };
                // SAFETY: registered connections are valid (add's contract).
                let conn = unsafe { &mut *conn.as_ptr() };
                let fd = types::Fd(conn.fd());
                if !slot.send_failed && !slot.pollout_armed && conn.pending() > 0 {
                    let out = conn.ring_output();
                    let len = out.len().min(u32::MAX as usize) as u32;
                    let sqe = opcode::Send::new(fd, out.as_ptr(), len)
                        .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                        .build()
                        .user_data(user_data(SEND, index as u32, slot.gen));
                    self.push(&sqe)?;
                    self.inline_ops += 1;
                    self.sends_in_flight += 1;
                }
                if !slot.spill.is_empty() {
                    if hand_over(conn, &mut slot.spill) > 0 {
                        mark(slot, index as u32, ready, DATA, 0);
                    }
                    if !slot.spill.is_empty() {
                        continue;
                    }
                }
                if !slot.read_done && !slot.recv_armed {
                    let space = conn.ring_input_space().min(BUF_SIZE);
                    if space > 0 {
                        let sqe = opcode::Recv::new(fd, std::ptr::null_mut(), space as u32)
                            .buf_group(GROUP)
                            .build()
                            .flags(squeue::Flags::BUFFER_SELECT)
                            .user_data(user_data(RECV, index as u32, slot.gen));
                        self.push(&sqe)?;
                        slot.recv_armed = true;
                    }
                }
            }
            let timed_out = self.enter(deadline, block && ready.is_empty());
            self.reap(slots, ready);
            // No send may outlive the call: its buffer is the connection's queue.
            while self.sends_in_flight > 0 {
                match self.ring.submit_and_wait(1) {
                    Ok(_) | Err(_) => self.reap(slots, ready),
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

        fn reap(&mut self, slots: &mut [Slot], ready: &mut VecDeque<u32>) {
            let mut completions: Vec<(u64, i32, u32)> = Vec::new();
            {
                let mut cq = self.ring.completion();
                cq.sync();
                completions.reserve(cq.len());
                for cqe in &mut cq {
                    completions.push((cqe.user_data(), cqe.result(), cqe.flags()));
                }
            }
            for (ud, res, flags) in completions {
                self.complete(slots, ready, ud, res, flags);
            }
        }

        fn complete(&mut self, slots: &mut [Slot], ready: &mut VecDeque<u32>, ud: u64, res: i32, flags: u32) {
            let kind = ud & 3;
            let index = (ud as u32) >> 2;
            let gen = (ud >> 32) as u32;
            let buffer = cqueue::buffer_select(flags);
            if kind == SEND {
                self.sends_in_flight -= 1;
            }
            if let Some(bid) = buffer {
                self.provided -= 1;
                self.recycle.push(bid);
            }
            if kind == OTHER {
                return;
            }
            let Some(slot) = slots.get_mut(index as usize) else { return };
            let live = slot.gen == gen && slot.conn.is_some();
            match kind {
                RECV if live => {
                    slot.recv_armed = false;
                    // SAFETY: registered connections are valid (add's contract).
                    let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
                    if res > 0 {
                        let bid = buffer.expect("a receive with data names its buffer") as usize;
                        let bytes = &self.pool[bid * BUF_SIZE..bid * BUF_SIZE + res as usize];
                        deliver(conn, &mut slot.spill, bytes);
                        mark(slot, index, ready, DATA, 0);
                    } else if res == 0 {
                        slot.read_done = true;
                        mark(slot, index, ready, CLOSED, 0);
                    } else if !matches!(-res, libc::ENOBUFS | libc::EAGAIN | libc::EINTR | libc::ECANCELED) {
                        slot.read_done = true;
                        mark(slot, index, ready, ERROR, -res);
                    }
                }
                SEND if live => {
                    // SAFETY: as above.
                    let conn = unsafe { &mut *slot.conn.expect("live").as_ptr() };
                    if res >= 0 {
                        conn.ring_output_sent(res as usize);
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
                POLLOUT if live => slot.pollout_armed = false,
                _ => {}
            }
        }

        fn arm_pollout(&mut self, slot: &mut Slot, index: u32) {
            // SAFETY: as above.
            let fd = unsafe { slot.conn.expect("live").as_ref() }.fd();
            let sqe = opcode::PollAdd::new(types::Fd(fd), libc::POLLOUT as u32)
                .build()
                .user_data(user_data(POLLOUT, index, slot.gen));
            if self.push(&sqe).is_ok() {
                slot.pollout_armed = true;
            }
        }

        /// Ends the receives and waits of one slot (`Some`) or of all: each
        /// receive that completes with data first delivers it.
        pub fn quiesce(&mut self, slots: &mut [Slot], only: Option<u32>, ready: &mut VecDeque<u32>) -> io::Result<()> {
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
                self.reap(slots, ready);
            }
            Err(error(libc::EBUSY))
        }
    }
}

//! A buffered connection: frames, delimited records and exact reads over one fd,
//! for blocking code (calls with a deadline) and for event loops (fill, take
//! what is complete in place, queue, flush).
//!
//! Reads ask the kernel for as much as fits, so they may read the start of the
//! next message; those bytes stay here for the next call. Every blocking read is
//! all-or-nothing: on a timeout or end of stream the partial message stays
//! buffered, so calling again resumes it with nothing lost.
//!
//! Memory: nothing is allocated until first use. The read buffer starts at
//! `min(64 KiB, limit) + 4` bytes (more only for a delimiter over 4 bytes) and
//! grows only while a larger message is being assembled, never past
//! `limit + max(4, delimiter length)`; it shrinks back once empty. The output
//! queue, once flushed, keeps at most 128 KiB (shrinking to 64 KiB).
//!
//! ```
//! use std::os::unix::net::UnixStream;
//! use sockloop::conn::Conn;
//! use sockloop::deadline::Deadline;
//!
//! let (a, b) = UnixStream::pair()?;
//! let (mut tx, mut rx) = (Conn::new(a.into(), 1024)?, Conn::new(b.into(), 1024)?);
//! tx.write_frame(b"hello", Deadline::Never)?;
//! tx.write_frame(b"world", Deadline::Never)?;
//! let mut buf = [0u8; 1024];
//! let n = rx.read_frame(&mut buf, Deadline::Never)?; // reads both frames,
//! assert_eq!(&buf[..n], b"hello");
//! assert_eq!(rx.buffered().len(), 4 + 5); // and keeps the second one
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A connection owns its fd ([`Conn::new`] takes an `OwnedFd`), or borrows
//! one through the `unsafe` [`Conn::borrowing`], never a bare integer:
//!
//! ```compile_fail,E0308
//! let conn = sockloop::conn::Conn::new(3, 1024);
//! ```

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use crate::deadline::Deadline;
use crate::frame::{
    batch_payload_len, decode_with, send_frame_with, Be32, Codec, Decoded, DelimSearch, Prefix, MAX_PAYLOAD,
};
use crate::io::{recv_some, send_all};
use crate::sys::{cvt, errno};

const READ_CHUNK: usize = 64 * 1024;
const IDLE_OUTPUT: usize = 64 * 1024;

/// Runs `$self.$with(codec, args)` with the connection's prefix codec:
/// [`Be32`] for the default prefix, whose per-frame code is then compiled for
/// its fixed width and inlined as before prefixes were configurable, or the
/// run-time [`Prefix`] for any other, through `$custom`, kept out of line so
/// that the default path's function stays as small (measured with callgrind:
/// both inlined cost 5 to 7 instructions a call in register spills).
macro_rules! with_codec {
    ($self:ident, $with:ident, $custom:ident, ($($arg:expr),*)) => {
        if $self.prefix.is_default() {
            $self.$with(Be32, $($arg),*)
        } else {
            $self.$custom($($arg),*)
        }
    };
}

/// What is being thrown away after a message over the limit.
#[derive(Debug)]
enum Skip {
    Nothing,
    /// The rest of an oversized frame's payload.
    Bytes(u64),
    /// An oversized record, up to and including this delimiter.
    Through(Vec<u8>),
}

fn check_limit(limit: usize) -> io::Result<()> {
    if limit > MAX_PAYLOAD {
        return Err(errno(libc::EINVAL));
    }
    Ok(())
}

/// A caller's fd and limit for a connection: `EINVAL` for a negative fd or
/// a limit over 4 GiB - 1, `EBADF` for an fd that is not open.
fn check_raw_fd(fd: RawFd, limit: usize) -> io::Result<()> {
    if fd < 0 {
        return Err(errno(libc::EINVAL));
    }
    check_limit(limit)?;
    // SAFETY: F_GETFD only inspects the descriptor.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) }).map(drop)
}

/// The fd a connection works on: its own, closed when the connection is
/// dropped, or the caller's, which the caller keeps open meanwhile.
#[derive(Debug)]
enum ConnFd {
    Owned(OwnedFd),
    Borrowed(RawFd),
}

/// A buffered reader/writer around one fd. See the module docs.
#[derive(Debug)]
pub struct Conn {
    fd: ConnFd,
    /// At most `MAX_PAYLOAD` (u32::MAX): four bytes, so that the ring's link
    /// fits in the connection's old size.
    limit: u32,
    /// The frames' length prefix.
    prefix: Prefix,
    /// Read buffer; `input[start..end]` is received and not yet taken.
    input: Vec<u8>,
    start: usize,
    end: usize,
    search: DelimSearch,
    /// The longest delimiter asked for: the read buffer must hold a record of
    /// the limit plus it.
    longest_delim: usize,
    skip: Skip,
    /// Output queue; `output[sent..]` is still to be written.
    output: Vec<u8>,
    sent: usize,
    /// The most bytes the queue may hold pending (`usize::MAX`: no mark).
    high_water: usize,
    /// `min(output.capacity(), sent + high_water)`: a queue call that keeps
    /// `output.len()` within it needs neither memory nor a mark check, so
    /// the usual call pays one compare for both. 0 while the connection is
    /// in a ring and not on its list of connections with output (see
    /// [`RingLink`]): the first queue call then takes the slow path, which
    /// puts it on the list, so the fast path stays one compare.
    room_end: usize,
    /// Set while the connection is registered with a ring.
    ring: Option<RingLink>,
}

/// A ring's list of the connections that queued output since its last turn
/// (slot indexes, each at most once): the ring writes only their output
/// instead of looking at every connection it holds.
pub(crate) type RingList = Vec<u32>;

/// A registered connection's way onto its ring's [`RingList`], owned by
/// the ring (src/ring.rs), which keeps it and the list alive, at one
/// address, while the connection links to it (one pointer in the
/// connection, which stays small).
#[derive(Debug)]
pub(crate) struct RingEntry {
    /// The ring's list (with room for every registered connection).
    pub(crate) list: NonNull<RingList>,
    /// The connection's slot in the ring.
    pub(crate) index: u32,
    /// On the list now (cleared through `ring_unlisted` when the ring takes it).
    pub(crate) listed: bool,
    /// A receive straight into the read buffer's tail is in flight: the
    /// kernel may write there at any time, so the buffer must not move,
    /// rewind or be freed until `ring_recv_done`.
    pub(crate) pinned: bool,
}

#[derive(Debug)]
struct RingLink(NonNull<RingEntry>);

// SAFETY: a ring and its registered connections are used by one thread at a
// time (Ring::add's contract), so the entry and list are never touched by two
// threads at once; shared references to a Conn only read the entry, which
// nothing writes meanwhile.
unsafe impl Send for RingLink {}
// SAFETY: as above.
unsafe impl Sync for RingLink {}

impl RingLink {
    fn listed(&self) -> bool {
        // SAFETY: ring_link's contract: the entry is alive while linked.
        unsafe { (*self.0.as_ptr()).listed }
    }

    fn pinned(&self) -> bool {
        // SAFETY: as in listed.
        unsafe { (*self.0.as_ptr()).pinned }
    }

    fn set_pinned(&self, pinned: bool) {
        // SAFETY: as in listed; one thread at a time, so no other reference
        // to the entry is live.
        unsafe { (*self.0.as_ptr()).pinned = pinned }
    }
}

impl Drop for Conn {
    /// A connection freed while registered breaks `Ring::add`'s contract; if
    /// a receive is writing into its buffer, the buffer is leaked, not freed.
    fn drop(&mut self) {
        self.abandon_pinned_input();
    }
}

impl Conn {
    /// A connection that owns `fd` (closed when the connection is dropped),
    /// with a per-message limit of `limit` bytes (frame payloads and records
    /// without their delimiter).
    ///
    /// Errors: `EINVAL` for a limit over 4 GiB - 1 (`fd` is closed then).
    pub fn new(fd: OwnedFd, limit: usize) -> io::Result<Conn> {
        check_limit(limit)?;
        Ok(Conn::with_fd(ConnFd::Owned(fd), limit))
    }

    /// A connection over `fd`, which it does not close: as [`Conn::new`].
    ///
    /// Errors: `EINVAL` for a negative fd or a limit over 4 GiB - 1, `EBADF`
    /// for an fd that is not open.
    ///
    /// # Safety
    /// `fd` must stay open, and name the same file, while the connection lives.
    pub unsafe fn borrowing(fd: RawFd, limit: usize) -> io::Result<Conn> {
        check_raw_fd(fd, limit)?;
        Ok(Conn::with_fd(ConnFd::Borrowed(fd), limit))
    }

    /// A connection that takes ownership of `fd`, but only when it succeeds:
    /// on an error the fd is left to the caller. Errors as [`Conn::borrowing`].
    ///
    /// # Safety
    /// `fd` must be an open fd that nothing else will close.
    pub unsafe fn from_raw_fd(fd: RawFd, limit: usize) -> io::Result<Conn> {
        check_raw_fd(fd, limit)?;
        // SAFETY: fd is open and handed over by the caller.
        Ok(Conn::with_fd(ConnFd::Owned(unsafe { OwnedFd::from_raw_fd(fd) }), limit))
    }

    fn with_fd(fd: ConnFd, limit: usize) -> Conn {
        debug_assert!(limit <= MAX_PAYLOAD, "every constructor checks the limit");
        Conn {
            fd,
            limit: limit as u32,
            prefix: Prefix::DEFAULT,
            input: Vec::new(),
            start: 0,
            end: 0,
            search: DelimSearch::new(),
            longest_delim: 0,
            skip: Skip::Nothing,
            output: Vec::new(),
            sent: 0,
            high_water: usize::MAX,
            room_end: 0,
            ring: None,
        }
    }

    /// The per-message limit.
    #[inline(always)]
    fn limit(&self) -> usize {
        self.limit as usize
    }

    /// The fd the connection reads and writes.
    pub fn fd(&self) -> RawFd {
        match &self.fd {
            ConnFd::Owned(fd) => fd.as_raw_fd(),
            ConnFd::Borrowed(fd) => *fd,
        }
    }

    /// The length prefix of frames read and queued from now on. Bytes
    /// already queued keep theirs; buffered input not yet taken is decoded
    /// with the new one.
    pub fn set_prefix(&mut self, prefix: Prefix) {
        self.prefix = prefix;
    }

    /// The length prefix of frames.
    pub fn prefix(&self) -> Prefix {
        self.prefix
    }

    /// Sets the high-water mark: the most output bytes that may be pending
    /// after a queue call. A queue call that would go over it fails with
    /// `ENOBUFS` and queues nothing. `usize::MAX` (the default) is no mark;
    /// 0 refuses every queued byte.
    pub fn set_high_water(&mut self, max_pending: usize) {
        self.high_water = max_pending;
        self.update_room();
    }

    /// The high-water mark (`usize::MAX`: none).
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    fn update_room(&mut self) {
        self.room_end = match &self.ring {
            Some(link) if !link.listed() => 0,
            _ => self.output.capacity().min(self.sent.saturating_add(self.high_water)),
        };
    }

    fn borrow(&self) -> BorrowedFd<'_> {
        // SAFETY: the connection owns the fd, or its creator promised to keep
        // it open while the connection lives.
        unsafe { BorrowedFd::borrow_raw(self.fd()) }
    }

    /// Received bytes not yet taken by a read.
    pub fn buffered(&self) -> &[u8] {
        &self.input[self.start..self.end]
    }

    /// Queued output bytes not yet written.
    #[inline]
    pub fn pending(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Heap bytes held now: (read buffer, output queue).
    pub fn capacities(&self) -> (usize, usize) {
        (self.input.capacity(), self.output.capacity())
    }

    /// The read buffer's everyday size: one read chunk, or one message of the
    /// limit, with its framing, so that the usual message never makes it grow.
    fn idle_input_size(&self) -> usize {
        READ_CHUNK.min(self.limit()) + self.prefix.width().max(self.longest_delim)
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        self.search.consumed(n);
    }

    /// True while a ring's receive may write into the read buffer's tail.
    #[inline]
    fn input_pinned(&self) -> bool {
        self.ring.as_ref().is_some_and(RingLink::pinned)
    }

    /// Rewinds an empty buffer and gives back memory a large message needed
    /// (not while a ring's receive writes at its end).
    fn reset_if_empty(&mut self) {
        if self.start == self.end && !self.input_pinned() {
            self.start = 0;
            self.end = 0;
            if self.input.len() > self.idle_input_size() {
                self.input = Vec::new();
            }
        }
    }

    /// Makes room at the end of the buffer, growing it up to `bound`; false
    /// when it is full at the bound. Moves buffered bytes: pointers handed out
    /// by `take_*` are invalid afterwards.
    /// `EBUSY` while a ring's receive writes into the buffer (a fill on a
    /// registered connection, which its contract forbids).
    fn make_room(&mut self, bound: usize) -> io::Result<bool> {
        if self.input_pinned() {
            return Err(errno(libc::EBUSY));
        }
        self.reset_if_empty();
        if self.input.is_empty() {
            self.resize_input(self.idle_input_size())?;
        }
        let size = self.input.len();
        // Compact when the tail is short: the bytes moved are at most one
        // partial message, far fewer than a read brings in.
        if self.start > 0 && size - self.end < size / 4 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == size && size < bound {
            self.resize_input(size.saturating_mul(2).min(bound))?;
        }
        Ok(self.end < self.input.len())
    }

    /// Grows the read buffer: `ENOMEM` instead of an abort.
    fn resize_input(&mut self, size: usize) -> io::Result<()> {
        let more = size - self.input.len();
        self.input.try_reserve_exact(more).map_err(|_| errno(libc::ENOMEM))?;
        self.input.resize(size, 0);
        Ok(())
    }

    /// One read of whatever is available, within `deadline`. `Ok(0)` at end of
    /// stream; `ENOBUFS` when the buffer is full at `bound`.
    fn fill_within(&mut self, deadline: Deadline, bound: usize) -> io::Result<usize> {
        if !self.make_room(bound)? {
            return Err(errno(libc::ENOBUFS));
        }
        // SAFETY: as borrow(), but not tied to `self`, whose buffer is borrowed
        // mutably next to it.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd()) };
        let n = recv_some(fd, &mut self.input[self.end..], deadline)?;
        self.end += n;
        Ok(n)
    }

    /// Event-loop step: one non-blocking read. `Ok(0)` is end of stream;
    /// `EAGAIN` means nothing to read now; `ENOBUFS` that the buffer is full
    /// of messages the caller has not taken.
    pub fn fill(&mut self) -> io::Result<usize> {
        self.fill_within(Deadline::Immediate, self.input_bound())
    }

    /// The most the read buffer may hold: the largest message with its
    /// framing.
    fn input_bound(&self) -> usize {
        self.limit() + self.prefix.width().max(self.longest_delim)
    }

    /// A blocking read's fill: end of stream is `EPIPE`.
    fn fill_or_epipe(&mut self, deadline: Deadline, bound: usize) -> io::Result<()> {
        match self.fill_within(deadline, bound)? {
            0 => Err(errno(libc::EPIPE)),
            _ => Ok(()),
        }
    }

    /// Discards what an earlier oversized message left; true once done.
    #[inline(always)]
    fn skip_done(&mut self) -> bool {
        // The usual case, checked inline on every message; the skipping
        // itself is out of line.
        matches!(self.skip, Skip::Nothing) || self.skip_some()
    }

    #[cold]
    #[inline(never)]
    fn skip_some(&mut self) -> bool {
        match std::mem::replace(&mut self.skip, Skip::Nothing) {
            Skip::Nothing => {}
            Skip::Bytes(left) => {
                let n = left.min((self.end - self.start) as u64);
                self.consume(n as usize);
                if left > n {
                    self.skip = Skip::Bytes(left - n);
                }
            }
            Skip::Through(delim) => match self.search.find(&self.input[self.start..self.end], &delim) {
                Some(at) => self.consume(at + delim.len()),
                None => {
                    // Keep a possible start of the delimiter.
                    let keep = delim.len() - 1;
                    self.consume((self.end - self.start).saturating_sub(keep));
                    self.skip = Skip::Through(delim);
                }
            },
        }
        matches!(self.skip, Skip::Nothing)
    }

    /// The declared payload length of the complete frame at the front, if any.
    /// A frame over the limit has its header taken and its payload skipped as
    /// it arrives: `EMSGSIZE`.
    #[inline(always)]
    fn frame_ready<C: Codec>(&mut self, c: C) -> io::Result<Option<usize>> {
        if !self.skip_done() {
            return Ok(None);
        }
        match decode_with(c, self.buffered(), self.limit()) {
            Decoded::Frame { len } => Ok(Some(len)),
            Decoded::Incomplete => Ok(None),
            Decoded::TooLarge { declared } => {
                self.consume(c.width());
                self.skip = Skip::Bytes(declared);
                self.skip_done();
                Err(errno(libc::EMSGSIZE))
            }
        }
    }

    /// The length of the complete record at the front, if any. A record over
    /// the limit is skipped through its delimiter: `EMSGSIZE`.
    fn record_ready(&mut self, delim: &[u8]) -> io::Result<Option<usize>> {
        if delim.is_empty() {
            return Err(errno(libc::EINVAL));
        }
        self.longest_delim = self.longest_delim.max(delim.len());
        if !self.skip_done() {
            return Ok(None);
        }
        let found = self.search.find(&self.input[self.start..self.end], delim);
        match found {
            Some(len) if len > self.limit() => {
                self.consume(len + delim.len());
                Err(errno(libc::EMSGSIZE))
            }
            Some(len) => Ok(Some(len)),
            None if self.search.checked() > self.limit() => {
                self.skip = Skip::Through(delim.to_vec());
                self.skip_done();
                Err(errno(libc::EMSGSIZE))
            }
            None => Ok(None),
        }
    }

    /// Event-loop step: the next complete frame already buffered, in place, as
    /// (offset into the buffer, length); valid until the next fill.
    #[inline]
    pub fn take_frame(&mut self) -> io::Result<Option<&[u8]>> {
        with_codec!(self, take_frame_with, take_frame_custom, ())
    }

    #[cold]
    #[inline(never)]
    fn take_frame_custom(&mut self) -> io::Result<Option<&[u8]>> {
        self.take_frame_with(self.prefix)
    }

    #[inline(always)]
    fn take_frame_with<C: Codec>(&mut self, c: C) -> io::Result<Option<&[u8]>> {
        let Some(len) = self.frame_ready(c)? else { return Ok(None) };
        let at = self.start + c.width();
        self.consume(c.width() + len);
        debug_assert!(at + len <= self.end && self.end <= self.input.len());
        // SAFETY: frame_ready saw the whole frame inside input[start..end],
        // so at + len <= end <= input.len(): no second bounds check per frame.
        Ok(Some(unsafe { self.input.get_unchecked(at..at + len) }))
    }

    /// Event-loop step: takes up to `max` complete frames already buffered, in
    /// place, handing each payload to `each` (valid until the next fill);
    /// returns how many. A frame over the limit ends the batch, and is
    /// reported (`EMSGSIZE`, as [`Conn::take_frame`]) only when it comes
    /// first, so no frame taken before it is lost.
    #[inline]
    pub fn take_frames(&mut self, max: usize, each: impl FnMut(&[u8])) -> io::Result<usize> {
        with_codec!(self, take_frames_with, take_frames_custom, (max, each))
    }

    #[cold]
    #[inline(never)]
    fn take_frames_custom(&mut self, max: usize, each: impl FnMut(&[u8])) -> io::Result<usize> {
        self.take_frames_with(self.prefix, max, each)
    }

    #[inline(always)]
    fn take_frames_with<C: Codec>(&mut self, c: C, max: usize, mut each: impl FnMut(&[u8])) -> io::Result<usize> {
        if !self.skip_done() {
            return Ok(0);
        }
        let (mut at, mut taken) = (self.start, 0);
        let buffered = &self.input[..self.end];
        while taken < max {
            // SAFETY: start <= at <= end <= input.len(): `at` only moves past
            // frames that decode saw complete inside buffered[at..].
            let rest = unsafe { buffered.get_unchecked(at..) };
            match decode_with(c, rest, self.limit()) {
                Decoded::Frame { len } => {
                    // SAFETY: decode saw the whole frame inside `rest`.
                    each(unsafe { rest.get_unchecked(c.width()..c.width() + len) });
                    at += c.width() + len;
                    taken += 1;
                }
                Decoded::Incomplete => break,
                Decoded::TooLarge { .. } if taken == 0 => return self.frame_ready(c).map(|_| 0),
                Decoded::TooLarge { .. } => break,
            }
        }
        self.consume(at - self.start);
        Ok(taken)
    }

    /// Event-loop step: the next complete record already buffered, in place,
    /// without its delimiter; valid until the next fill.
    pub fn take_record(&mut self, delim: &[u8]) -> io::Result<Option<&[u8]>> {
        let Some(len) = self.record_ready(delim)? else { return Ok(None) };
        let at = self.start;
        self.consume(len + delim.len());
        Ok(Some(&self.input[at..at + len]))
    }

    /// Copies `len` bytes from the front into `buf` and takes them.
    fn copy_out(&mut self, buf: &mut [u8], skip_first: usize, len: usize) {
        let from = self.start + skip_first;
        buf[..len].copy_from_slice(&self.input[from..from + len]);
        self.consume(skip_first + len);
        self.reset_if_empty();
    }

    /// Reads exactly `buf.len()` bytes, at most the limit (else `EMSGSIZE`).
    pub fn read_exact(&mut self, buf: &mut [u8], deadline: Deadline) -> io::Result<()> {
        if buf.len() > self.limit() {
            return Err(errno(libc::EMSGSIZE));
        }
        loop {
            if self.skip_done() && self.end - self.start >= buf.len() {
                self.copy_out(buf, 0, buf.len());
                return Ok(());
            }
            self.fill_or_epipe(deadline, self.input_bound())?;
        }
    }

    /// Reads one frame's payload into `buf`; returns its length. A frame
    /// within the limit but larger than `buf` is `EMSGSIZE` and stays buffered.
    pub fn read_frame(&mut self, buf: &mut [u8], deadline: Deadline) -> io::Result<usize> {
        let prefix = self.prefix;
        loop {
            let ready = self.frame_ready(prefix)?;
            // Refuse as soon as the header is in: no need to wait for a payload
            // that will not fit.
            let declared = self.buffered().get(..prefix.width()).map(|h| prefix.decode(h));
            if matches!(self.skip, Skip::Nothing) && declared.is_some_and(|d| d > buf.len() as u64) {
                return Err(errno(libc::EMSGSIZE));
            }
            if let Some(len) = ready {
                self.copy_out(buf, prefix.width(), len);
                return Ok(len);
            }
            self.fill_or_epipe(deadline, self.input_bound())?;
        }
    }

    /// Reads one record into `buf` without its delimiter; returns its length.
    /// A record within the limit but larger than `buf` is `EMSGSIZE` and stays
    /// buffered.
    pub fn read_until(&mut self, delim: &[u8], buf: &mut [u8], deadline: Deadline) -> io::Result<usize> {
        loop {
            match self.record_ready(delim)? {
                Some(len) if len > buf.len() => return Err(errno(libc::EMSGSIZE)),
                Some(len) => {
                    self.copy_out(buf, 0, len);
                    self.consume(delim.len());
                    self.reset_if_empty();
                    return Ok(len);
                }
                None if self.skip_done() && self.search.checked() > buf.len() => {
                    return Err(errno(libc::EMSGSIZE));
                }
                None => self.fill_or_epipe(deadline, self.input_bound())?,
            }
        }
    }

    /// Makes room for `n` more output bytes: `ENOMEM` instead of an abort.
    /// Written bytes at the front are dropped only when the queue is out of
    /// room, so a queue that drains as it fills moves no memory.
    /// `ENOBUFS` when the bytes pending would go over the high-water mark.
    #[inline]
    fn reserve_output(&mut self, n: usize) -> io::Result<()> {
        // n and len are each at most isize::MAX: the sum cannot overflow.
        if self.output.len() + n <= self.room_end {
            return Ok(());
        }
        self.reserve_output_slow(n, true)
    }

    #[inline(never)]
    fn reserve_output_slow(&mut self, n: usize, bounded: bool) -> io::Result<()> {
        // Output is about to be queued: a ring must look at this connection
        // on its next turn. (Listed even if the call fails: the ring then
        // finds nothing new, which costs one look.)
        self.ring_list();
        if bounded && self.pending().saturating_add(n) > self.high_water {
            return Err(errno(libc::ENOBUFS));
        }
        if self.output.capacity() - self.output.len() < n {
            if self.sent > 0 {
                self.output.drain(..self.sent);
                self.sent = 0;
            }
            self.output.try_reserve(n).map_err(|_| errno(libc::ENOMEM))?;
        }
        self.update_room();
        Ok(())
    }

    /// Queues bytes for the next flush (copied); returns the bytes pending.
    pub fn queue(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.reserve_output(bytes.len())?;
        self.output.extend_from_slice(bytes);
        Ok(self.pending())
    }

    /// Queues one frame (copied): many small frames go out in one write.
    /// Returns the bytes pending.
    #[inline]
    pub fn queue_frame(&mut self, payload: &[u8]) -> io::Result<usize> {
        with_codec!(self, queue_frame_with, queue_frame_custom, (payload))
    }

    #[cold]
    #[inline(never)]
    fn queue_frame_custom(&mut self, payload: &[u8]) -> io::Result<usize> {
        self.queue_frame_with(self.prefix, payload)
    }

    #[inline(always)]
    fn queue_frame_with<C: Codec>(&mut self, c: C, payload: &[u8]) -> io::Result<usize> {
        if payload.len() > c.max_len() {
            return Err(errno(libc::EMSGSIZE));
        }
        // A slice is at most isize::MAX bytes: no overflow.
        let framed = payload.len() + c.width();
        self.reserve_output(framed)?;
        let at = self.output.len();
        // SAFETY: capacity for both was reserved just above, the length fits
        // the prefix; both copies are complete before the length covers them.
        unsafe {
            let dst = self.output.as_mut_ptr().add(at);
            c.write(payload.len(), dst);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), dst.add(c.width()), payload.len());
            self.output.set_len(at + framed);
        }
        Ok(self.pending())
    }

    /// Queues one frame per entry of `lens`, whose payloads lie back to back
    /// in `payloads` (copied): a batch costs one call, not one per frame. All
    /// or nothing: `EMSGSIZE` for a length over 4 GiB - 1, `EINVAL` when the
    /// lengths do not add up to `payloads.len()`; nothing is queued then.
    /// Returns the bytes pending.
    pub fn queue_frames(&mut self, payloads: &[u8], lens: &[usize]) -> io::Result<usize> {
        with_codec!(self, queue_frames_with, queue_frames_custom, (payloads, lens))
    }

    #[cold]
    #[inline(never)]
    fn queue_frames_custom(&mut self, payloads: &[u8], lens: &[usize]) -> io::Result<usize> {
        self.queue_frames_with(self.prefix, payloads, lens)
    }

    #[inline(always)]
    fn queue_frames_with<C: Codec>(&mut self, c: C, payloads: &[u8], lens: &[usize]) -> io::Result<usize> {
        let (payload, framed) = framed_len(c, lens)?;
        if payload != payloads.len() {
            return Err(errno(libc::EINVAL));
        }
        self.reserve_output(framed)?;
        let at = self.output.len();
        // SAFETY: `framed` bytes of capacity were reserved just above and the
        // lengths add up to `payloads.len()`, so every copy is in bounds; the
        // length covers the bytes only once all are written.
        unsafe {
            let mut src = payloads.as_ptr();
            write_frames(c, self.output.as_mut_ptr().add(at), lens, |slot, len| {
                std::ptr::copy_nonoverlapping(src, slot, len);
                src = src.add(len);
            });
            self.output.set_len(at + framed);
        }
        Ok(self.pending())
    }

    /// Queues one frame per entry of `lens`, headers written and payloads
    /// zeroed, and hands each payload to `each`, in order, to be written in
    /// place: no copy. All or nothing: `EMSGSIZE` for a length over 4 GiB - 1;
    /// nothing is queued then. Returns the bytes pending.
    pub fn reserve_frames(&mut self, lens: &[usize], each: impl FnMut(&mut [u8])) -> io::Result<usize> {
        with_codec!(self, reserve_frames_with, reserve_frames_custom, (lens, each))
    }

    #[cold]
    #[inline(never)]
    fn reserve_frames_custom(&mut self, lens: &[usize], each: impl FnMut(&mut [u8])) -> io::Result<usize> {
        self.reserve_frames_with(self.prefix, lens, each)
    }

    #[inline(always)]
    fn reserve_frames_with<C: Codec>(
        &mut self,
        c: C,
        lens: &[usize],
        mut each: impl FnMut(&mut [u8]),
    ) -> io::Result<usize> {
        let (_, framed) = framed_len(c, lens)?;
        self.reserve_output(framed)?;
        let at = self.output.len();
        // Zeroed in one sweep: a payload the caller leaves unwritten goes out
        // as zeros, never as stale memory.
        self.output.resize(at + framed, 0);
        // SAFETY: the `framed` bytes from `at` were just added, initialized;
        // write_frames hands out disjoint slots inside them.
        unsafe {
            write_frames(c, self.output.as_mut_ptr().add(at), lens, |slot, len| {
                each(std::slice::from_raw_parts_mut(slot, len));
            });
        }
        Ok(self.pending())
    }

    /// Writes queued output within `deadline`; returns the bytes still pending.
    fn flush_within(&mut self, deadline: Deadline) -> io::Result<usize> {
        if self.pending() == 0 {
            return Ok(0);
        }
        let mut done = 0;
        let result = send_all(self.borrow(), &self.output[self.sent..], deadline, &mut done);
        self.output_sent(done);
        result.map(|()| self.pending())
    }

    /// `n` more bytes of the queue were written (by a flush, or by a ring's
    /// send of `ring_output`).
    pub(crate) fn output_sent(&mut self, n: usize) {
        debug_assert!(n <= self.pending());
        self.sent += n;
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
            // Hysteresis: a queue that refills to just over 64 KiB must not
            // be reallocated (and page-faulted in) on every flush.
            if self.output.capacity() > 2 * IDLE_OUTPUT {
                self.output.shrink_to(IDLE_OUTPUT);
            }
        }
        // The queue's capacity and `sent` changed: the fast path's bound
        // must follow (a stale one let a queue call write past a shrunk
        // queue, and measured the high-water mark from the old `sent`).
        self.update_room();
    }

    /// Event-loop step: writes what the socket takes now; returns the bytes
    /// still pending (0: stop asking for writability).
    pub fn flush(&mut self) -> io::Result<usize> {
        match self.flush_within(Deadline::Immediate) {
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => Ok(self.pending()),
            other => other,
        }
    }

    /// Writes queued output, then one frame, within `deadline`. On failure the
    /// unsent part of the frame stays queued (except for `EMSGSIZE`, which
    /// queues nothing), so the stream never holds half a frame.
    pub fn write_frame(&mut self, payload: &[u8], deadline: Deadline) -> io::Result<()> {
        if self.pending() > 0 {
            self.queue_frame(payload)?;
            return self.flush_within(deadline).map(drop);
        }
        let (mut done, prefix) = (0, self.prefix);
        let result = send_frame_with(self.borrow(), prefix, payload, deadline, &mut done);
        if let Err(err) = &result {
            if err.raw_os_error() != Some(libc::EMSGSIZE) {
                // The rest of a frame the peer has started is queued
                // whatever the high-water mark: half a frame would break
                // the stream.
                let head = prefix.encode(payload.len())?;
                let w = prefix.width();
                let rest = &payload[done.saturating_sub(w)..];
                self.reserve_output_slow(w.saturating_sub(done) + rest.len(), false)?;
                self.output.extend_from_slice(&head[done.min(w)..w]);
                self.output.extend_from_slice(rest);
            }
        }
        result
    }

    // ---- Access for the completion ring (src/ring.rs), which moves bytes
    // ---- itself; kept in one block so that it stays out of the way.

    /// Links the connection to a ring through `entry` (not listed), and
    /// lists it at once (the ring looks at it on its next turn, so output
    /// queued before it was added goes out too). False (nothing changed)
    /// when it is linked to a ring already.
    ///
    /// # Safety
    /// `entry` and its list must stay valid, at one address, until
    /// `ring_unlink`, the list with spare capacity for one more index per
    /// linked connection not listed; the ring and this connection must be
    /// used by one thread at a time.
    pub(crate) unsafe fn ring_link(&mut self, entry: NonNull<RingEntry>) -> bool {
        if self.ring.is_some() {
            return false;
        }
        self.ring = Some(RingLink(entry));
        self.ring_list();
        true
    }

    /// True while the connection is registered with a ring.
    pub(crate) fn ring_linked(&self) -> bool {
        self.ring.is_some()
    }

    /// Ends the link made by `ring_link`; the ring removes the entry itself.
    pub(crate) fn ring_unlink(&mut self) {
        self.abandon_pinned_input();
        self.ring = None;
        self.update_room();
    }

    /// A receive the ring could not cancel may still write into the read
    /// buffer: the buffer is given up (leaked, never reused) rather than
    /// freed under the kernel. Only when the kernel would not cancel a
    /// receive, which it always can; never in a normal run.
    fn abandon_pinned_input(&mut self) {
        if self.input_pinned() {
            std::mem::forget(std::mem::take(&mut self.input));
            self.start = 0;
            self.end = 0;
            if let Some(link) = &self.ring {
                link.set_pinned(false);
            }
        }
    }

    /// Puts the connection on its ring's list unless it is there already.
    #[cold]
    pub(crate) fn ring_list(&mut self) {
        let Some(link) = &self.ring else { return };
        // SAFETY: ring_link's contract: the entry and the list are alive, the
        // list has room for this index (each linked connection is on it at
        // most once), so the push does not allocate; no other reference to
        // either is live now.
        unsafe {
            let entry = &mut *link.0.as_ptr();
            if entry.listed {
                return;
            }
            entry.listed = true;
            (*entry.list.as_ptr()).push(entry.index);
        }
        self.update_room();
    }

    /// The ring took the list this connection was on: the next queue call
    /// lists it again.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the ring has backends on Linux only
    pub(crate) fn ring_unlisted(&mut self) {
        if let Some(link) = &self.ring {
            // SAFETY: as in ring_list.
            unsafe { (*link.0.as_ptr()).listed = false };
        }
        self.update_room();
    }

    /// How many more bytes the read buffer may take before its bound.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the io_uring backend
    pub(crate) fn ring_input_space(&self) -> usize {
        self.input_bound().saturating_sub(self.end - self.start)
    }

    /// Room at the end of the read buffer (made, within the bound, as a fill
    /// would); empty when full. Commit what was written with `ring_input_added`.
    pub(crate) fn ring_input_room(&mut self) -> io::Result<&mut [u8]> {
        self.make_room(self.input_bound())?;
        Ok(&mut self.input[self.end..])
    }

    /// `n` bytes were written at the front of `ring_input_room`.
    pub(crate) fn ring_input_added(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.input.len());
        self.end += n;
    }

    /// Room for a receive straight into the read buffer (made, within the
    /// bound, as a fill would), pinned until `ring_recv_done`: the buffer
    /// does not move meanwhile, whatever the caller takes. `None` when the
    /// buffer is full at its bound.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the io_uring backend
    pub(crate) fn ring_recv_target(&mut self) -> io::Result<Option<(NonNull<u8>, usize)>> {
        if self.ring.is_none() {
            return Err(errno(libc::EINVAL));
        }
        // EBUSY if a receive is in flight already.
        let room = self.ring_input_room()?;
        if room.is_empty() {
            return Ok(None);
        }
        let len = room.len();
        let target = (NonNull::from(room).cast::<u8>(), len);
        if let Some(link) = &self.ring {
            link.set_pinned(true);
        }
        Ok(Some(target))
    }

    /// The receive from `ring_recv_target` ended having written `n` bytes
    /// (0 for none); the buffer is free to move again.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the io_uring backend
    pub(crate) fn ring_recv_done(&mut self, n: usize) {
        if let Some(link) = &self.ring {
            debug_assert!(link.pinned() && self.end + n <= self.input.len());
            link.set_pinned(false);
        }
        self.end += n;
    }

    /// Queued output not yet written.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the io_uring backend
    pub(crate) fn ring_output(&self) -> &[u8] {
        &self.output[self.sent..]
    }
}

/// The payload total of a batch of frames and its size with headers:
/// `EMSGSIZE` for a length over what the prefix can declare (and over 4 GiB
/// - 1 for any prefix), `ENOMEM` for a batch larger than memory can be.
#[inline(always)]
fn framed_len<C: Codec>(c: C, lens: &[usize]) -> io::Result<(usize, usize)> {
    let payload = batch_payload_len(lens, c.max_len().min(MAX_PAYLOAD))?;
    let payload = usize::try_from(payload).map_err(|_| errno(libc::ENOMEM))?;
    let framed = lens.len().checked_mul(c.width()).and_then(|h| h.checked_add(payload));
    Ok((payload, framed.ok_or_else(|| errno(libc::ENOMEM))?))
}

/// Writes each frame's header at `dst` in turn and has `payload` fill the
/// `len` bytes after it.
///
/// # Safety
/// `dst` must be valid for writes of `lens.len() * c.width() + sum(lens)`
/// bytes, and every length at most `c.max_len()`.
#[inline(always)]
unsafe fn write_frames<C: Codec>(c: C, mut dst: *mut u8, lens: &[usize], mut payload: impl FnMut(*mut u8, usize)) {
    for &len in lens {
        // SAFETY: the caller sized dst for every header and payload, and each
        // length fits the codec.
        unsafe {
            c.write(len, dst);
            payload(dst.add(c.width()), len);
            dst = dst.add(c.width() + len);
        }
    }
}

/// The in-place steps on a buffer filled by hand, with no system call, so
/// that `make miri` checks their unsafe code.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A connection whose read buffer holds `bytes`, on no fd.
    pub(crate) fn conn_holding(bytes: &[u8], limit: usize) -> Conn {
        let mut conn = Conn::with_fd(ConnFd::Borrowed(-1), limit);
        conn.input = bytes.to_vec();
        conn.end = bytes.len();
        conn.input.extend_from_slice(&[0xee; 3]); // room past `end` is never read
        conn
    }

    pub(crate) fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        payloads.iter().flat_map(|p| [&(p.len() as u32).to_be_bytes()[..], p].concat()).collect()
    }

    #[test]
    fn take_frames_hands_out_whole_frames_in_batches_and_keeps_a_partial_one() {
        let mut stream = framed(&[b"ab", b"", b"cde", &[7; 10]]);
        stream.extend_from_slice(&[0, 0, 0, 9, 1, 2]); // a partial frame
        let mut conn = conn_holding(&stream, 16);
        let mut got = Vec::new();
        assert_eq!(conn.take_frames(3, |p| got.push(p.to_vec())).unwrap(), 3);
        assert_eq!(conn.take_frames(3, |p| got.push(p.to_vec())).unwrap(), 1);
        assert_eq!(conn.take_frames(3, |p| got.push(p.to_vec())).unwrap(), 0);
        assert_eq!(got, [b"ab".to_vec(), vec![], b"cde".to_vec(), vec![7; 10]]);
        assert_eq!(conn.buffered(), [0, 0, 0, 9, 1, 2]);
    }

    #[test]
    fn take_frames_stops_before_an_oversized_frame_and_reports_it_first_next() {
        let mut stream = framed(&[b"ok"]);
        stream.extend_from_slice(&[0, 0, 0, 17]);
        stream.extend_from_slice(&[9; 17]);
        stream.extend(framed(&[b"next"]));
        let mut conn = conn_holding(&stream, 16);
        let mut got = Vec::new();
        assert_eq!(conn.take_frames(10, |p| got.push(p.to_vec())).unwrap(), 1);
        let err = conn.take_frames(10, |_| panic!("nothing is taken")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE));
        assert_eq!(conn.take_frames(10, |p| got.push(p.to_vec())).unwrap(), 1);
        assert_eq!(got, [b"ok".to_vec(), b"next".to_vec()]);
    }

    #[test]
    fn reserve_frames_hands_out_zeroed_slots_behind_their_headers() {
        let mut conn = conn_holding(&[], 16);
        conn.queue(b"x").unwrap();
        let mut seen = Vec::new();
        let pending = conn
            .reserve_frames(&[2, 0, 3], |slot| {
                seen.push(slot.to_vec());
                slot.fill(b'a' + seen.len() as u8);
            })
            .unwrap();
        assert_eq!(pending, 1 + 12 + 5);
        assert_eq!(seen, [vec![0; 2], vec![], vec![0; 3]]);
        assert_eq!(conn.output, [&b"x"[..], &framed(&[b"bb", b"", b"ddd"])].concat());
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            conn.reserve_frames(&[1, 1 << 32], |_| panic!("nothing")).unwrap_err().raw_os_error(),
            Some(libc::EMSGSIZE)
        );
        assert_eq!(conn.pending(), 18);
    }

    #[test]
    fn the_batch_steps_use_any_prefix_in_place() {
        // Two frames with a 2-byte little-endian prefix, then a partial one.
        let stream = [&[2u8, 0][..], b"ab", &[0, 0], &[3, 0], b"cd"].concat();
        let mut conn = conn_holding(&stream, 16);
        conn.set_prefix(Prefix::new(2, true).unwrap());
        let mut got = Vec::new();
        assert_eq!(conn.take_frames(8, |p| got.push(p.to_vec())).unwrap(), 2);
        assert_eq!(got, [b"ab".to_vec(), vec![]]);
        assert_eq!(conn.buffered(), [3, 0, b'c', b'd']);
        // A 1-byte prefix declaring more than the limit: EMSGSIZE first.
        let mut conn = conn_holding(&[17, 1, 2], 16);
        conn.set_prefix(Prefix::new(1, false).unwrap());
        assert_eq!(conn.take_frames(8, |_| panic!("nothing")).unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
        // Built in place behind 8-byte big-endian prefixes.
        conn.set_prefix(Prefix::new(8, false).unwrap());
        conn.reserve_frames(&[1, 2], |slot| slot.fill(b'z')).unwrap();
        assert_eq!(conn.output, [&[0, 0, 0, 0, 0, 0, 0, 1][..], b"z", &[0, 0, 0, 0, 0, 0, 0, 2], b"zz"].concat());
        conn.set_prefix(Prefix::new(1, false).unwrap());
        assert_eq!(conn.queue_frames(&[0; 256], &[256]).unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
    }

    #[test]
    fn the_high_water_mark_is_one_compare_on_the_fast_path_and_exact() {
        let mut conn = conn_holding(&[], 16);
        conn.queue(&[1; 100]).unwrap(); // capacity for 100 or more
        conn.sent = 90; // as if a flush wrote 90 bytes
        conn.set_high_water(20);
        assert_eq!(conn.queue(&[2; 10]).unwrap(), 20, "exactly at the mark");
        assert_eq!(conn.queue(&[3]).unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
        assert_eq!(conn.pending(), 20);
        conn.set_high_water(usize::MAX);
        assert_eq!(conn.queue(&[4; 1000]).unwrap(), 1020);
    }

    #[test]
    fn queue_frames_writes_each_header_before_its_payload() {
        let mut conn = conn_holding(&[], 16);
        conn.queue(b"x").unwrap();
        assert_eq!(conn.queue_frames(b"abcdef", &[1, 0, 5]).unwrap(), 1 + 12 + 6);
        assert_eq!(conn.output, [&b"x"[..], &framed(&[b"a", b"", b"bcdef"])].concat());
        assert_eq!(conn.queue_frames(b"abc", &[1, 1]).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        assert_eq!(conn.queue_frame(b"yz").unwrap(), 19 + 6);
        assert_eq!(conn.output[19..], framed(&[b"yz"])[..]);
    }
}

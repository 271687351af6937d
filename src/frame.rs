//! Message boundaries on a byte stream.
//!
//! A stream has no end-of-message, so messages carry one: a 4-byte unsigned
//! big-endian length before the payload (a *frame*), or a delimiter byte string
//! after it (a *record*). The decoders here are pure: they look at bytes already
//! received and say what is complete, never allocate for a declared length, and
//! never read past the message, so a buffered reader keeps what follows.
//!
//! ```
//! use sockloop::frame::{decode, header, Decoded};
//!
//! let mut wire = header(3)?.to_vec();
//! wire.extend_from_slice(b"abcNEXT");
//! assert_eq!(decode(&wire, 16), Decoded::Frame { len: 3 });
//! assert_eq!(decode(&wire[..5], 16), Decoded::Incomplete);
//! assert_eq!(decode(&wire, 2), Decoded::TooLarge { declared: 3 });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;

use crate::deadline::Deadline;
use crate::io::{recv_exact, send_all, send_all_vectored};
use crate::sys::errno;

/// Bytes of the length prefix (`SL_FRAME_HEADER_LEN` in C).
pub const HEADER_LEN: usize = 4;

/// The largest payload a 4-byte length can declare (4 GiB - 1).
pub const MAX_PAYLOAD: usize = u32::MAX as usize;

/// Payloads up to this size are copied behind their header into one stack
/// buffer and sent with one `send`: cheaper than a two-entry `writev`.
const COPY_LIMIT: usize = 2048 - HEADER_LEN;

/// The length prefix for a payload of `len` bytes; `EMSGSIZE` when `len` does
/// not fit in 32 bits (never a truncated header).
pub fn header(len: usize) -> io::Result<[u8; HEADER_LEN]> {
    let len = u32::try_from(len).map_err(|_| errno(libc::EMSGSIZE))?;
    Ok(len.to_be_bytes())
}

/// The total payload of a batch of frames with these lengths (the sum of
/// `lens`); `EMSGSIZE` when any is over `max` (at most [`MAX_PAYLOAD`]: the
/// sum is exact below 2^32 frames only then).
#[inline]
pub fn batch_payload_len(lens: &[usize], max: usize) -> io::Result<u64> {
    debug_assert!(max <= MAX_PAYLOAD);
    // Two simple passes, which the compiler vectorizes: a batch is checked at
    // about one instruction a length.
    if lens.iter().fold(false, |too_long, &len| too_long | (len > max)) {
        return Err(errno(libc::EMSGSIZE));
    }
    // Each term is below 2^32, so fewer than 2^32 of them cannot overflow.
    if (lens.len() as u64) < 1 << 32 {
        return Ok(lens.iter().map(|&len| len as u64).sum());
    }
    Ok(lens.iter().try_fold(0u64, |total, &len| total.checked_add(len as u64)).unwrap_or(u64::MAX))
}

/// What the start of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame: its payload is `buf[HEADER_LEN..HEADER_LEN + len]`.
    Frame {
        /// The payload's length.
        len: usize,
    },
    /// Not yet: the header or part of the payload is still to come.
    Incomplete,
    /// The header declares more than the limit; nothing else was looked at.
    TooLarge {
        /// The length the header declares.
        declared: u64,
    },
}

/// Decodes the frame at the start of `buf` (4-byte big-endian prefix), whose
/// payload may be at most `limit` bytes. Looks only at the header before
/// comparing with the limit.
#[inline]
pub fn decode(buf: &[u8], limit: usize) -> Decoded {
    decode_with(Be32, buf, limit)
}

/// [`decode`] for any prefix: the payload is `buf[c.width()..][..len]`.
#[inline(always)]
pub fn decode_with<C: Codec>(c: C, buf: &[u8], limit: usize) -> Decoded {
    let Some(head) = buf.get(..c.width()) else {
        return Decoded::Incomplete;
    };
    let declared = c.read(head);
    if declared > limit as u64 {
        return Decoded::TooLarge { declared };
    }
    let len = declared as usize;
    if buf.len() - c.width() >= len {
        Decoded::Frame { len }
    } else {
        Decoded::Incomplete
    }
}

/// How a length prefix is read and written. Two kinds: [`Be32`], the default
/// with its width known at compile time (so the per-frame code of the default
/// is what it was before prefixes were configurable), and [`Prefix`], any
/// prefix, decided at run time.
pub trait Codec: Copy {
    /// Bytes of the prefix.
    fn width(self) -> usize;
    /// The largest length it can declare, capped at `usize::MAX`.
    fn max_len(self) -> usize;
    /// The declared length; `head` holds at least `width()` bytes.
    fn read(self, head: &[u8]) -> u64;
    /// Writes the prefix for `len` at `dst`.
    ///
    /// # Safety
    /// `dst` is valid for `width()` bytes of writes, and `len <= max_len()`.
    unsafe fn write(self, len: usize, dst: *mut u8);
}

/// The default prefix, 4 bytes big-endian, as a compile-time codec.
#[derive(Clone, Copy, Debug)]
pub struct Be32;

impl Codec for Be32 {
    #[inline(always)]
    fn width(self) -> usize {
        HEADER_LEN
    }
    #[inline(always)]
    fn max_len(self) -> usize {
        MAX_PAYLOAD
    }
    #[inline(always)]
    fn read(self, head: &[u8]) -> u64 {
        u32::from_be_bytes(head[..HEADER_LEN].try_into().expect("4 bytes")) as u64
    }
    #[inline(always)]
    unsafe fn write(self, len: usize, dst: *mut u8) {
        // SAFETY: the caller passes HEADER_LEN writable bytes at dst.
        unsafe { dst.cast::<[u8; HEADER_LEN]>().write_unaligned((len as u32).to_be_bytes()) };
    }
}

impl Codec for Prefix {
    #[inline(always)]
    fn width(self) -> usize {
        Prefix::width(self)
    }
    #[inline(always)]
    fn max_len(self) -> usize {
        usize::try_from(self.max_declared()).unwrap_or(usize::MAX)
    }
    #[inline(always)]
    fn read(self, head: &[u8]) -> u64 {
        self.decode(head)
    }
    #[inline(always)]
    unsafe fn write(self, len: usize, dst: *mut u8) {
        let bytes = self.encode(len).unwrap_or_default();
        // SAFETY: the caller passes width() writable bytes at dst; `bytes`
        // holds at least that many.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, self.width()) };
    }
}

/// A delimiter search that resumes where it stopped.
///
/// A record arriving one byte at a time would make a search from the start
/// quadratic; this one remembers how many start positions are known not to hold
/// the delimiter, so each byte is examined a bounded number of times. The
/// positions are relative to the start of the unconsumed data: call
/// [`DelimSearch::consumed`] when bytes are taken from the front.
#[derive(Clone, Debug, Default)]
pub struct DelimSearch {
    delim: Vec<u8>,
    checked: usize,
}

impl DelimSearch {
    /// A search that has looked at nothing yet.
    pub fn new() -> DelimSearch {
        DelimSearch::default()
    }

    /// Start positions known to hold no delimiter.
    pub fn checked(&self) -> usize {
        self.checked
    }

    /// The offset of the first `delim` in `hay`, continuing the previous search
    /// when `delim` is the same as last time. `delim` must not be empty.
    pub fn find(&mut self, hay: &[u8], delim: &[u8]) -> Option<usize> {
        debug_assert!(!delim.is_empty());
        if self.delim != delim {
            self.delim.clear();
            self.delim.extend_from_slice(delim);
            self.checked = 0;
        }
        let (first, rest) = (delim[0], &delim[1..]);
        let last_start = hay.len().checked_sub(delim.len());
        let mut at = self.checked;
        while let Some(last) = last_start.filter(|&last| at <= last) {
            match hay[at..=last].iter().position(|&b| b == first) {
                None => break,
                Some(i) => {
                    at += i;
                    if hay[at + 1..at + delim.len()] == *rest {
                        self.checked = at;
                        return Some(at);
                    }
                    at += 1;
                }
            }
        }
        // Every start up to the last complete window is done; a partial
        // delimiter at the very end is looked at again when more arrives.
        self.checked = self.checked.max(hay.len().saturating_sub(delim.len() - 1));
        None
    }

    /// `n` bytes were taken from the front of the searched data.
    #[inline]
    pub fn consumed(&mut self, n: usize) {
        self.checked = self.checked.saturating_sub(n);
    }
}

/// Sends one frame, header and payload, in a single system call when the socket
/// takes it all: small payloads are copied behind the header, large ones go by
/// vectored write. `*done` counts header and payload bytes sent.
///
/// Errors: `EMSGSIZE` for a payload over [`MAX_PAYLOAD`] (nothing sent), else
/// those of [`send_all`].
pub fn send_frame(fd: BorrowedFd<'_>, payload: &[u8], deadline: Deadline, done: &mut usize) -> io::Result<()> {
    send_frame_with(fd, Be32, payload, deadline, done)
}

/// [`send_frame`] with any prefix; `EMSGSIZE` (nothing sent) for a payload
/// the prefix cannot declare.
#[inline]
pub fn send_frame_with<C: Codec>(
    fd: BorrowedFd<'_>,
    c: C,
    payload: &[u8],
    deadline: Deadline,
    done: &mut usize,
) -> io::Result<()> {
    *done = 0;
    if payload.len() > c.max_len() {
        return Err(errno(libc::EMSGSIZE));
    }
    let w = c.width();
    let mut head = [0u8; 8];
    // SAFETY: 8 bytes of room, and the length was checked above.
    unsafe { c.write(payload.len(), head.as_mut_ptr()) };
    if payload.len() <= COPY_LIMIT {
        let mut one = [0u8; 8 + COPY_LIMIT];
        one[..w].copy_from_slice(&head[..w]);
        one[w..w + payload.len()].copy_from_slice(payload);
        return send_all(fd, &one[..w + payload.len()], deadline, done);
    }
    send_all_vectored(fd, &[IoSlice::new(&head[..w]), IoSlice::new(payload)], deadline, done)
}

/// A length prefix: 1, 2, 4 or 8 bytes, big- or little-endian. The default
/// (and the only one before prefixes were configurable) is 4 bytes big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(2))]
pub struct Prefix {
    width: u8,
    little_endian: bool,
}

impl Default for Prefix {
    fn default() -> Prefix {
        Prefix::DEFAULT
    }
}

impl Prefix {
    /// 4 bytes, big-endian.
    pub const DEFAULT: Prefix = Prefix { width: HEADER_LEN as u8, little_endian: false };

    /// A prefix of `width` bytes; `EINVAL` unless `width` is 1, 2, 4 or 8.
    pub fn new(width: usize, little_endian: bool) -> io::Result<Prefix> {
        match width {
            1 | 2 | 4 | 8 => Ok(Prefix { width: width as u8, little_endian }),
            _ => Err(errno(libc::EINVAL)),
        }
    }

    /// True for the default prefix: one compare of both fields at once, for
    /// the per-call dispatch to the compile-time codec.
    #[inline(always)]
    pub fn is_default(self) -> bool {
        u16::from_ne_bytes([self.width, self.little_endian as u8]) == u16::from_ne_bytes([HEADER_LEN as u8, 0])
    }

    /// Bytes of the prefix.
    #[inline(always)]
    pub fn width(self) -> usize {
        self.width as usize
    }

    /// True for a little-endian prefix.
    pub fn is_little_endian(self) -> bool {
        self.little_endian
    }

    /// The largest length the prefix can declare: 2^(8 * width) - 1.
    #[inline]
    pub fn max_declared(self) -> u64 {
        u64::MAX >> (64 - 8 * self.width as u32)
    }

    /// The prefix for a payload of `len` bytes, in the first [`Prefix::width`]
    /// bytes of the result; `EMSGSIZE` when `len` does not fit the width
    /// (never a truncated length).
    #[inline]
    pub fn encode(self, len: usize) -> io::Result<[u8; 8]> {
        let len = len as u64;
        if len > self.max_declared() {
            return Err(errno(libc::EMSGSIZE));
        }
        let mut out = [0u8; 8];
        let w = self.width();
        if self.little_endian {
            out[..w].copy_from_slice(&len.to_le_bytes()[..w]);
        } else {
            out[..w].copy_from_slice(&len.to_be_bytes()[8 - w..]);
        }
        Ok(out)
    }

    /// The length the prefix `bytes` (exactly [`Prefix::width`] of them)
    /// declares.
    #[inline]
    pub fn decode(self, bytes: &[u8]) -> u64 {
        let w = self.width();
        let mut wide = [0u8; 8];
        if self.little_endian {
            wide[..w].copy_from_slice(&bytes[..w]);
            u64::from_le_bytes(wide)
        } else {
            wide[8 - w..].copy_from_slice(&bytes[..w]);
            u64::from_be_bytes(wide)
        }
    }
}

/// How far an unfinished frame got: what a resumable receive keeps between
/// calls (`sl_frame_progress` in C). All zero: no frame started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of this frame received so far, prefix included.
    pub received: usize,
    /// The payload length the prefix declares, once the whole prefix is in.
    pub declared: u64,
    /// The prefix bytes received so far.
    pub prefix: [u8; 8],
}

/// Receives one frame into `buf`, unbuffered and resumable: the prefix, then
/// exactly the payload, so nothing past the frame is read. `progress` says
/// where an earlier call stopped (all zero for a new frame) and is updated on
/// every return: no byte read from the fd is ever dropped. Returns the
/// payload length and resets `progress`.
///
/// The prefix bytes are kept in `progress`, the payload bytes at the start of
/// `buf` (`progress.received - width` of them): a resumed call must be given
/// the same buffer, or one holding the same first bytes.
///
/// Errors: `EMSGSIZE` when the declared length is over `buf.len()` (checked
/// once the prefix is in, before any payload byte is read; `progress` keeps
/// the prefix and its declared length, so a call with a large enough buffer
/// goes on); `EINVAL` for a `progress` no receive could have left (more bytes
/// than the frame has); else those of [`recv_exact`], with the bytes that
/// did arrive counted.
pub fn recv_frame_resume(
    fd: BorrowedFd<'_>,
    prefix: Prefix,
    buf: &mut [u8],
    deadline: Deadline,
    progress: &mut Progress,
) -> io::Result<usize> {
    let width = prefix.width();
    if progress.received < width {
        let mut got = 0;
        let result = recv_exact(fd, &mut progress.prefix[progress.received..width], deadline, &mut got);
        progress.received += got;
        result?;
        progress.declared = prefix.decode(&progress.prefix);
    } else {
        // Recomputed from the kept prefix bytes: the caller's copy of the
        // struct cannot make this read past `buf`.
        progress.declared = prefix.decode(&progress.prefix);
        if (progress.received - width) as u64 > progress.declared {
            return Err(errno(libc::EINVAL));
        }
    }
    if progress.declared > buf.len() as u64 {
        return Err(errno(libc::EMSGSIZE));
    }
    let declared = progress.declared as usize;
    let mut got = 0;
    let result = recv_exact(fd, &mut buf[progress.received - width..declared], deadline, &mut got);
    progress.received += got;
    result?;
    *progress = Progress::default();
    Ok(declared)
}

/// Receives one frame into `buf` without buffering: the header, then exactly
/// the payload, so nothing past the frame is read. Returns the payload length.
/// `*done` counts header and payload bytes received; the payload bytes are at
/// the start of `buf`. It is [`recv_frame_resume`] with a progress that lives
/// for this call only.
///
/// A declared length over `buf.len()` is `EMSGSIZE` after the header was read
/// and before any payload byte: the payload stays unread in the fd, and the
/// header bytes are copied to `buf` when it has room for them.
pub fn recv_frame(fd: BorrowedFd<'_>, buf: &mut [u8], deadline: Deadline, done: &mut usize) -> io::Result<usize> {
    let mut progress = Progress::default();
    let result = recv_frame_resume(fd, Prefix::DEFAULT, buf, deadline, &mut progress);
    *done = match result {
        Ok(len) => HEADER_LEN + len,
        Err(ref err) => {
            if err.raw_os_error() == Some(libc::EMSGSIZE) {
                if let Some(room) = buf.get_mut(..HEADER_LEN) {
                    room.copy_from_slice(&progress.prefix[..HEADER_LEN]);
                }
            }
            progress.received
        }
    };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_big_endian_and_refuses_over_32_bits() {
        assert_eq!(header(0x01020304).unwrap(), [1, 2, 3, 4]);
        assert_eq!(header(MAX_PAYLOAD).unwrap(), [0xff; 4]);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(header(MAX_PAYLOAD + 1).unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
    }

    #[test]
    fn decode_checks_the_limit_before_the_payload() {
        assert_eq!(decode(&[0, 0, 0], 10), Decoded::Incomplete);
        assert_eq!(decode(&[0, 0, 0, 0], 0), Decoded::Frame { len: 0 });
        assert_eq!(decode(&[0, 0, 0, 2, 9], 10), Decoded::Incomplete);
        assert_eq!(decode(&[0, 0, 0, 2, 9, 9, 7], 2), Decoded::Frame { len: 2 });
        assert_eq!(decode(&[0, 0, 0, 3], 2), Decoded::TooLarge { declared: 3 });
        assert_eq!(decode(&[0xff; 4], usize::MAX), Decoded::Incomplete);
    }

    #[test]
    fn prefixes_encode_and_decode_every_width_and_order() {
        for (width, little, len, wire) in [
            (1, false, 0xab, &[0xab][..]),
            (2, false, 0x0102, &[1, 2]),
            (2, true, 0x0102, &[2, 1]),
            (4, false, 0x01020304, &[1, 2, 3, 4]),
            (4, true, 0x01020304, &[4, 3, 2, 1]),
            (8, false, 0x0102030405060708, &[1, 2, 3, 4, 5, 6, 7, 8]),
            (8, true, 0x0102030405060708, &[8, 7, 6, 5, 4, 3, 2, 1]),
        ] {
            let p = Prefix::new(width, little).unwrap();
            #[cfg(target_pointer_width = "64")]
            assert_eq!(&p.encode(len as usize).unwrap()[..width], wire);
            assert_eq!(p.decode(wire), len);
        }
        assert_eq!(Prefix::new(1, false).unwrap().encode(256).unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
        assert_eq!(Prefix::new(2, true).unwrap().max_declared(), 65535);
        assert_eq!(Prefix::new(8, true).unwrap().max_declared(), u64::MAX);
        for bad in [0, 3, 5, 16, usize::MAX] {
            assert_eq!(Prefix::new(bad, false).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        }
        assert_eq!(Prefix::DEFAULT.encode(7).unwrap()[..4], header(7).unwrap());
    }

    #[test]
    fn delimiter_search_resumes_and_finds_split_delimiters() {
        let mut s = DelimSearch::new();
        let data = b"abc\r\ndef";
        for end in 0..4 {
            assert_eq!(s.find(&data[..end], b"\r\n"), None);
        }
        assert_eq!(s.checked(), 2);
        assert_eq!(s.find(&data[..5], b"\r\n"), Some(3));
        s.consumed(5);
        assert_eq!(s.find(&data[5..], b"\r\n"), None);
        // A different delimiter starts over.
        assert_eq!(s.find(&data[5..], b"e"), Some(1));
        assert_eq!(DelimSearch::new().find(b"xxENDyy", b"END"), Some(2));
        assert_eq!(DelimSearch::new().find(b"EN", b"END"), None);
        assert_eq!(DelimSearch::new().find(b"EEND", b"END"), Some(1));
    }
}

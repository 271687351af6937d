//! Message boundaries on a byte stream.
//!
//! A stream has no end-of-message, so messages carry one: a 4-byte unsigned
//! big-endian length before the payload (a *frame*), or a delimiter byte string
//! after it (a *record*). The decoders here are pure: they look at bytes already
//! received and say what is complete, never allocate for a declared length, and
//! never read past the message, so a buffered reader keeps what follows.

use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;

use crate::deadline::Deadline;
use crate::io::{recv_exact, send_all, send_all_vectored};

/// Bytes of the length prefix (`SL_FRAME_HEADER_LEN` in C).
///
/// cbindgen:ignore
pub const HEADER_LEN: usize = 4;

/// The largest payload a 4-byte length can declare (4 GiB - 1).
///
/// cbindgen:ignore
pub const MAX_PAYLOAD: usize = u32::MAX as usize;

/// Payloads up to this size are copied behind their header into one stack
/// buffer and sent with one `send`: cheaper than a two-entry `writev`.
const COPY_LIMIT: usize = 2048 - HEADER_LEN;

fn emsgsize() -> io::Error {
    io::Error::from_raw_os_error(libc::EMSGSIZE)
}

/// The length prefix for a payload of `len` bytes; `EMSGSIZE` when `len` does
/// not fit in 32 bits (never a truncated header).
pub fn header(len: usize) -> io::Result<[u8; HEADER_LEN]> {
    let len = u32::try_from(len).map_err(|_| emsgsize())?;
    Ok(len.to_be_bytes())
}

/// The total payload of a batch of frames with these lengths (the sum of
/// `lens`); `EMSGSIZE` when any is over [`MAX_PAYLOAD`].
#[inline]
pub fn batch_payload_len(lens: &[usize]) -> io::Result<u64> {
    // Two simple passes, which the compiler vectorizes: a batch is checked at
    // about one instruction a length.
    if lens.iter().fold(false, |too_long, &len| too_long | (len > MAX_PAYLOAD)) {
        return Err(emsgsize());
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
    Frame { len: usize },
    /// Not yet: the header or part of the payload is still to come.
    Incomplete,
    /// The header declares more than the limit; nothing else was looked at.
    TooLarge { declared: u64 },
}

/// Decodes the frame at the start of `buf`, whose payload may be at most
/// `limit` bytes. Looks only at the header before comparing with the limit.
#[inline]
pub fn decode(buf: &[u8], limit: usize) -> Decoded {
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Decoded::Incomplete;
    };
    let declared = u32::from_be_bytes(head.try_into().expect("4 bytes")) as u64;
    if declared > limit as u64 {
        return Decoded::TooLarge { declared };
    }
    let len = declared as usize;
    if buf.len() - HEADER_LEN >= len {
        Decoded::Frame { len }
    } else {
        Decoded::Incomplete
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
    *done = 0;
    let head = header(payload.len())?;
    if payload.len() <= COPY_LIMIT {
        let mut one = [0u8; HEADER_LEN + COPY_LIMIT];
        one[..HEADER_LEN].copy_from_slice(&head);
        one[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
        return send_all(fd, &one[..HEADER_LEN + payload.len()], deadline, done);
    }
    send_all_vectored(fd, &[IoSlice::new(&head), IoSlice::new(payload)], deadline, done)
}

/// Receives one frame into `buf` without buffering: the header, then exactly
/// the payload, so nothing past the frame is read. Returns the payload length.
/// `*done` counts header and payload bytes received; the payload bytes are at
/// the start of `buf`.
///
/// A declared length over `buf.len()` is `EMSGSIZE` after the header was read
/// and before any payload byte: the payload stays unread in the fd, and the
/// header bytes are copied to `buf` when it has room for them.
pub fn recv_frame(fd: BorrowedFd<'_>, buf: &mut [u8], deadline: Deadline, done: &mut usize) -> io::Result<usize> {
    *done = 0;
    let mut head = [0u8; HEADER_LEN];
    recv_exact(fd, &mut head, deadline, done)?;
    let declared = u32::from_be_bytes(head) as usize;
    if declared > buf.len() {
        if let Some(room) = buf.get_mut(..HEADER_LEN) {
            room.copy_from_slice(&head);
        }
        return Err(emsgsize());
    }
    let mut got = 0;
    let result = recv_exact(fd, &mut buf[..declared], deadline, &mut got);
    *done += got;
    result.map(|()| declared)
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

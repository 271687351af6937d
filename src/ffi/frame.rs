//! `extern "C"` shims for unbuffered length-prefixed frames ([`crate::frame`]).

use std::os::raw::{c_int, c_void};

use super::{borrow_fd, check, ffi_guard, input, output, DoneOut, Errno};
use crate::deadline::Deadline;
use crate::frame;

/// Bytes of a frame's length prefix: a 4-byte unsigned big-endian length comes
/// before every payload.
pub const SL_FRAME_HEADER_LEN: usize = 4;

/// The largest frame payload: 4 GiB - 1 (`UINT32_MAX`). An integer literal,
/// so that it works in `#if`.
pub const SL_FRAME_MAX_PAYLOAD: usize = 4294967295;
const _: () = assert!(SL_FRAME_MAX_PAYLOAD == u32::MAX as usize);

const _: () = assert!(SL_FRAME_HEADER_LEN == frame::HEADER_LEN && SL_FRAME_MAX_PAYLOAD == frame::MAX_PAYLOAD);

/// Length-prefix flag: the length is big-endian (network order), as the
/// default 4-byte prefix. The value 0: the same as no flag.
pub const SL_PREFIX_BIG_ENDIAN: c_int = 0;

/// Length-prefix flag: the length is little-endian.
pub const SL_PREFIX_LITTLE_ENDIAN: c_int = 1;

/// A caller's prefix: `bytes` 1, 2, 4 or 8 and known `flags`, else `EINVAL`.
pub(super) fn prefix_arg(bytes: usize, flags: c_int) -> Result<frame::Prefix, Errno> {
    check(flags & !SL_PREFIX_LITTLE_ENDIAN == 0)?;
    Ok(frame::Prefix::new(bytes, flags & SL_PREFIX_LITTLE_ENDIAN != 0)?)
}

/// Sends one frame on `fd`: a 4-byte unsigned big-endian length, then the
/// `len` bytes of `payload`, in one system call when the socket takes it all
/// (payloads up to 2044 bytes are copied behind the header into one stack
/// buffer; larger ones go by one vectored write). Unbuffered: nothing is kept
/// after the call.
///
/// Works on sockets (no `SIGPIPE`), pipes and other stream fds, blocking or
/// non-blocking, as `sl_send_all`.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for the whole call.
///
/// `*sent` (may be NULL) is set on every return to the bytes sent, counting the
/// 4 header bytes and the payload: `*sent == len + 4` on success. After
/// `ETIMEDOUT` or `EAGAIN` with `0 < *sent`, the peer holds part of a frame:
/// send the rest of header and payload with `sl_send_all` (or close).
///
/// Returns `len` (the payload length) on success; `len == 0` sends an empty
/// frame (the 4-byte header alone).
/// Errors (`-1`, errno):
/// - `EMSGSIZE`: `len` over `UINT32_MAX` (4 GiB - 1), up to `SSIZE_MAX`; nothing was sent.
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR`, `EPIPE`, `ECONNRESET`, `EBADF`: as `sl_send_all`.
/// - `EINVAL`: `payload` NULL with `len > 0`, `len > SSIZE_MAX`, `fd < 0`, or
///   `timeout_ms < -1`.
#[no_mangle]
pub unsafe extern "C" fn sl_send_frame(
    fd: c_int,
    payload: *const c_void,
    len: usize,
    timeout_ms: c_int,
    sent: *mut usize,
) -> libc::ssize_t {
    // SAFETY: `payload` NULL or readable for `len` bytes, `sent` NULL or writable, `fd` open (the C contract).
    ffi_guard!({ unsafe { send_framed(fd, Ok(frame::Be32), payload, len, timeout_ms, sent) } })
}

/// The body of both frame sends; `*sent` is 0 when `prefix` is an error.
unsafe fn send_framed<C: frame::Codec>(
    fd: c_int,
    prefix: Result<C, Errno>,
    payload: *const c_void,
    len: usize,
    timeout_ms: c_int,
    sent: *mut usize,
) -> Result<libc::ssize_t, Errno> {
    // SAFETY: `sent` is NULL or a writable `size_t` (the caller's contract).
    let mut done = unsafe { DoneOut::new(sent) };
    let prefix = prefix?;
    // SAFETY: `payload` is NULL or readable for `len` bytes (the caller's contract).
    let bytes = unsafe { input(payload.cast::<u8>(), len) }?;
    let deadline = Deadline::from_timeout_ms(timeout_ms)?;
    // SAFETY: the caller keeps `fd` open for the call.
    let fd = unsafe { borrow_fd(fd) }?;
    frame::send_frame_with(fd, prefix, bytes, deadline, &mut done.count)?;
    Ok(len as libc::ssize_t)
}

/// Where an unfinished frame stands, for `sl_recv_frame_resume` and
/// `sl_recv_frame_prefix`: zero it
/// (`sl_frame_progress p = {0};`) before a frame, and keep it between the
/// calls that receive that frame. The library fills it in; read it, do not
/// change it.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sl_frame_progress {
    /// Bytes of this frame received so far, prefix included (0: no frame
    /// started).
    pub received: usize,
    /// The payload length the prefix declares, set once the whole prefix has
    /// arrived (0 before).
    pub declared: u64,
    /// The prefix bytes received so far (the first `min(received, prefix
    /// width)` of them).
    pub prefix: [u8; 8],
}

impl sl_frame_progress {
    fn load(&self) -> frame::Progress {
        frame::Progress { received: self.received, declared: self.declared, prefix: self.prefix }
    }

    fn store(&mut self, p: &frame::Progress) {
        (self.received, self.declared, self.prefix) = (p.received, p.declared, p.prefix);
    }
}

/// Receives one frame from `fd` into `buf`, unbuffered: it reads the 4-byte
/// header, then exactly the payload, never a byte past the frame. Nothing is
/// allocated.
///
/// This is `sl_recv_frame_resume` with a progress that lives for this call
/// only: a frame cut by `ETIMEDOUT`, `EAGAIN` or `EINTR` cannot be finished
/// by calling `sl_recv_frame` again (the header bytes it took are gone with
/// the call). Where a receive may time out and the connection should live
/// on, call `sl_recv_frame_resume`, which keeps every byte; or use the
/// buffered `sl_conn_read_frame`.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for the whole call.
///
/// `*received` (may be NULL) is set on every return to the bytes received,
/// header included: on success `*received == return value + 4`. The payload
/// bytes are at the start of `buf` (`*received - 4` of them after an error past
/// the header).
///
/// Returns the payload length (`0` for an empty frame).
/// Errors (`-1`, errno):
/// - `EMSGSIZE`: the header declares more than `capacity` bytes. The header
///   was consumed (`*received == 4`), the payload was left unread in the fd;
///   when `capacity >= 4` the 4 header bytes are copied to `buf`, so
///   `sl_get_u32be(buf)` gives the declared length. Read or skip that many
///   bytes to go on, or close the connection.
/// - `EPIPE`: end of stream before the frame was complete (`*received == 0`:
///   the stream ended cleanly between frames).
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR`, `ECONNRESET`, `EBADF`: as `sl_recv_exact`.
/// - `EINVAL`: `buf` NULL with `capacity > 0`, `capacity > SSIZE_MAX`,
///   `fd < 0`, or `timeout_ms < -1`.
#[no_mangle]
pub unsafe extern "C" fn sl_recv_frame(
    fd: c_int,
    buf: *mut c_void,
    capacity: usize,
    timeout_ms: c_int,
    received: *mut usize,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `received` is NULL or a writable `size_t` (the C contract).
        let mut done = unsafe { DoneOut::new(received) };
        // SAFETY: `buf` is NULL or writable for `capacity` bytes (the C contract).
        let bytes = unsafe { output(buf.cast::<u8>(), capacity) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        // SAFETY: the caller keeps `fd` open for the call (the C contract).
        let fd = unsafe { borrow_fd(fd) }?;
        let len = frame::recv_frame(fd, bytes, deadline, &mut done.count)?;
        Ok(len as libc::ssize_t)
    })
}

/// Receives one frame (4-byte big-endian length, then payload) from `fd` into
/// `buf`, unbuffered and resumable: a call cut short by a timeout, a signal
/// or `EMSGSIZE` keeps every byte it read, and the next call with the same
/// `progress` and `buf` goes on where it stopped. Nothing is read past the
/// frame and nothing is allocated.
///
/// `progress` starts zeroed for each new frame (`sl_frame_progress p = {0};`);
/// on success it is zeroed again, ready for the next frame. On every return it
/// says how far the frame got:
/// - `progress->received`: bytes of the frame received so far, header
///   included. The header bytes are in `progress->prefix`; the payload bytes,
///   `received - 4` of them once the header is in, at the start of `buf`.
/// - `progress->declared`: the payload length, once the 4 header bytes are in
///   (so mid-payload `declared - (received - 4)` bytes remain).
///
/// Resume with the same `buf` (or one whose first `received - 4` bytes are the
/// same) and at least `declared` bytes of `capacity`.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for this call
/// (each resumed call has its own).
///
/// Returns the payload length (`0` for an empty frame). Errors (`-1`, errno;
/// `progress` updated):
/// - `ETIMEDOUT`, `EAGAIN` (`timeout_ms == 0`), `EINTR` (the thread's
///   interrupt check): call again to go on.
/// - `EMSGSIZE`: the header declares more than `capacity` bytes. The header
///   is kept in `progress` (`declared` says how much), no payload byte was
///   read: call again with a buffer of at least `declared` bytes, or skip
///   `declared` bytes and zero `progress`, or close the connection.
/// - `EPIPE`: end of stream before the frame was complete
///   (`progress->received == 0`: the stream ended cleanly between frames).
/// - `ECONNRESET`, `EBADF`: as `sl_recv_exact`.
/// - `EINVAL`: `progress` NULL, `buf` NULL with `capacity > 0`, `capacity >
///   SSIZE_MAX`, `fd < 0`, `timeout_ms < -1`, or a `progress` no frame could
///   have left (more payload received than its header declares); nothing is
///   read then.
#[no_mangle]
pub unsafe extern "C" fn sl_recv_frame_resume(
    fd: c_int,
    buf: *mut c_void,
    capacity: usize,
    timeout_ms: c_int,
    progress: *mut sl_frame_progress,
) -> libc::ssize_t {
    // SAFETY: `buf` NULL or writable for `capacity` bytes, `progress` NULL or valid, `fd` open (the C contract).
    ffi_guard!({ unsafe { recv_resumable(fd, frame::Prefix::DEFAULT, buf, capacity, timeout_ms, progress) } })
}

/// `sl_send_frame` with any length prefix: `prefix_bytes` (1, 2, 4 or 8)
/// bytes holding `len`, big-endian by default or little-endian with
/// `SL_PREFIX_LITTLE_ENDIAN` in `flags`, then the payload, in one system call
/// when the socket takes it all. `sl_send_frame` is this call with 4 and
/// `SL_PREFIX_BIG_ENDIAN`.
///
/// Timeout and `*sent` as `sl_send_frame` (`*sent == len + prefix_bytes` on
/// success; after `ETIMEDOUT` or `EAGAIN` with `0 < *sent`, send the rest of
/// prefix and payload with `sl_send_all`, or close).
///
/// Returns `len`. Errors (`-1`, errno):
/// - `EMSGSIZE`: `len` does not fit the prefix (over 255, 65535, 4 GiB - 1
///   for 1, 2, 4 bytes); nothing was sent.
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR`, `EPIPE`, `ECONNRESET`, `EBADF`: as `sl_send_all`.
/// - `EINVAL`: `prefix_bytes` not 1, 2, 4 or 8, unknown `flags` bits,
///   `payload` NULL with `len > 0`, `len > SSIZE_MAX`, `fd < 0`, or
///   `timeout_ms < -1`; nothing was sent.
#[no_mangle]
pub unsafe extern "C" fn sl_send_frame_prefix(
    fd: c_int,
    prefix_bytes: usize,
    flags: c_int,
    payload: *const c_void,
    len: usize,
    timeout_ms: c_int,
    sent: *mut usize,
) -> libc::ssize_t {
    // SAFETY: `payload` NULL or readable for `len` bytes, `sent` NULL or writable, `fd` open (the C contract).
    ffi_guard!({ unsafe { send_framed(fd, prefix_arg(prefix_bytes, flags), payload, len, timeout_ms, sent) } })
}

/// `sl_recv_frame_resume` with any length prefix: `prefix_bytes` (1, 2, 4 or
/// 8) bytes, big-endian by default or little-endian with
/// `SL_PREFIX_LITTLE_ENDIAN` in `flags`, then the payload. Resumable in the
/// same way: `progress` starts zeroed, keeps the prefix bytes received so far
/// (`progress->prefix`, the first `prefix_bytes`), the declared length once
/// the prefix is in, and the count (`progress->received`, prefix included);
/// the payload bytes are at the start of `buf`. Pass the same prefix, `buf`
/// and `progress` to every call of one frame. `sl_recv_frame_resume` is this
/// call with 4 and `SL_PREFIX_BIG_ENDIAN`.
///
/// The declared length is compared with `capacity` before any payload byte is
/// read; nothing is allocated.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for this call.
///
/// Returns the payload length (and zeroes `progress`). Errors (`-1`, errno;
/// `progress` updated) as `sl_recv_frame_resume`:
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR`: call again to go on.
/// - `EMSGSIZE`: the prefix declares more than `capacity`; the prefix is kept
///   in `progress`, no payload byte was read.
/// - `EPIPE`: end of stream first (`progress->received == 0`: between frames).
/// - `ECONNRESET`, `EBADF`: as `sl_recv_exact`.
/// - `EINVAL`: `prefix_bytes` not 1, 2, 4 or 8, unknown `flags` bits,
///   `progress` NULL, `buf` NULL with `capacity > 0`, `capacity > SSIZE_MAX`,
///   `fd < 0`, `timeout_ms < -1`, or a `progress` no frame could have left;
///   nothing is read then.
#[no_mangle]
pub unsafe extern "C" fn sl_recv_frame_prefix(
    fd: c_int,
    prefix_bytes: usize,
    flags: c_int,
    buf: *mut c_void,
    capacity: usize,
    timeout_ms: c_int,
    progress: *mut sl_frame_progress,
) -> libc::ssize_t {
    ffi_guard!({
        let prefix = prefix_arg(prefix_bytes, flags)?;
        // SAFETY: `buf` NULL or writable for `capacity` bytes, `progress` NULL or valid, `fd` open (the C contract).
        unsafe { recv_resumable(fd, prefix, buf, capacity, timeout_ms, progress) }
    })
}

/// The body of both resumable receives.
unsafe fn recv_resumable(
    fd: c_int,
    prefix: frame::Prefix,
    buf: *mut c_void,
    capacity: usize,
    timeout_ms: c_int,
    progress: *mut sl_frame_progress,
) -> Result<libc::ssize_t, Errno> {
    check(!progress.is_null())?;
    // SAFETY: `buf` is NULL or writable for `capacity` bytes (the C contract).
    let bytes = unsafe { output(buf.cast::<u8>(), capacity) }?;
    let deadline = Deadline::from_timeout_ms(timeout_ms)?;
    // SAFETY: the caller keeps `fd` open for the call (the C contract).
    let fd = unsafe { borrow_fd(fd) }?;
    // SAFETY: checked non-NULL; the caller passes a valid struct.
    let slot = unsafe { &mut *progress };
    let mut state = slot.load();
    let result = frame::recv_frame_resume(fd, prefix, bytes, deadline, &mut state);
    slot.store(&state);
    Ok(result? as libc::ssize_t)
}

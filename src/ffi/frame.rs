//! `extern "C"` shims for unbuffered length-prefixed frames ([`crate::frame`]).

use std::os::raw::{c_int, c_void};

use super::{borrow_fd, ffi_guard, input, output, DoneOut};
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
/// - `ETIMEDOUT`, `EAGAIN`, `EPIPE`, `ECONNRESET`, `EBADF`: as `sl_send_all`.
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
    ffi_guard!({
        let mut done = DoneOut::new(sent);
        let bytes = input(payload.cast::<u8>(), len)?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        let fd = borrow_fd(fd)?;
        frame::send_frame(fd, bytes, deadline, &mut done.count)?;
        Ok(len as libc::ssize_t)
    })
}

/// Receives one frame from `fd` into `buf`, unbuffered: it reads the 4-byte
/// header, then exactly the payload, never a byte past the frame. Nothing is
/// allocated. For a buffered, resumable reader use `sl_conn_read_frame`.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for the whole call.
///
/// `*received` (may be NULL) is set on every return to the bytes received,
/// header included: on success `*received == return value + 4`. The payload
/// bytes are at the start of `buf` (`*received - 4` of them after an error past
/// the header). A frame cut by `ETIMEDOUT`/`EAGAIN` cannot be resumed by this
/// function: the stream is mid-frame.
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
/// - `ETIMEDOUT`, `EAGAIN`, `ECONNRESET`, `EBADF`: as `sl_recv_exact`.
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
        let mut done = DoneOut::new(received);
        let bytes = output(buf.cast::<u8>(), capacity)?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        let fd = borrow_fd(fd)?;
        let len = frame::recv_frame(fd, bytes, deadline, &mut done.count)?;
        Ok(len as libc::ssize_t)
    })
}

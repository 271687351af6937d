//! `extern "C"` shims for the buffered connection `sl_conn` ([`crate::conn`]).

use std::os::raw::{c_int, c_void};

use super::{check, ffi_guard, handle_mut, handle_ref, input, output, Errno};
use crate::conn::Conn;
use crate::deadline::Deadline;
use crate::frame::batch_payload_len;

/// `sl_conn_new` flag: `sl_conn_free` closes the fd.
pub const SL_CONN_OWN_FD: c_int = 1;

/// A buffered reader/writer around one fd (opaque; see `sl_conn_new`).
#[allow(non_camel_case_types)]
pub struct sl_conn {
    conn: Conn,
}

/// The connection behind a C handle (see [`handle_mut`]).
///
/// # Safety
/// As [`handle_mut`].
unsafe fn conn_mut<'a>(c: *mut sl_conn) -> Result<&'a mut Conn, Errno> {
    // SAFETY: as promised by the caller.
    Ok(&mut unsafe { handle_mut(c) }?.conn)
}

/// The connection behind a C handle, for reading (see [`handle_ref`]).
///
/// # Safety
/// As [`handle_ref`].
unsafe fn conn_ref<'a>(c: *const sl_conn) -> Result<&'a Conn, Errno> {
    // SAFETY: as promised by the caller.
    Ok(&unsafe { handle_ref(c) }?.conn)
}

/// The connection inside a caller's `sl_conn`, as a pointer (for the ring,
/// which keeps it): NULL is `EINVAL`.
///
/// # Safety
/// A non-NULL `c` must come from `sl_conn_new` and not be freed.
pub(crate) unsafe fn conn_ptr(c: *mut sl_conn) -> Result<*mut Conn, Errno> {
    check(!c.is_null())?;
    // SAFETY: a non-NULL `c` is a live sl_conn (the caller's promise); no reference is made.
    Ok(unsafe { std::ptr::addr_of_mut!((*c).conn) })
}

/// Hands a message found in place to C through two out-pointers.
///
/// # Safety
/// Both pointers must be valid for writes.
unsafe fn hand_out(found: Option<&[u8]>, ptr_out: *mut *const c_void, len_out: *mut usize) -> c_int {
    let (ptr, len) = found.map_or((std::ptr::null(), 0), |m| (m.as_ptr().cast(), m.len()));
    // SAFETY: the caller passes two writable out-pointers.
    unsafe {
        *ptr_out = ptr;
        *len_out = len;
    }
    c_int::from(found.is_some())
}

/// Creates a buffered connection over `fd` (a socket, pipe or other stream fd,
/// blocking or non-blocking; its flags are never changed).
///
/// `max_message` limits every message: frame payloads and records (without
/// their delimiter), and exact reads. It also bounds memory: the read buffer
/// is `min(65536, max_message) + 4` bytes (allocated on first read; more only
/// for delimiters or a length prefix over 4 bytes), grows only while a larger
/// message is assembled, never past `max_message + max(prefix width,
/// delimiter length)`, and shrinks
/// back once emptied. The output queue holds what you queue until it is
/// written; once flushed it keeps at most 128 KiB. A new connection allocates
/// 168 bytes (x86-64) and no buffer until first use.
///
/// `flags`: 0, or `SL_CONN_OWN_FD` to have `sl_conn_free` close `fd`. Without
/// it the caller keeps ownership and must keep `fd` open while the connection
/// is used. Do not read from or write to `fd` directly meanwhile: buffered
/// bytes would be skipped or interleaved. A connection is for one thread at a
/// time.
///
/// Returns the connection, or NULL with errno:
/// - `EINVAL`: `fd < 0`, `max_message > UINT32_MAX`, or unknown `flags` bits.
/// - `EBADF`: `fd` is not open.
/// - `ENOMEM`: out of memory.
#[no_mangle]
pub extern "C" fn sl_conn_new(fd: c_int, max_message: usize, flags: c_int) -> *mut sl_conn {
    ffi_guard!({
        check(flags & !SL_CONN_OWN_FD == 0)?;
        let conn = if flags & SL_CONN_OWN_FD != 0 {
            // SAFETY: the C caller hands the fd over; it stays theirs on failure.
            unsafe { Conn::from_raw_fd(fd, max_message)? }
        } else {
            // SAFETY: the C caller keeps the fd open until sl_conn_free.
            unsafe { Conn::borrowing(fd, max_message)? }
        };
        Ok(Box::into_raw(Box::new(sl_conn { conn })))
    })
}

/// Frees a connection and its buffers; closes the fd if it was created with
/// `SL_CONN_OWN_FD`. Unread buffered input and unflushed output are dropped:
/// flush first if they matter. `sl_conn_free(NULL)` does nothing.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_free(c: *mut sl_conn) {
    ffi_guard!({
        if !c.is_null() {
            // SAFETY: a non-NULL `c` comes from its `_new` and is freed once (the C contract).
            drop(unsafe { Box::from_raw(c) });
        }
        Ok(())
    })
}

/// Sets the length prefix of the connection's frames: `prefix_bytes` (1, 2,
/// 4 or 8) bytes, big-endian by default or little-endian with
/// `SL_PREFIX_LITTLE_ENDIAN` in `flags`. A new connection has the default, 4
/// bytes big-endian. The prefix applies to every frame call on `c`: the
/// blocking `sl_conn_read_frame` and `sl_conn_write_frame`, the event-loop
/// steps `sl_conn_next_frame`, `sl_conn_queue_frame`, and the batch steps
/// `sl_conn_next_frames`, `sl_conn_queue_frames`, `sl_conn_reserve_frames`.
///
/// It takes effect at once, for protocols that switch after a handshake:
/// frames already queued keep the prefix they were queued with; buffered
/// input not yet taken is decoded with the new one. The read buffer grows by
/// the prefix width (`max_message + max(prefix_bytes, delimiter length)`).
/// A declared length over `max_message` is `EMSGSIZE` as always, before
/// anything is allocated; a 1- or 2-byte prefix cannot declare more than 255
/// or 65535 bytes, and queueing a longer payload is `EMSGSIZE`.
///
/// Returns 0. Errors (`-1`, errno; nothing changed): `EINVAL` for `c` NULL,
/// `prefix_bytes` not 1, 2, 4 or 8, or unknown `flags` bits. Never waits.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_set_prefix(c: *mut sl_conn, prefix_bytes: usize, flags: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        conn.set_prefix(super::frame::prefix_arg(prefix_bytes, flags)?);
        Ok(0)
    })
}

/// Sets the connection's high-water mark: the most output bytes that may be
/// pending (queued and not yet written). A queue call that would take the
/// pending bytes over it (`sl_conn_queue`, `sl_conn_queue_frame`,
/// `sl_conn_queue_frames`, `sl_conn_reserve_frames`, and
/// `sl_conn_write_frame` while output is pending) fails with `ENOBUFS` and
/// queues nothing, all or nothing, so a peer that never reads cannot make
/// the queue grow without bound. Stop producing for that connection (stop
/// reading its requests: back-pressure) until `sl_conn_flush` has brought
/// `sl_conn_pending` down.
///
/// `max_pending` `SIZE_MAX` is no mark (the default of a new connection); 0
/// refuses every queued byte. A message longer than the mark can never be
/// queued: set it above the largest message plus its prefix. The rest of a
/// frame that `sl_conn_write_frame` began to send directly is always queued,
/// so that the peer never sees half a frame: the pending bytes may pass the
/// mark by that much. Lowering the mark below what is pending drops nothing;
/// queue calls fail until the queue drains below it.
///
/// Returns 0. Errors (`-1`, errno): `EINVAL` for `c` NULL. Never waits.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_set_high_water(c: *mut sl_conn, max_pending: usize) -> c_int {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        unsafe { conn_mut(c) }?.set_high_water(max_pending);
        Ok(0)
    })
}

/// Returns the connection's fd (for registering it with a selector), or -1
/// with `EINVAL` when `c` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_fd(c: *const sl_conn) -> c_int {
    // SAFETY: `c` is NULL or a live `sl_conn` (the C contract).
    ffi_guard!({ Ok(unsafe { conn_ref(c) }?.fd()) })
}

/// Returns the number of received bytes buffered and not yet taken by a read
/// (0 when `c` is NULL, with `EINVAL`). After `EPIPE` it tells how much of an
/// unfinished message arrived: 0 means the stream ended between messages.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_buffered(c: *const sl_conn) -> usize {
    // SAFETY: `c` is NULL or a live `sl_conn` (the C contract).
    ffi_guard!({ Ok(unsafe { conn_ref(c) }?.buffered().len()) })
}

/// Returns the number of queued output bytes not yet written (0 when `c` is
/// NULL, with `EINVAL`). Ask the selector for writability only while it is
/// non-zero.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_pending(c: *const sl_conn) -> usize {
    // SAFETY: `c` is NULL or a live `sl_conn` (the C contract).
    ffi_guard!({ Ok(unsafe { conn_ref(c) }?.pending()) })
}

/// Reads exactly `len` bytes into `buf`: first from the buffer, then from the
/// fd. Bytes that arrive past them stay buffered for the next read.
///
/// All or nothing: on any error nothing is taken, and bytes that arrived stay
/// buffered, so calling again (after `ETIMEDOUT`, say) resumes with nothing
/// lost or repeated.
///
/// Timeout: `-1` forever, `0` one attempt (use what is buffered plus one
/// non-blocking read), `> 0` the budget for the whole call.
///
/// Returns `len`. Errors (`-1`, errno):
/// - `EMSGSIZE`: `len > max_message`; nothing read.
/// - `EPIPE`: end of stream first (`sl_conn_buffered` holds what came).
/// - `ETIMEDOUT`, `EAGAIN` (`timeout_ms == 0`), `ECONNRESET`, `EBADF`.
/// - `EINTR`: the thread's interrupt check ended the call after a signal
///   (`sl_set_interrupt_check`); as after `ETIMEDOUT`, what arrived stays
///   buffered and the next call resumes.
/// - `EINVAL`: `c` NULL, `buf` NULL with `len > 0`, `len > SSIZE_MAX`,
///   `timeout_ms < -1`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_read_exact(
    c: *mut sl_conn,
    buf: *mut c_void,
    len: usize,
    timeout_ms: c_int,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `buf` is NULL or writable for `len` bytes (the C contract).
        let buf = unsafe { output(buf.cast::<u8>(), len) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        conn.read_exact(buf, deadline)?;
        Ok(len as libc::ssize_t)
    })
}

/// Reads one length-prefixed frame (the connection's prefix, 4-byte
/// big-endian unless `sl_conn_set_prefix` chose another, then the payload)
/// and copies its payload to `buf`. Bytes past the frame stay buffered.
///
/// All or nothing, as `sl_conn_read_exact`: after `ETIMEDOUT` or `EAGAIN` the
/// partial frame stays buffered and the next call resumes it.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for the whole call.
///
/// Returns the payload length (0 for an empty frame). Errors (`-1`, errno):
/// - `EMSGSIZE`, two cases:
///   - the frame declares more than `max_message`: its header is taken and its
///     payload is skipped (discarded as it arrives, never stored, by this and
///     later reads); the next read returns the frame after it. Nothing is
///     allocated for the declared size. Close the connection if you do not
///     trust the peer.
///   - it fits `max_message` but not `capacity`: the frame stays buffered;
///     call again with a larger buffer, or take it in place with
///     `sl_conn_next_frame`.
/// - `EPIPE`: end of stream first; `sl_conn_buffered` holds the partial frame
///   (0: the stream ended between frames).
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR`, `ECONNRESET`, `EBADF`: as `sl_conn_read_exact`.
/// - `EINVAL`: `c` NULL, `buf` NULL with `capacity > 0`, `capacity > SSIZE_MAX`,
///   `timeout_ms < -1`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_read_frame(
    c: *mut sl_conn,
    buf: *mut c_void,
    capacity: usize,
    timeout_ms: c_int,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `buf` is NULL or writable for `capacity` bytes (the C contract).
        let buf = unsafe { output(buf.cast::<u8>(), capacity) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        Ok(conn.read_frame(buf, deadline)? as libc::ssize_t)
    })
}

/// Reads one record ending with the delimiter `delim` (any 1..N bytes: "\n",
/// "\r\n", "\0", "END") and copies it to `buf` without the delimiter, which is
/// consumed. Bytes past it stay buffered. The search resumes where the last
/// call stopped, so a record trickling in byte by byte costs linear time.
///
/// All or nothing, as `sl_conn_read_exact`: after `ETIMEDOUT` or `EAGAIN` the
/// partial record stays buffered and the next call resumes it.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for the whole call.
///
/// Returns the record length (0 for an empty record). Errors (`-1`, errno):
/// - `EMSGSIZE`, two cases:
///   - no delimiter within `max_message` bytes: the record is skipped through
///     its delimiter (discarded as it arrives, by this and later reads with
///     any delimiter); the next read returns the record after it.
///   - the record fits `max_message` but is (or will be) longer than
///     `capacity`: it stays buffered; call again with a larger buffer.
/// - `EPIPE`: end of stream first; `sl_conn_buffered` holds the unterminated
///   rest (0: the stream ended after a delimiter).
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR`, `ECONNRESET`, `EBADF`: as `sl_conn_read_exact`.
/// - `EINVAL`: `c` NULL, `delim` NULL or `delim_len == 0`, `buf` NULL with
///   `capacity > 0`, `delim_len` or `capacity` over `SSIZE_MAX`,
///   `timeout_ms < -1`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_read_until(
    c: *mut sl_conn,
    delim: *const c_void,
    delim_len: usize,
    buf: *mut c_void,
    capacity: usize,
    timeout_ms: c_int,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `delim` is NULL or readable for `delim_len` bytes (the C contract).
        let delim = unsafe { input(delim.cast::<u8>(), delim_len) }?;
        check(!delim.is_empty())?;
        // SAFETY: `buf` is NULL or writable for `capacity` bytes (the C contract).
        let buf = unsafe { output(buf.cast::<u8>(), capacity) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        Ok(conn.read_until(delim, buf, deadline)? as libc::ssize_t)
    })
}

/// Writes one frame (the connection's length prefix, 4-byte big-endian by
/// default, then `len` bytes of `payload`).
/// Output already queued goes first, in order. With nothing queued the frame
/// is sent directly, as `sl_send_frame`, without copying large payloads.
///
/// Timeout: `-1` forever, `0` one attempt, `> 0` the budget for the whole call.
///
/// Returns `len`. Errors (`-1`, errno):
/// - `EMSGSIZE`: `len <= SSIZE_MAX` does not fit the prefix (over
///   `UINT32_MAX` for the default 4 bytes, 255 or 65535 for 1 or 2); nothing
///   sent or queued.
/// - `ENOBUFS`: output was pending and the frame would take it over the
///   high-water mark (`sl_conn_set_high_water`); nothing sent or queued.
/// - `ETIMEDOUT`, `EAGAIN`, `EINTR` (the interrupt check), `EPIPE`,
///   `ECONNRESET`, `EBADF`: the unsent part of
///   the frame (and of earlier queued output) stays queued, so the peer never
///   sees half a frame followed by something else: finish it with
///   `sl_conn_flush` or the next write; do not write the frame again.
///   `sl_conn_pending` tells how much is left.
/// - `EINVAL`: `c` NULL, `payload` NULL with `len > 0`, `len > SSIZE_MAX`,
///   `timeout_ms < -1`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_write_frame(
    c: *mut sl_conn,
    payload: *const c_void,
    len: usize,
    timeout_ms: c_int,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `payload` is NULL or readable for `len` bytes (the C contract).
        let payload = unsafe { input(payload.cast::<u8>(), len) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        conn.write_frame(payload, deadline)?;
        Ok(len as libc::ssize_t)
    })
}

/// Event-loop step: one non-blocking read of whatever the fd has into the
/// buffer (never blocks, even on a blocking socket; on a blocking pipe it
/// reads only after readiness). Then take the messages with
/// `sl_conn_next_frame` / `sl_conn_next_record` until they return 0.
///
/// Moves buffered bytes: pointers from `sl_conn_next_frame` and
/// `sl_conn_next_record` are invalid after it.
///
/// Returns the bytes read (> 0), or 0 at end of stream (`sl_conn_buffered`
/// holds any unfinished message). Errors (`-1`, errno):
/// - `EAGAIN`: nothing to read now; wait for readability.
/// - `ENOBUFS`: the buffer is full (`max_message` plus the prefix width or the longest
///   delimiter used, whichever is more) of complete
///   messages not yet taken: take them first.
/// - `ECONNRESET`, `EBADF`, any other error of recv(2)/read(2).
/// - `EBUSY`: `c` is registered with an io_uring `sl_ring` that is receiving
///   into its buffer (which `sl_ring_add` forbids: the ring reads for it).
/// - `EINVAL`: `c` NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_fill(c: *mut sl_conn) -> libc::ssize_t {
    // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
    ffi_guard!({ Ok(unsafe { conn_mut(c) }?.fill()? as libc::ssize_t) })
}

/// Event-loop step: takes the next complete frame already buffered, in place,
/// without copying: `*payload` and `*len` are its payload. They stay valid
/// until the next `sl_conn_fill`, blocking read, or `sl_conn_free`. Makes no
/// system call.
///
/// Returns 1 (one frame taken), 0 (no complete frame buffered; `*payload` set
/// to NULL and `*len` to 0), or -1 with errno:
/// - `EMSGSIZE`: the next frame declares more than `max_message`; its header is
///   taken and its payload is skipped as it arrives (never stored). Keep
///   calling: the frame after it comes next. Or close the connection.
/// - `EINVAL`: `c`, `payload` or `len` NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_next_frame(c: *mut sl_conn, payload: *mut *const c_void, len: *mut usize) -> c_int {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        check(!payload.is_null() && !len.is_null())?;
        // SAFETY: `payload` and `len` are non-NULL (checked) and writable (the C contract).
        Ok(unsafe { hand_out(conn.take_frame()?, payload, len) })
    })
}

/// One frame taken in place by `sl_conn_next_frames`: its payload and length.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sl_frame {
    /// The payload, inside the connection's read buffer.
    pub payload: *const c_void,
    /// The payload length in bytes (0 for an empty frame).
    pub len: usize,
}

/// Event-loop step, batched: takes up to `capacity` complete frames already
/// buffered, in place and in order, into `out[0..n]`, in one call instead of
/// one `sl_conn_next_frame` call per frame. Each `out[i].payload` and
/// `out[i].len` stay valid until the next `sl_conn_fill`, blocking read, or
/// `sl_conn_free`. The payloads lie in one buffer in stream order, each after
/// its length prefix. Makes no system call.
///
/// Returns the number of frames taken, `n` (0: no complete frame buffered,
/// `out` untouched), or -1 with errno:
/// - `EMSGSIZE`: the next frame declares more than `max_message`, as
///   `sl_conn_next_frame`: its payload is skipped as it arrives; keep calling.
///   Such a frame ends a batch: frames before it are returned first and the
///   error comes with the next call, so none is lost.
/// - `EINVAL`: `c` NULL, `out` NULL with `capacity > 0`, or `capacity` too
///   large for an array.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_next_frames(c: *mut sl_conn, out: *mut sl_frame, capacity: usize) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        check(capacity <= isize::MAX as usize / std::mem::size_of::<sl_frame>() && (capacity == 0 || !out.is_null()))?;
        let mut slot = out;
        let taken = conn.take_frames(capacity, |payload| {
            // SAFETY: `out` holds `capacity` entries and take_frames hands out
            // at most that many.
            unsafe {
                slot.write(sl_frame { payload: payload.as_ptr().cast(), len: payload.len() });
                slot = slot.add(1);
            }
        })?;
        Ok(taken as libc::ssize_t)
    })
}

/// Event-loop step: takes the next complete record already buffered that ends
/// with `delim` (1..N bytes), in place and without the delimiter; `*record`
/// and `*len` stay valid until the next `sl_conn_fill`, blocking read, or
/// `sl_conn_free`. The search resumes where the last call stopped.
///
/// Returns 1 (one record taken), 0 (none complete; `*record` NULL, `*len` 0),
/// or -1 with errno:
/// - `EMSGSIZE`: no delimiter within `max_message` bytes: the record is skipped
///   through its delimiter as it arrives; keep calling for the next one.
/// - `EINVAL`: `c`, `record` or `len` NULL, `delim` NULL, `delim_len == 0` or
///   `delim_len > SSIZE_MAX`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_next_record(
    c: *mut sl_conn,
    delim: *const c_void,
    delim_len: usize,
    record: *mut *const c_void,
    len: *mut usize,
) -> c_int {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `delim` is NULL or readable for `delim_len` bytes (the C contract).
        let delim = unsafe { input(delim.cast::<u8>(), delim_len) }?;
        check(!delim.is_empty() && !record.is_null() && !len.is_null())?;
        // SAFETY: `record` and `len` are non-NULL (checked) and writable (the C contract).
        Ok(unsafe { hand_out(conn.take_record(delim)?, record, len) })
    })
}

/// Event-loop step: copies one frame (header and payload) to the end of the
/// output queue. No system call: many small frames go out together in one
/// write at the next `sl_conn_flush`.
///
/// Returns the bytes now pending (what `sl_conn_pending` would say), so a
/// caller can flush once enough is queued without another call. Errors (`-1`,
/// errno): `EMSGSIZE` for a `len <= SSIZE_MAX` the prefix cannot declare
/// (over `UINT32_MAX` for the default; nothing queued); `ENOBUFS` when the
/// frame would take the pending bytes over the high-water mark
/// (`sl_conn_set_high_water`; nothing queued);
/// `EINVAL` for `c` NULL, `payload` NULL with `len > 0`, or `len > SSIZE_MAX`;
/// `ENOMEM`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_queue_frame(c: *mut sl_conn, payload: *const c_void, len: usize) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `payload` is NULL or readable for `len` bytes (the C contract).
        let payload = unsafe { input(payload.cast::<u8>(), len) }?;
        Ok(conn.queue_frame(payload)? as libc::ssize_t)
    })
}

/// Event-loop step, batched: queues `count` frames in one call. Their payloads
/// lie back to back in `payloads`, `lens[i]` bytes each (so `payloads` holds
/// the sum of `lens`); each is copied behind its header to the end of the
/// output queue. No system call. For callers whose every call is costly (an
/// FFI from another language) or who build many small messages at once.
///
/// All or nothing: on an error nothing is queued.
///
/// Returns the bytes now pending. Errors (`-1`, errno):
/// - `EMSGSIZE`: some `lens[i]` is over 4 GiB - 1 or over what the
///   connection's prefix can declare (255, 65535 for 1, 2 bytes).
/// - `ENOBUFS`: the batch would take the pending bytes over the high-water
///   mark (`sl_conn_set_high_water`).
/// - `EINVAL`: `c` NULL, `lens` NULL with `count > 0`, `payloads` NULL with a
///   non-zero total, a total over `SSIZE_MAX`.
/// - `ENOMEM`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_queue_frames(
    c: *mut sl_conn,
    payloads: *const c_void,
    lens: *const usize,
    count: usize,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `lens` is NULL or readable for `count` elements (the C contract).
        let lens = unsafe { input(lens, count) }?;
        let total =
            usize::try_from(batch_payload_len(lens, crate::frame::MAX_PAYLOAD)?).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: `payloads` is NULL or readable for `total` bytes (the C contract).
        let payloads = unsafe { input(payloads.cast::<u8>(), total) }?;
        Ok(conn.queue_frames(payloads, lens)? as libc::ssize_t)
    })
}

/// Event-loop step, batched and in place: queues `count` frames of `lens[i]`
/// payload bytes each, writes their headers, and stores in `payloads[i]`
/// where to write each payload, so you build messages straight into the
/// output queue instead of having them copied (the mirror of
/// `sl_conn_next_frames`). The payloads start zeroed. Write them before the
/// next call on `c` (any call: the queue may move); until then the addresses
/// stay valid. No system call.
///
/// All or nothing: on an error nothing is queued and `payloads` is untouched.
///
/// Returns the bytes now pending (they include these frames). Errors (`-1`,
/// errno):
/// - `EMSGSIZE`: some `lens[i]` is over 4 GiB - 1 or over what the
///   connection's prefix can declare.
/// - `ENOBUFS`: the batch would take the pending bytes over the high-water
///   mark (`sl_conn_set_high_water`).
/// - `EINVAL`: `c` NULL, `lens` or `payloads` NULL with `count > 0`, or
///   `count` too large for an array.
/// - `ENOMEM`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_reserve_frames(
    c: *mut sl_conn,
    lens: *const usize,
    count: usize,
    payloads: *mut *mut c_void,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `lens` is NULL or readable for `count` elements (the C contract).
        let lens = unsafe { input(lens, count) }?;
        // `input` bounded `count` for an array of the same element size.
        check(count == 0 || !payloads.is_null())?;
        let mut slot = payloads;
        let pending = conn.reserve_frames(lens, |payload| {
            // SAFETY: `payloads` holds `count` entries, one per length.
            unsafe {
                slot.write(payload.as_mut_ptr().cast());
                slot = slot.add(1);
            }
        })?;
        Ok(pending as libc::ssize_t)
    })
}

/// Event-loop step: copies `len` raw bytes (a record with its delimiter, say)
/// to the end of the output queue. No system call.
///
/// Returns the bytes now pending. Errors (`-1`, errno): `EINVAL` for `c` NULL,
/// `bytes` NULL with `len > 0`, or `len > SSIZE_MAX`; `ENOBUFS` when the bytes
/// would take the pending bytes over the high-water mark
/// (`sl_conn_set_high_water`; nothing queued); `ENOMEM`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_queue(c: *mut sl_conn, bytes: *const c_void, len: usize) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
        let conn = unsafe { conn_mut(c) }?;
        // SAFETY: `bytes` is NULL or readable for `len` bytes (the C contract).
        let bytes = unsafe { input(bytes.cast::<u8>(), len) }?;
        Ok(conn.queue(bytes)? as libc::ssize_t)
    })
}

/// Event-loop step: writes as much queued output as the fd takes now, without
/// blocking, and keeps the rest queued in order.
///
/// Returns the bytes still pending: 0 means everything went out (stop asking
/// the selector for writability); > 0 means the fd is full (ask for
/// writability and call again when it is ready). Errors (`-1`, errno):
/// `EPIPE` or `ECONNRESET` (peer gone; the output stays queued), `EBADF`, any
/// other error of send(2)/write(2); `EINVAL` for `c` NULL. Never `EAGAIN`.
#[no_mangle]
pub unsafe extern "C" fn sl_conn_flush(c: *mut sl_conn) -> libc::ssize_t {
    // SAFETY: `c` is NULL or a live `sl_conn` that no other thread uses during the call (the C contract).
    ffi_guard!({ Ok(unsafe { conn_mut(c) }?.flush()? as libc::ssize_t) })
}

/// The batch shims' pointer handling, with no system call, for `make miri`.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::tests::{conn_holding, framed};

    #[test]
    fn next_frames_and_queue_frames_through_the_c_abi() {
        let c = Box::into_raw(Box::new(sl_conn { conn: conn_holding(&framed(&[b"one", b"", b"three"]), 16) }));
        let mut out =
            [sl_frame { payload: std::ptr::null(), len: 99 }, sl_frame { payload: std::ptr::null(), len: 99 }];
        let taken = |out: &[sl_frame], n: usize| -> Vec<Vec<u8>> {
            // SAFETY: the first n entries point into the connection's buffer.
            out[..n]
                .iter()
                .map(|f| unsafe { std::slice::from_raw_parts(f.payload.cast::<u8>(), f.len) }.to_vec())
                .collect()
        };
        // SAFETY: c is a live handle and out has room for the counts asked.
        unsafe {
            assert_eq!(sl_conn_next_frames(c, out.as_mut_ptr(), 2), 2);
            assert_eq!(taken(&out, 2), [b"one".to_vec(), vec![]]);
            assert_eq!(sl_conn_next_frames(c, out.as_mut_ptr(), 2), 1);
            assert_eq!(taken(&out, 1), [b"three".to_vec()]);
            assert_eq!(sl_conn_next_frames(c, out.as_mut_ptr(), 2), 0);
            assert_eq!(sl_conn_next_frames(c, std::ptr::null_mut(), 0), 0);
            let lens = [2usize, 3];
            assert_eq!(sl_conn_queue_frames(c, b"abcde".as_ptr().cast(), lens.as_ptr(), 2), 13);
            assert_eq!((*c).conn.pending(), 13);
            let mut slots = [std::ptr::null_mut(); 2];
            assert_eq!(sl_conn_reserve_frames(c, lens.as_ptr(), 2, slots.as_mut_ptr()), 26);
            std::ptr::copy_nonoverlapping(b"fg".as_ptr(), slots[0].cast::<u8>(), 2);
            std::ptr::copy_nonoverlapping(b"hij".as_ptr(), slots[1].cast::<u8>(), 3);
            assert_eq!((*c).conn.pending(), 26);
            sl_conn_free(c);
        }
    }
}

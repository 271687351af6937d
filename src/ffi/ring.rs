//! `extern "C"` shims for [`crate::ring`]: `sl_ring`, one call per loop turn
//! for many buffered connections.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

use super::conn::{conn_ptr, sl_conn};
use super::{check, ffi_guard, Errno};
use crate::ring::{self, Kind, Ring};

/// Ring event bit: new bytes are in the connection's read buffer (take them
/// with `sl_conn_next_frame(s)` / `sl_conn_next_record`).
pub const SL_RING_DATA: c_int = 1;
/// Ring event bit: the peer closed its side; the ring reads no more from this
/// connection (bytes before the end are in its buffer).
pub const SL_RING_CLOSED: c_int = 2;
/// Ring event bit: a receive or send failed; `error` holds its errno
/// (`ECONNRESET`, `EPIPE`, ...). Unsent output stays pending.
pub const SL_RING_ERROR: c_int = 4;
/// `sl_ring_new` flag: run on epoll even where io_uring works.
pub const SL_RING_FORCE_EPOLL: c_int = 1;

/// A batch backend for many `sl_conn`s: `sl_ring_wait` writes every
/// connection's queued output, receives into their read buffers and reports
/// what happened, in one call per loop turn (one `io_uring_enter` on
/// io_uring; a flush per connection with output, one `epoll_wait` and a
/// read per readable connection on the epoll fallback). Opaque: create with
/// `sl_ring_new`, release with `sl_ring_free`. One thread at a time.
pub struct sl_ring {
    ring: Ring,
}

/// One connection's news, filled in by `sl_ring_wait`.
#[repr(C)]
pub struct sl_ring_event {
    /// The connection, as given to `sl_ring_add`.
    pub conn: *mut sl_conn,
    /// The `data` pointer given to `sl_ring_add`.
    pub data: *mut c_void,
    /// `SL_RING_DATA`, `SL_RING_CLOSED`, `SL_RING_ERROR`, or several.
    pub events: c_int,
    /// With `SL_RING_ERROR`: the errno of the failure; else 0.
    pub error: c_int,
}

/// # Safety
/// A non-NULL `r` must come from `sl_ring_new` and not be freed.
unsafe fn ring_mut<'a>(r: *mut sl_ring) -> Result<&'a mut Ring, Errno> {
    check(!r.is_null())?;
    // SAFETY: a non-NULL `r` is a live sl_ring (the caller's promise).
    Ok(unsafe { &mut (*r).ring })
}

/// Creates a ring: on io_uring where the kernel allows it, else (`ENOSYS`, `EPERM`
/// under seccomp, the `io_uring_disabled` sysctl, a kernel older than 5.19,
/// which has no buffer rings) on epoll with the same behaviour. `flags`: 0, or
/// `SL_RING_FORCE_EPOLL`; the environment variable `SOCKLOOP_RING=epoll`,
/// read once per process, forces epoll for every ring. `sl_ring_backend`
/// says which one runs. An io_uring ring holds 4 MiB of receive buffers.
///
/// Returns the ring, or NULL with errno: `EINVAL` (unknown flag bits),
/// `EMFILE`/`ENFILE`, `ENOMEM`.
#[no_mangle]
pub extern "C" fn sl_ring_new(flags: c_int) -> *mut sl_ring {
    ffi_guard!({
        check(flags & !SL_RING_FORCE_EPOLL == 0)?;
        let ring = Ring::new(flags as u32)?;
        Ok(Box::into_raw(Box::new(sl_ring { ring })))
    })
}

/// Frees a ring. Registered connections are not freed and keep their
/// buffers: bytes the ring had received for them are in their read buffers,
/// queued output not yet written stays pending. `sl_ring_free(NULL)` does
/// nothing.
#[no_mangle]
pub unsafe extern "C" fn sl_ring_free(r: *mut sl_ring) {
    ffi_guard!({
        if !r.is_null() {
            // SAFETY: a non-NULL `r` comes from its `_new` and is freed once (the C contract).
            drop(unsafe { Box::from_raw(r) });
        }
        Ok(())
    })
}

/// Returns the backend the ring runs on, `"io_uring"` or `"epoll"` (a static
/// string), or NULL with `EINVAL` when `r` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_ring_backend(r: *mut sl_ring) -> *const c_char {
    ffi_guard!({
        // SAFETY: `r` is NULL or a live `sl_ring` that no other thread uses during the call (the C contract).
        let kind = unsafe { ring_mut(r) }?.kind();
        Ok(match kind {
            Kind::IoUring => c"io_uring".as_ptr(),
            Kind::Epoll => c"epoll".as_ptr(),
        })
    })
}

/// Registers a connection with `data` for its events. From now until
/// `sl_ring_remove` (or `sl_ring_free`) the ring reads and writes its fd:
/// take messages and queue output with the event-loop steps
/// (`sl_conn_next_frame(s)`, `sl_conn_next_record`, `sl_conn_queue*`,
/// `sl_conn_reserve_frames`), but do not call `sl_conn_fill`,
/// `sl_conn_flush`, the blocking reads or writes, or `sl_conn_free` on it.
/// (On io_uring the ring may receive straight into the connection's read
/// buffer between waits: a fill or blocking read then fails with `EBUSY`
/// rather than move the buffer.) Its fd's flags are not changed (blocking
/// fds work: the ring never blocks in them).
///
/// Returns 0, or -1 with errno: `EINVAL` (NULL `r` or `c`), `EEXIST`
/// (registered already, with this ring or another), `ENOMEM`, or an epoll
/// error for the fd (`EBADF`, `EPERM` for a regular file) on the epoll
/// backend.
#[no_mangle]
pub unsafe extern "C" fn sl_ring_add(r: *mut sl_ring, c: *mut sl_conn, data: *mut c_void) -> c_int {
    ffi_guard!({
        // SAFETY: `r` is NULL or a live `sl_ring` that no other thread uses during the call (the C contract).
        let ring = unsafe { ring_mut(r) }?;
        // SAFETY: `c` is NULL or a live `sl_conn` (the C contract).
        let conn = unsafe { conn_ptr(c) }?;
        // SAFETY: the C contract: `c` stays alive and is used only through the ring until removed.
        unsafe { ring.add_with_handle(conn, c as usize, data as usize) }?;
        Ok(0)
    })
}

/// Unregisters a connection; afterwards the ring keeps nothing of it, and
/// bytes it had received for it are in its read buffer. Waits only for the
/// kernel to cancel its receive (microseconds).
///
/// Returns 0, or -1 with errno: `EINVAL` (NULL `r` or `c`), `ENOENT` (not
/// registered), `ENOBUFS` (still registered: bytes received for it do not fit
/// its full read buffer, which happens only if it was filled behind the
/// ring's back; take messages, then remove again).
#[no_mangle]
pub unsafe extern "C" fn sl_ring_remove(r: *mut sl_ring, c: *mut sl_conn) -> c_int {
    ffi_guard!({
        // SAFETY: `r` is NULL or a live `sl_ring` that no other thread uses during the call (the C contract).
        let ring = unsafe { ring_mut(r) }?;
        check(!c.is_null())?;
        // SAFETY: `c` is NULL or a live `sl_conn` (the C contract).
        let conn = unsafe { conn_ptr(c) }?;
        ring.remove(conn)?;
        Ok(0)
    })
}

/// One loop turn: writes every registered connection's queued output (what
/// its socket takes; the rest stays pending and goes out on a later turn),
/// receives into the read buffers of those with data (never past a buffer's
/// bound: a full buffer is not read until messages are taken), and fills
/// `out[0..n]` with up to `capacity` events, one per connection with news,
/// each with its connection and `data`. Connections left out when more have
/// news than `capacity` come first next time.
///
/// `SL_RING_CLOSED` and `SL_RING_ERROR` are reported once; the connection
/// stays registered until `sl_ring_remove`. After `SL_RING_ERROR` from a
/// send, the ring sends no more to it and its unsent bytes stay pending
/// (`sl_conn_pending`).
///
/// Timeout: `-1` waits forever for an event, `0` makes one turn without
/// waiting, `> 0` is the budget for the whole call. Signals are retried
/// with the time left unless the thread's interrupt check ends the call
/// (`sl_set_interrupt_check`).
///
/// Returns `n` (`1..=capacity`), or `0` when the timeout ran out with no
/// event (output was still written). Errors (`-1`, errno; bytes already
/// received are in their buffers, events gathered come with the next call):
/// - `EINVAL`: `r` or `out` is NULL, `capacity` is 0, or `timeout_ms < -1`.
/// - `EINTR`: the interrupt check asked to stop.
/// - `ENOMEM`, or an error of `io_uring_enter`/`epoll_wait`.
#[no_mangle]
pub unsafe extern "C" fn sl_ring_wait(
    r: *mut sl_ring,
    out: *mut sl_ring_event,
    capacity: usize,
    timeout_ms: c_int,
) -> c_int {
    ffi_guard!({
        // SAFETY: `r` is NULL or a live `sl_ring` that no other thread uses during the call (the C contract).
        let ring = unsafe { ring_mut(r) }?;
        check(!out.is_null() && capacity > 0)?;
        let max = capacity.min(c_int::MAX as usize);
        let mut i = 0;
        let n = ring.wait(max, timeout_ms, |event: ring::Event| {
            // SAFETY: i < max <= capacity, and out has room for capacity events.
            unsafe {
                out.add(i).write(sl_ring_event {
                    conn: event.handle as *mut sl_conn,
                    data: event.data as *mut c_void,
                    events: event.events as c_int,
                    error: event.error,
                })
            };
            i += 1;
        })?;
        Ok(n as c_int)
    })
}

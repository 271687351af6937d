//! `extern "C"` shims for [`crate::selector`]: `sl_selector`, Python's
//! `selectors` module for C.

#![allow(non_camel_case_types)]

use std::os::raw::{c_int, c_void};

use super::{check, ffi_guard, Errno};
use crate::selector::{Events, Selector};

/// Event bit: the fd is readable (data, end of stream, a connection to accept).
pub const SL_READ: c_int = 1;
/// Event bit: the fd is writable (a send would not block).
pub const SL_WRITE: c_int = 2;

/// A set of registered fds to wait on, like a Python `selectors.DefaultSelector`:
/// epoll on Linux (a select costs the same with 10 or 10,000 fds registered),
/// poll(2) elsewhere. Opaque: create with `sl_selector_new`, release with
/// `sl_selector_free`.
///
/// Not thread-safe: one selector must not be used by two threads at once
/// (a select in one thread and a register in another included). Different
/// selectors are independent.
pub struct sl_selector(Selector);

/// One ready fd, filled in by `sl_selector_select`.
#[repr(C)]
pub struct sl_event {
    /// The registered fd.
    pub fd: c_int,
    /// What it is ready for: `SL_READ`, `SL_WRITE` or both, never outside the
    /// registered events. An error or hang-up shows as every registered event,
    /// so that the next recv or send reports it.
    pub events: c_int,
    /// The `data` pointer given at register (or modify) time.
    pub data: *mut c_void,
}

fn events_from(bits: c_int) -> Result<Events, Errno> {
    Events::from_bits(bits).ok_or(Errno(libc::EINVAL))
}

/// The selector behind a caller's pointer: NULL is `EINVAL`.
///
/// # Safety
/// A non-NULL `sel` must come from `sl_selector_new` and not be freed.
unsafe fn selector<'a>(sel: *mut sl_selector) -> Result<&'a mut Selector, Errno> {
    check(!sel.is_null())?;
    Ok(&mut (*sel).0)
}

/// Creates an empty selector.
///
/// Returns the selector, or NULL with errno set: `EMFILE`/`ENFILE` (with epoll
/// it holds one fd, close-on-exec), `ENOMEM`. Release it with
/// `sl_selector_free`.
#[no_mangle]
pub extern "C" fn sl_selector_new() -> *mut sl_selector {
    ffi_guard!({ Ok(Box::into_raw(Box::new(sl_selector(Selector::new()?)))) })
}

/// Frees a selector and its epoll fd. The registered fds are *not* closed:
/// they belong to the caller. `sl_selector_free(NULL)` does nothing.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_free(sel: *mut sl_selector) {
    ffi_guard!({
        if !sel.is_null() {
            drop(Box::from_raw(sel));
        }
        Ok(())
    })
}

/// Starts watching `fd` for `events` (`SL_READ`, `SL_WRITE` or both); each
/// ready event for it carries `data` (any pointer, never dereferenced; may be
/// NULL). The fd's flags are never changed; use non-blocking fds so that one
/// slow peer cannot block the loop.
///
/// Returns 0. Errors (`-1`, errno; the selector is unchanged):
/// - `EINVAL`: `sel` is NULL, `fd < 0`, or `events` is 0 or has other bits.
/// - `EEXIST`: `fd` is already registered (use `sl_selector_modify`).
/// - `EBADF`: `fd` is not open.
/// - `EPERM`: (epoll) the fd cannot be watched: a regular file or directory.
/// - `ENOMEM`, `ENOSPC`: out of memory or over the epoll watch limit.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_register(sel: *mut sl_selector, fd: c_int, events: c_int, data: *mut c_void) -> c_int {
    ffi_guard!({
        let sel = selector(sel)?;
        check(fd >= 0)?;
        sel.register(fd, events_from(events)?, data as usize)?;
        Ok(0)
    })
}

/// Changes the events and data of a registered fd, as unregister plus
/// register but in one step (same events: only the data changes, without a
/// system call).
///
/// Returns 0. Errors (`-1`, errno; the registration is unchanged):
/// - `EINVAL`: `sel` is NULL, `fd < 0`, or `events` is 0 or has other bits.
/// - `ENOENT`: `fd` is not registered.
/// - `ENOMEM`: out of memory.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_modify(sel: *mut sl_selector, fd: c_int, events: c_int, data: *mut c_void) -> c_int {
    ffi_guard!({
        let sel = selector(sel)?;
        check(fd >= 0)?;
        sel.modify(fd, events_from(events)?, data as usize)?;
        Ok(0)
    })
}

/// Stops watching `fd`. Call it *before* closing the fd.
///
/// If an fd is closed while registered: its entry stays until this call,
/// which still succeeds (and must be made before the same number is
/// registered again, or that is `EEXIST`). Meanwhile, with poll, the closed
/// fd is reported ready for its events and the next recv/send fails with
/// `EBADF`. With epoll, the kernel drops the watch once the last descriptor
/// of the open file is closed; but if the file is still open elsewhere (a
/// `dup`, a forked child), its events keep being reported under the old
/// number, and after this call they can no longer be removed from the kernel
/// (that needs the fd): selects then wake for them without reporting them,
/// spinning until their timeout, for as long as that file stays open.
///
/// Returns 0. Errors (`-1`, errno):
/// - `EINVAL`: `sel` is NULL or `fd < 0`.
/// - `ENOENT`: `fd` is not registered.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_unregister(sel: *mut sl_selector, fd: c_int) -> c_int {
    ffi_guard!({
        let sel = selector(sel)?;
        check(fd >= 0)?;
        sel.unregister(fd)?;
        Ok(0)
    })
}

/// Looks up the registration of `fd`: stores its events in `*events` and its
/// data in `*data` (either pointer may be NULL to skip it). Like Python's
/// `selector.get_key(fd)`.
///
/// Returns 0. Errors (`-1`, errno; the out-params are untouched):
/// - `EINVAL`: `sel` is NULL or `fd < 0`.
/// - `ENOENT`: `fd` is not registered.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_get(
    sel: *const sl_selector,
    fd: c_int,
    events: *mut c_int,
    data: *mut *mut c_void,
) -> c_int {
    ffi_guard!({
        check(!sel.is_null() && fd >= 0)?;
        let reg = (*sel).0.get(fd).ok_or(Errno(libc::ENOENT))?;
        if !events.is_null() {
            *events = reg.events.bits();
        }
        if !data.is_null() {
            *data = reg.data as *mut c_void;
        }
        Ok(0)
    })
}

/// Waits until at least one registered fd is ready or the timeout passes, and
/// fills `out[0..n]` with up to `capacity` ready fds: each with its ready
/// events (masked with the registered ones; error and hang-up count as both
/// read and write) and its data. Level-triggered: an fd stays ready until the
/// caller reads, writes or unregisters it.
///
/// Fairness: when more fds are ready than `capacity`, the ones left out are
/// reported first by the next calls, so no fd starves.
///
/// Timeout: `-1` waits forever, `0` checks once, `> 0` is the budget for the
/// whole call (a deadline on the monotonic clock taken at entry, rounded up
/// to whole milliseconds). `EINTR` is retried with the time left. With
/// nothing registered the call just waits out its timeout (forever for `-1`).
///
/// Returns `n`, the number of events stored (`1..=capacity`), or `0` when the
/// timeout passed (also for `timeout_ms == 0`: never `EAGAIN`). Errors (`-1`,
/// errno; `out` may have been partly written):
/// - `EINVAL`: `sel` or `out` is NULL, `capacity` is 0, or `timeout_ms < -1`.
/// - `ENOMEM`: out of memory.
///
/// Capacities over `INT_MAX` are treated as `INT_MAX`.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_select(
    sel: *mut sl_selector,
    out: *mut sl_event,
    capacity: usize,
    timeout_ms: c_int,
) -> c_int {
    ffi_guard!({
        let sel = selector(sel)?;
        check(!out.is_null() && capacity > 0)?;
        let max = capacity.min(c_int::MAX as usize);
        let n = sel.select(max, timeout_ms, |i, ev| {
            let event = sl_event { fd: ev.fd, events: ev.events.bits(), data: ev.data as *mut c_void };
            // SAFETY: i < max <= capacity, and out has room for capacity events.
            out.add(i).write(event);
        })?;
        Ok(n as c_int)
    })
}

//! `extern "C"` shims for [`crate::selector`]: `sl_selector`, Python's
//! `selectors` module for C.

#![allow(non_camel_case_types)]

use std::os::raw::{c_int, c_void};

use super::{check, ffi_guard, set_errno, timeout, Errno};
use crate::selector::{Events, Selector, Waker};

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
/// (a select in one thread and a register in another included), except for
/// `sl_selector_wakeup`, which any thread or signal handler may call at any
/// time. Different selectors are independent.
pub struct sl_selector {
    /// The selector's waker, apart from it: `sl_selector_wakeup` reads only
    /// this field while another thread may hold the selector.
    waker: Waker,
    selector: Selector,
}

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

/// The selector behind a caller's pointer: NULL is `EINVAL`. Not
/// [`super::handle_mut`]: only the `selector` field is borrowed, since
/// `sl_selector_wakeup` may read `waker` from another thread meanwhile.
///
/// # Safety
/// A non-NULL `sel` must come from `sl_selector_new` and not be freed.
unsafe fn selector<'a>(sel: *mut sl_selector) -> Result<&'a mut Selector, Errno> {
    check(!sel.is_null())?;
    // SAFETY: as promised by the caller; a place projection, no reference to
    // the whole handle.
    Ok(unsafe { &mut (*sel).selector })
}

/// Creates an empty selector.
///
/// Returns the selector, or NULL with errno set: `EMFILE`/`ENFILE` (it holds
/// two fds, close-on-exec: an eventfd for `sl_selector_wakeup` and, with
/// epoll, the epoll set), `ENOMEM`. Release it with `sl_selector_free`.
#[no_mangle]
pub extern "C" fn sl_selector_new() -> *mut sl_selector {
    ffi_guard!({
        let selector = Selector::new()?;
        let waker = selector.waker().clone();
        Ok(Box::into_raw(Box::new(sl_selector { waker, selector })))
    })
}

/// Frees a selector and its epoll fd. The registered fds are *not* closed:
/// they belong to the caller. `sl_selector_free(NULL)` does nothing.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_free(sel: *mut sl_selector) {
    ffi_guard!({
        if !sel.is_null() {
            // SAFETY: a non-NULL `sel` comes from its `_new` and is freed once (the C contract).
            drop(unsafe { Box::from_raw(sel) });
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
pub unsafe extern "C" fn sl_selector_register(
    sel: *mut sl_selector,
    fd: c_int,
    events: c_int,
    data: *mut c_void,
) -> c_int {
    ffi_guard!({
        // SAFETY: `sel` is NULL or a live `sl_selector` (the C contract).
        let sel = unsafe { selector(sel) }?;
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
/// - `EBADF`: a change of events, and `fd` was closed since it was
///   registered (also when its number now names another file): unregister
///   it. (A change of data alone still succeeds.)
/// - `ENOMEM`: out of memory.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_modify(
    sel: *mut sl_selector,
    fd: c_int,
    events: c_int,
    data: *mut c_void,
) -> c_int {
    ffi_guard!({
        // SAFETY: `sel` is NULL or a live `sl_selector` (the C contract).
        let sel = unsafe { selector(sel) }?;
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
/// `EBADF`; with epoll, if its file is still open elsewhere (a `dup`, a
/// forked child), that file's readiness is reported under the fd.
///
/// After this call nothing of that fd is ever reported again, not even
/// when the same number is registered anew as another file: every
/// registration carries a generation number in the kernel, and an event of
/// an older one is dropped. With epoll, a watch whose fd was closed cannot
/// be removed by number; the first event it causes makes the next select
/// rebuild the kernel set from the registrations (one `epoll_ctl` each:
/// about 60 ms for 10,000 fds on a 2-core VM, once per stale watch that
/// fires), so it never makes selects spin.
///
/// Returns 0. Errors (`-1`, errno):
/// - `EINVAL`: `sel` is NULL or `fd < 0`.
/// - `ENOENT`: `fd` is not registered.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_unregister(sel: *mut sl_selector, fd: c_int) -> c_int {
    ffi_guard!({
        // SAFETY: `sel` is NULL or a live `sl_selector` (the C contract).
        let sel = unsafe { selector(sel) }?;
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
        // SAFETY: non-NULL, from sl_selector_new; the selector field only, as
        // in `selector`.
        let reg = unsafe { &(*sel).selector }.get(fd).ok_or(Errno(libc::ENOENT))?;
        if !events.is_null() {
            // SAFETY: non-NULL, so writable (the C contract).
            unsafe { *events = reg.events.bits() };
        }
        if !data.is_null() {
            // SAFETY: non-NULL, so writable (the C contract).
            unsafe { *data = reg.data as *mut c_void };
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
/// to whole milliseconds). A signal's `EINTR` is retried with the time left,
/// unless the thread's interrupt check ends the call (`sl_set_interrupt_check`).
/// With nothing registered the call just waits out its timeout (forever for
/// `-1`).
///
/// Returns `n`, the number of events stored (`1..=capacity`), or `0` when the
/// timeout passed (also for `timeout_ms == 0`: never `EAGAIN`); `0` only
/// then, even when stale kernel watches woke the wait. Errors (`-1`, errno;
/// `out` may have been partly written):
/// - `EINTR`: `sl_selector_wakeup` was called (before or during this call;
///   the wakeup is consumed), or the interrupt check asked to stop. Ready fds
///   stay ready for the next call: nothing is lost.
/// - `EINVAL`: `sel` or `out` is NULL, `capacity` is 0, or `timeout_ms < -1`.
/// - `ENOMEM`, `ENOSPC`, `EMFILE`: out of memory, or of fds or epoll watches
///   for a rebuild of the kernel set (see `sl_selector_unregister`).
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
        // SAFETY: `sel` is NULL or a live `sl_selector` (the C contract).
        let sel = unsafe { selector(sel) }?;
        check(!out.is_null() && capacity > 0)?;
        let max = capacity.min(c_int::MAX as usize);
        let n = sel.select(max, timeout(timeout_ms)?, |i, ev| {
            let event = sl_event { fd: ev.fd, events: ev.events.bits(), data: ev.data as *mut c_void };
            // SAFETY: i < max <= capacity, and out has room for capacity events.
            unsafe { out.add(i).write(event) };
        })?;
        Ok(n as c_int)
    })
}

/// Wakes the selector: its `sl_selector_select` running in another thread,
/// or its next one, returns `-1` with errno `EINTR`. Wakeups made before a
/// select sees them count as one; none is ever lost.
///
/// Async-signal-safe and callable from any thread at any time (one write(2)
/// to an eventfd; errno is left as it was), so it is the C counterpart of
/// Python's `signal.set_wakeup_fd` and asyncio's self-pipe:
///
/// ```c
/// static sl_selector *loop_sel;
/// static volatile sig_atomic_t stop;
/// static void on_term(int sig) { (void)sig; stop = 1; sl_selector_wakeup(loop_sel); }
/// ...
/// while (!stop) {
///     int n = sl_selector_select(loop_sel, ev, 64, -1);
///     if (n < 0 && errno == EINTR) continue;   // woken: look at `stop`
///     ...
/// }
/// ```
///
/// Which to use: `sl_set_interrupt_check` ends any blocking call, but it runs
/// only after an `EINTR`, so a signal that arrives after the loop looked at
/// its flag and before the thread blocks is seen only at the next signal or
/// timeout. A wakeup closes that window for a loop that sleeps in
/// `sl_selector_select`: the wakeup stays pending until a select consumes it.
/// A program whose loop is a selector needs only the wakeup; one that blocks
/// in other calls needs the check too.
///
/// The selector must not be freed while another thread or a handler may call
/// this.
///
/// Returns 0. Errors (`-1`, errno): `EINVAL`: `sel` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_selector_wakeup(sel: *mut sl_selector) -> c_int {
    ffi_guard!({
        check(!sel.is_null())?;
        let saved = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        // Only the waker field is read: another thread may be in a select
        // with the rest of the selector borrowed.
        // SAFETY: non-NULL, so a live sl_selector (the C contract).
        let waker = unsafe { &*std::ptr::addr_of!((*sel).waker) };
        waker.wake()?;
        // A signal handler must leave errno as it found it.
        set_errno(saved);
        Ok(0)
    })
}

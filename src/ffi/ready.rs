//! `extern "C"` shims for readiness waits and `sl_select` in [`crate::ready`].

use std::os::raw::c_int;

use super::{check, ffi_guard, input, timeout, DoneOut};
use crate::deadline::Deadline;
use crate::ready;

/// Waits until `fd` is readable: data or end of stream to read, a connection
/// to accept, or an error or hang-up (which count as ready, so that the next
/// recv/accept reports them). Any fd number works (built on poll(2), no
/// `FD_SETSIZE` limit). The fd's flags are never changed.
///
/// Timeout: `-1` waits forever, `0` checks once without waiting, `> 0` is the
/// budget for the whole call (a deadline on the monotonic clock taken at
/// entry, rounded up to whole milliseconds). `EINTR` is retried with the time
/// left, so a signal never ends the wait early, unless the thread's
/// interrupt check says to (`sl_set_interrupt_check`: then `-1`/`EINTR`).
///
/// A wait asks the kernel only: a pipe's write end is never readable, and
/// waiting for it ends only with an error condition (its reader closed) or
/// the timeout, as with poll(2).
///
/// Returns `1` ready, `0` timed out (also for `timeout_ms == 0`: never
/// `EAGAIN`). Errors (`-1`, errno):
/// - `EINTR`: the interrupt check ended the wait.
/// - `EINVAL`: `fd < 0` or `timeout_ms < -1`.
/// - `EBADF`: `fd` is not open.
/// - `ENOMEM`: from poll(2).
#[no_mangle]
pub extern "C" fn sl_wait_readable(fd: c_int, timeout_ms: c_int) -> c_int {
    ffi_guard!({
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        Ok(ready::wait_readable(fd, deadline)? as c_int)
    })
}

/// Waits until `fd` is writable: a send would not block, or an error or
/// hang-up is pending (which count as ready, so that the next send reports
/// them, as `EPIPE` or `ECONNRESET`). A non-blocking connect has finished
/// (succeeded or failed: read `SO_ERROR`) when the socket is writable.
///
/// Timeout, return value and errors: as `sl_wait_readable`.
#[no_mangle]
pub extern "C" fn sl_wait_writable(fd: c_int, timeout_ms: c_int) -> c_int {
    ffi_guard!({
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        Ok(ready::wait_writable(fd, deadline)? as c_int)
    })
}

/// Writes a ready subset to the caller's array and its count.
///
/// # Safety
/// `out` must be valid for as many ints as `fds` yields (the caller checked it
/// non-NULL whenever the input list was non-empty, and a subset is never
/// longer than its list).
unsafe fn write_out(out: *mut c_int, fds: impl Iterator<Item = c_int>, count: &mut DoneOut) {
    for (i, fd) in fds.enumerate() {
        // SAFETY: i is below the length of `fds`'s list (the caller's promise).
        unsafe { out.add(i).write(fd) };
        count.count = i + 1;
    }
}

/// The Python HOWTO's `select(potential_readers, potential_writers,
/// potential_errs, timeout)` for C, over arrays of fds: waits until at least
/// one fd is ready (or the timeout passes) and returns the ready subsets.
/// Built on poll(2): any fd number works (`FD_SET` on an fd >= 1024 writes
/// past the `fd_set`; this has no such limit), and one call costs one poll.
///
/// - `readers[nreaders]` are ready with data, end of stream, a connection to
///   accept, a hang-up or a pending error;
/// - `writers[nwriters]` when a send would not block, or on hang-up or error;
/// - `errs[nerrs]` on an exceptional condition (`POLLPRI`: out-of-band data),
///   hang-up or a pending error.
///
/// Outputs: `ready_readers` receives the ready readers, in input order, and
/// `*nready_readers` their number; likewise for writers and errs. Each output
/// array must have room for as many ints as its input list (it may be NULL
/// when that list is empty) and it may be the input array itself, for an
/// in-place update like `FD_SET`'s. Each count pointer may be NULL, and is set
/// on every return: 0 on timeout or error. An fd may be in several lists (or
/// twice in one): each entry is reported on its own. An input array may be
/// NULL when its count is 0; all three empty just waits out the timeout.
///
/// Timeout: as `sl_wait_readable` (`-1` forever, `0` check once, `> 0` the
/// budget for the whole call, rounded up to whole milliseconds; `EINTR` is
/// retried with the time left, unless the interrupt check ends the call with
/// `-1`/`EINTR`).
///
/// Returns the number of ready entries over all three lists, `0` on timeout
/// (also for `timeout_ms == 0`: never `EAGAIN`). Errors (`-1`, errno):
/// - `EINVAL`: a NULL array with a non-zero count, a negative fd in any list,
///   `timeout_ms < -1`, or more entries in all than `INT_MAX` or than the
///   open-file limit (`RLIMIT_NOFILE`, poll(2)'s own limit).
/// - `EBADF`: an fd in a list is not open (as select(2)); nothing is reported.
/// - `ENOMEM`: out of memory (poll(2), or the call's own array of
///   `nreaders + nwriters + nerrs` pollfds).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sl_select(
    readers: *const c_int,
    nreaders: usize,
    writers: *const c_int,
    nwriters: usize,
    errs: *const c_int,
    nerrs: usize,
    timeout_ms: c_int,
    ready_readers: *mut c_int,
    nready_readers: *mut usize,
    ready_writers: *mut c_int,
    nready_writers: *mut usize,
    ready_errs: *mut c_int,
    nready_errs: *mut usize,
) -> c_int {
    ffi_guard!({
        // SAFETY: each `nready_*` is NULL or a writable `size_t` (the C contract).
        let mut counts =
            unsafe { [DoneOut::new(nready_readers), DoneOut::new(nready_writers), DoneOut::new(nready_errs)] };
        let total = nreaders.checked_add(nwriters).and_then(|n| n.checked_add(nerrs));
        check(total.is_some_and(|n| n <= c_int::MAX as usize))?;
        check(nreaders == 0 || !ready_readers.is_null())?;
        check(nwriters == 0 || !ready_writers.is_null())?;
        check(nerrs == 0 || !ready_errs.is_null())?;
        // SAFETY: each input list is NULL or readable for its count of ints (the C contract).
        let (readers, writers, errs) =
            unsafe { (input(readers, nreaders)?, input(writers, nwriters)?, input(errs, nerrs)?) };
        let selected = ready::select(readers, writers, errs, timeout(timeout_ms)?)?;
        // The inputs were copied and are not read any more: an output array
        // may be its own input.
        let [r, w, e] = &mut counts;
        // SAFETY: each output array is non-NULL when its list is non-empty
        // (checked) and holds as many ints as its list (the C contract).
        unsafe {
            write_out(ready_readers, selected.readers(), r);
            write_out(ready_writers, selected.writers(), w);
            write_out(ready_errs, selected.errs(), e);
        }
        Ok((r.count + w.count + e.count) as c_int)
    })
}

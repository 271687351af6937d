//! `extern "C"` shim for [`crate::interrupt`]: `sl_set_interrupt_check`.

#![allow(non_camel_case_types)]

use std::os::raw::{c_int, c_void};

use super::ffi_guard;
use crate::interrupt::{self, Check};

/// The type of an interrupt check: returns nonzero to end the blocked call
/// with `EINTR`, `0` to let it go on. `ctx` is the pointer given to
/// `sl_set_interrupt_check`.
pub type sl_interrupt_check_fn = Option<unsafe extern "C" fn(ctx: *mut c_void) -> c_int>;

/// Installs `check` as the calling thread's interrupt check, so that a
/// signal can end a blocked call; `check == NULL` removes it. Per thread:
/// other threads, and other libraries' checks in their own threads, are not
/// affected.
///
/// A signal never loses data and never ends a call by itself: every blocking
/// call (transfer loops, frames, `sl_conn` blocking reads and writes, waits,
/// `sl_select`, `sl_selector_select`, connect, accept, Unix connect,
/// graceful close) retries `EINTR` with the time that is left. With a check
/// installed, after every `EINTR` the call first runs `check(ctx)` on its
/// own thread, in normal context (never inside the signal handler, so the
/// check may do anything a normal function may, including calling this
/// library; it must return, not `longjmp` out).
/// - `0`: the call goes on with the time left, as without a check.
/// - nonzero: the call returns `-1` with errno `EINTR`. Its progress is
///   reported exactly as after `ETIMEDOUT` (`*sent`, `*received`, bytes kept
///   in an `sl_conn`), so calling again resumes it with nothing lost.
///
/// The usual check reads a flag that a signal handler sets:
///
/// ```c
/// static volatile sig_atomic_t stop;
/// static void on_term(int sig) { (void)sig; stop = 1; }
/// static int should_stop(void *ctx) { (void)ctx; return stop; }
/// ...
/// sl_set_interrupt_check(should_stop, NULL);
/// ```
///
/// Handlers installed with or without `SA_RESTART` (as by `signal()`) both
/// work: while a check is installed, blocking calls never block inside a
/// system call that the kernel would restart (they wait in poll(2) or
/// epoll_wait(2), which a handled signal always interrupts). The signal must
/// be delivered to the blocked thread: block it in the others
/// (`pthread_sigmask`).
///
/// The check runs only after an `EINTR`: a signal that arrives after the
/// program looked at its flag but before the call blocks is seen at the
/// next signal or when the timeout ends the call. A loop that sleeps in
/// `sl_selector_select` closes that window with `sl_selector_wakeup`.
///
/// Returns 0 (it cannot fail).
#[no_mangle]
pub unsafe extern "C" fn sl_set_interrupt_check(check: sl_interrupt_check_fn, ctx: *mut c_void) -> c_int {
    ffi_guard!({
        // SAFETY: the C caller promises `check` may be called with `ctx` on
        // this thread while it is installed.
        unsafe { interrupt::set(check.map(|func| Check { func, ctx })) };
        Ok(0)
    })
}

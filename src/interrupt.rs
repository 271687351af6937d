//! The per-thread interrupt check: how a program ends a blocked call on a signal.
//!
//! A signal never loses data and never ends a call by itself: every blocking
//! call retries `EINTR` with the time that is left. A program that must react
//! to a signal (a `stop` flag set by a SIGTERM handler, Python's pending
//! handlers) installs a check for its thread. After every `EINTR` the library
//! calls it, in normal context; a nonzero answer ends the call with `EINTR`,
//! with its progress reported as after a timeout.
//!
//! While a check is installed, blocking calls never block *inside* a system
//! call that the kernel restarts after a handler installed with `SA_RESTART`
//! (`recv`, `send`, `accept`, `connect`, pipe reads and writes): they make
//! the call without blocking and wait in `poll`/`epoll_wait`, which a handled
//! signal always interrupts, whatever its flags. Without a check, calls keep
//! their cheapest form.
//!
//! ```
//! use std::os::raw::{c_int, c_void};
//! use sockloop::interrupt::{self, Check};
//!
//! unsafe extern "C" fn stop_always(_: *mut c_void) -> c_int { 1 }
//! // SAFETY: the check touches nothing, and is removed below.
//! unsafe { interrupt::set(Some(Check { func: stop_always, ctx: std::ptr::null_mut() })) };
//! assert!(interrupt::is_set());
//! // What a blocking call does after EINTR: here, end with EINTR.
//! assert_eq!(interrupt::after_eintr().unwrap_err().raw_os_error(), Some(libc::EINTR));
//! unsafe { interrupt::set(None) };
//! assert!(interrupt::after_eintr().is_ok());
//! ```
//!
//! The C exports that dereference pointers are `unsafe` to call from Rust:
//!
//! ```compile_fail,E0133
//! let mut two = [0u8; 2];
//! sockloop::ffi::byteorder::sl_put_u16be(two.as_mut_ptr().cast(), 7);
//! ```

use crate::sys::errno;
use std::cell::Cell;
use std::io;
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// A check as C gives it: `check(ctx)` returns nonzero to end the call.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// The function the library calls after `EINTR`.
    pub func: unsafe extern "C" fn(*mut c_void) -> c_int,
    /// Its argument, passed through untouched.
    pub ctx: *mut c_void,
}

thread_local! {
    static CHECK: Cell<Option<Check>> = const { Cell::new(None) };
}

/// Set once any thread installs a check: until then [`is_set`] costs one
/// relaxed load instead of a thread-local lookup.
static EVER_SET: AtomicBool = AtomicBool::new(false);

/// Installs `check` for the calling thread (`None` removes it) and returns
/// the one it replaces.
///
/// # Safety
/// While installed, `check.func(check.ctx)` must be safe to call on this
/// thread, from any blocking call of this crate.
pub unsafe fn set(check: Option<Check>) -> Option<Check> {
    if check.is_some() {
        EVER_SET.store(true, Ordering::Relaxed);
    }
    CHECK.with(|slot| slot.replace(check))
}

/// True when the calling thread has a check: blocking calls then avoid
/// system calls that `SA_RESTART` would restart (see the module docs).
#[inline]
pub fn is_set() -> bool {
    EVER_SET.load(Ordering::Relaxed) && CHECK.with(|slot| slot.get().is_some())
}

/// What a blocking call does after `EINTR`: `Ok(())` to retry (no check, or
/// the check answered 0), `Err(EINTR)` to end the call.
#[cold]
#[inline(never)]
pub fn after_eintr() -> io::Result<()> {
    let Some(check) = CHECK.with(Cell::get) else { return Ok(()) };
    // SAFETY: `set`'s caller promised the check is callable on this thread.
    if unsafe { (check.func)(check.ctx) } != 0 {
        return Err(errno(libc::EINTR));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn count_and_answer(ctx: *mut c_void) -> c_int {
        // SAFETY: ctx is the test's Cell, alive while the check is installed.
        let calls = unsafe { &*(ctx as *const Cell<c_int>) };
        calls.set(calls.get() + 1);
        (calls.get() >= 2) as c_int
    }

    #[test]
    fn the_check_decides_per_thread() {
        assert!(after_eintr().is_ok(), "no check: retry");
        let calls = Cell::new(0);
        let check = Check { func: count_and_answer, ctx: &calls as *const _ as *mut c_void };
        // SAFETY: `calls` outlives the installation, removed below.
        unsafe { set(Some(check)) };
        assert!(is_set());
        std::thread::spawn(|| assert!(!is_set() && after_eintr().is_ok())).join().unwrap();
        assert!(after_eintr().is_ok(), "first answer 0: retry");
        assert_eq!(after_eintr().unwrap_err().raw_os_error(), Some(libc::EINTR));
        assert_eq!(calls.get(), 2);
        // SAFETY: removing needs nothing.
        assert!(unsafe { set(None) }.is_some());
        assert!(!is_set());
    }
}

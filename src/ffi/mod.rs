//! The C ABI: thin `extern "C"` shims over the safe Rust modules.
//!
//! Every exported function's body is one `ffi_guard!` block, which
//! - catches a Rust panic so it never unwinds into C (`-1`/`EIO`, `NULL`, or `0`),
//! - turns an `Err(Errno)` into the function's failure value with `errno` set,
//! - lets the body use `?` on the argument checks below and on `io::Result`.
//!
//! `tests/ffi_boundary.rs` fails if an exported function does not use it.
//!
//! The safety contract of every `unsafe extern "C"` function is the C one, stated
//! in its doc comment (which becomes the header's): pointers are NULL or valid
//! for the lengths given. Hence no separate `# Safety` sections.
#![allow(clippy::missing_safety_doc)]

use std::os::fd::BorrowedFd;
use std::os::raw::{c_char, c_int};

// Not alphabetical: cbindgen writes the header's functions in this order, and
// docs/mkman.py the man pages' families, so it reads from the transfer loops
// to the byte-order helpers (tests/header.rs checks the order).
// In this order in the header: by family, transfer loops first, byte order last.
pub mod io;
pub mod frame;
pub mod conn;
pub mod ready;
pub mod ring;
pub mod selector;
pub mod interrupt;
pub mod net;
pub mod unix;
pub mod sockopt;
pub mod version;
pub mod byteorder;

/// An errno value carried out of a shim body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Errno(pub c_int);

impl From<std::io::Error> for Errno {
    fn from(err: std::io::Error) -> Errno {
        Errno(err.raw_os_error().unwrap_or(libc::EIO))
    }
}

/// What a C function returns when it fails.
pub(crate) trait FailureValue {
    fn failure() -> Self;
}

macro_rules! failure_is {
    ($value:expr => $($t:ty),*) => { $(impl FailureValue for $t { fn failure() -> Self { $value } })* };
}
failure_is!(-1 => isize, c_int);
failure_is!(0 => u16, u32, u64);
failure_is!(0 => usize);
failure_is!(() => ());

impl<T> FailureValue for *mut T {
    fn failure() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> FailureValue for *const T {
    fn failure() -> Self {
        std::ptr::null()
    }
}

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(code: c_int) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe {
        *libc::__errno_location() = code
    };
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    // SAFETY: __error returns this thread's errno slot.
    unsafe {
        *libc::__error() = code
    };
}

/// Runs a shim body under the panic guard and maps its result for C.
///
/// Always inlined: the guard is then one landing pad in each exported
/// function instead of a call that moves the closure and its result, which
/// per-frame calls such as `sl_conn_next_frame` paid on every frame.
#[inline(always)]
pub(crate) fn run_guarded<T: FailureValue>(body: impl FnOnce() -> Result<T, Errno>) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(Errno(code))) => {
            set_errno(code);
            T::failure()
        }
        Err(payload) => {
            caught_panic(payload);
            T::failure()
        }
    }
}

/// The panic arm of [`run_guarded`], out of line: it is never taken on a
/// working library, and each exported function would otherwise carry its own
/// copy of the payload's drop.
#[cold]
#[inline(never)]
fn caught_panic(payload: Box<dyn std::any::Any + Send>) {
    drop(payload);
    set_errno(libc::EIO);
}

/// The boundary of every exported function: `ffi_guard!({ body })`, where the
/// body evaluates to `Result<T, Errno>` and may use `?`.
macro_rules! ffi_guard {
    ($body:block) => {
        $crate::ffi::run_guarded(move || $body)
    };
}
pub(crate) use ffi_guard;

/// `EINVAL` unless `condition` holds.
pub(crate) fn check(condition: bool) -> Result<(), Errno> {
    if condition {
        Ok(())
    } else {
        Err(Errno(libc::EINVAL))
    }
}

/// A C `timeout_ms` as the core takes it ([`crate::deadline::Deadline::timeout_from_ms`]).
pub(crate) fn timeout(timeout_ms: c_int) -> Result<Option<std::time::Duration>, Errno> {
    Ok(crate::deadline::Deadline::timeout_from_ms(timeout_ms)?)
}

/// A caller's fd, borrowed for the call: negative is `EINVAL`.
///
/// # Safety
/// The fd must stay open for `'a` (in a shim: the call), or be closed only
/// as C callers close fds under a call: then the system calls fail with
/// `EBADF`, never touching another file.
pub(crate) unsafe fn borrow_fd<'a>(fd: c_int) -> Result<BorrowedFd<'a>, Errno> {
    check(fd >= 0)?;
    // SAFETY: fd is not -1, and the caller keeps it open for 'a.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// A caller's `(ptr, len)` input buffer: `NULL` with `len > 0`, or a length
/// over `SSIZE_MAX`, is `EINVAL`; `NULL` with `0` is the empty slice.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn input<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], Errno> {
    check(len <= isize::MAX as usize / std::mem::size_of::<T>().max(1))?;
    if len == 0 {
        return Ok(&[]);
    }
    check(!ptr.is_null())?;
    // SAFETY: non-NULL and readable for `len` elements (the caller's promise); len fits isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's `(ptr, len)` output buffer, checked as [`input`].
///
/// # Safety
/// A non-NULL `ptr` must be valid for writes of `len` bytes for `'a`.
pub(crate) unsafe fn output<'a>(ptr: *mut u8, len: usize) -> Result<&'a mut [u8], Errno> {
    check(len <= isize::MAX as usize)?;
    if len == 0 {
        return Ok(&mut []);
    }
    check(!ptr.is_null())?;
    // SAFETY: non-NULL and writable for `len` bytes (the caller's promise); len fits isize.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// The object behind a handle C got from this library's `*_new`: NULL is
/// `EINVAL`.
///
/// # Safety
/// A non-NULL `handle` must come from the matching `*_new`, not be freed,
/// and not be used through another reference for `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(handle: *mut T) -> Result<&'a mut T, Errno> {
    check(!handle.is_null())?;
    // SAFETY: as promised by the caller.
    Ok(unsafe { &mut *handle })
}

/// [`handle_mut`] for reading only.
///
/// # Safety
/// As [`handle_mut`], except that other shared references may exist.
pub(crate) unsafe fn handle_ref<'a, T>(handle: *const T) -> Result<&'a T, Errno> {
    check(!handle.is_null())?;
    // SAFETY: as promised by the caller.
    Ok(unsafe { &*handle })
}

/// A C string argument as bytes; NULL is `None`.
///
/// # Safety
/// A non-NULL `text` must point to a NUL-terminated string.
pub(crate) unsafe fn c_text<'a>(text: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: non-NULL, so NUL-terminated (the caller's promise).
    (!text.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes())
}

/// A `size_t *done` out-parameter (may be NULL) that receives the final count
/// when dropped: on every return, including an error or a caught panic.
pub(crate) struct DoneOut {
    slot: *mut usize,
    pub(crate) count: usize,
}

impl DoneOut {
    /// # Safety
    /// `slot` must be NULL or valid for a write of a `usize` until the
    /// `DoneOut` is dropped.
    pub(crate) unsafe fn new(slot: *mut usize) -> DoneOut {
        DoneOut { slot, count: 0 }
    }
}

impl Drop for DoneOut {
    fn drop(&mut self) {
        if !self.slot.is_null() {
            // SAFETY: the C caller passes NULL or a writable size_t.
            unsafe { *self.slot = self.count };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_eio() {
        let r: isize = ffi_guard!({
            if true {
                panic!("boom");
            }
            Ok(1)
        });
        assert_eq!(r, -1);
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EIO));
        let p: *mut u8 = ffi_guard!({ panic!("boom") });
        assert!(p.is_null());
    }

    #[test]
    fn guard_sets_errno_from_err() {
        let r: c_int = ffi_guard!({ Err(Errno(libc::EMSGSIZE)) });
        assert_eq!(r, -1);
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EMSGSIZE));
    }

    #[test]
    fn done_is_written_even_on_panic() {
        let mut slot = 99usize;
        let slot_ptr = &mut slot as *mut usize;
        let r: isize = ffi_guard!({
            // SAFETY: slot outlives the guard.
            let mut done = unsafe { DoneOut::new(slot_ptr) };
            done.count = 7;
            if true {
                panic!("mid-transfer");
            }
            Ok(0)
        });
        assert_eq!(r, -1);
        assert_eq!(slot, 7);
    }

    #[test]
    fn buffer_checks() {
        // SAFETY: every pointer is NULL or a live local of the length given,
        // or refused before use.
        unsafe {
            assert_eq!(input::<u8>(std::ptr::null(), 0).unwrap().len(), 0);
            assert_eq!(input::<u8>(std::ptr::null(), 1).unwrap_err(), Errno(libc::EINVAL));
            let b = [0u8; 4];
            assert_eq!(input(b.as_ptr(), usize::MAX).unwrap_err(), Errno(libc::EINVAL));
            assert_eq!(output(std::ptr::null_mut(), 3).unwrap_err(), Errno(libc::EINVAL));
        }
        // SAFETY: -1 is refused before any use.
        assert_eq!(unsafe { borrow_fd(-1) }.unwrap_err(), Errno(libc::EINVAL));
    }
}

//! The two helpers every area uses to talk to libc: an errno as an
//! `io::Error`, and the check of a call that returns -1 on failure.

use std::io;

/// The error for an errno value.
#[inline]
pub(crate) fn errno(code: libc::c_int) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// What a system call returns: -1 (with errno set) on failure.
pub(crate) trait MinusOne: Copy + PartialEq {
    /// The failure value.
    const MINUS_ONE: Self;
}

impl MinusOne for libc::c_int {
    const MINUS_ONE: Self = -1;
}

impl MinusOne for isize {
    const MINUS_ONE: Self = -1;
}

/// A system call's result: `Err` with the thread's errno when it returned -1.
#[inline]
pub(crate) fn cvt<T: MinusOne>(rc: T) -> io::Result<T> {
    if rc == T::MINUS_ONE {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

//! `extern "C"` version queries: which sockloop a program actually loaded.
//!
//! The header's `SL_VERSION_NUM` and `SL_VERSION_STRING` (written by build.rs
//! from Cargo.toml) say which version a program was compiled against; these
//! functions say which library it runs with, as libuv's `uv_version()` and
//! `uv_version_string()` do.

use std::os::raw::{c_char, c_uint};

use super::ffi_guard;

/// A decimal `&str` as a number, at compile time (Cargo's version parts).
const fn decimal(text: &str) -> c_uint {
    let bytes = text.as_bytes();
    let mut value: c_uint = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "a version part is not a decimal number");
        value = value * 10 + (bytes[i] - b'0') as c_uint;
        i += 1;
    }
    value
}

const MAJOR: c_uint = decimal(env!("CARGO_PKG_VERSION_MAJOR"));
const MINOR: c_uint = decimal(env!("CARGO_PKG_VERSION_MINOR"));
const PATCH: c_uint = decimal(env!("CARGO_PKG_VERSION_PATCH"));
const _: () = assert!(MAJOR < 256 && MINOR < 256 && PATCH < 256, "each version part must fit one byte of 0xMMmmpp");

/// `0xMMmmpp`, as the header's `SL_VERSION_NUM`.
const VERSION_NUM: c_uint = (MAJOR << 16) | (MINOR << 8) | PATCH;

/// `"MAJOR.MINOR.PATCH"` with its NUL, as the header's `SL_VERSION_STRING`.
static VERSION_STRING: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The version of the library loaded at run time, as `0xMMmmpp` (major,
/// minor and patch one byte each, as libuv's `UV_VERSION_HEX`): the same
/// number as the `SL_VERSION_NUM` macro of the header it was built with.
/// Compare it with `SL_VERSION_NUM` to find a program running against another
/// release than the one it was compiled against.
///
/// Stateless and thread-safe. Cannot fail and leaves `errno` alone.
#[no_mangle]
pub extern "C" fn sl_version() -> c_uint {
    ffi_guard!({ Ok(VERSION_NUM) })
}

/// The version of the library loaded at run time as a NUL-terminated string,
/// `"MAJOR.MINOR.PATCH"`: the same text as the `SL_VERSION_STRING` macro of the
/// header it was built with.
///
/// The string is static (it lives as long as the library is loaded); the
/// caller must not free or modify it. Stateless and thread-safe. Cannot fail
/// and leaves `errno` alone: never NULL.
#[no_mangle]
pub extern "C" fn sl_version_string() -> *const c_char {
    ffi_guard!({ Ok(VERSION_STRING.as_ptr().cast()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_packs_cargo_s_parts() {
        assert_eq!(decimal("0"), 0);
        assert_eq!(decimal("255"), 255);
        assert_eq!(sl_version() >> 16, MAJOR);
        assert_eq!((sl_version() >> 8) & 0xff, MINOR);
        assert_eq!(sl_version() & 0xff, PATCH);
        // SAFETY: sl_version_string returns a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(sl_version_string()) };
        assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}

//! `extern "C"` byte-order helpers.
//!
//! The wire is big-endian ("network order"); most CPUs are little-endian. The
//! `sl_put_*` / `sl_get_*` functions read and write integers at any address, so C
//! code never casts a `char *` to a `uint32_t *` (undefined behaviour when
//! misaligned). cbindgen cannot see through macros, so each function is spelled
//! out.

use std::os::raw::c_void;

use super::{check, ffi_guard};

/// Copies `bytes` to `dst` and returns the address just past them, or NULL with
/// `EINVAL` when `dst` is NULL.
///
/// # Safety
/// A non-NULL `dst` must be valid for writes of `N` bytes (any alignment).
unsafe fn put<const N: usize>(dst: *mut c_void, bytes: [u8; N]) -> Result<*mut c_void, super::Errno> {
    check(!dst.is_null())?;
    // SAFETY: the caller passes N writable bytes at dst; any alignment.
    unsafe {
        dst.cast::<[u8; N]>().write_unaligned(bytes);
        Ok(dst.cast::<u8>().add(N).cast())
    }
}

/// Reads N bytes at `src`, or `EINVAL` when `src` is NULL.
///
/// # Safety
/// A non-NULL `src` must be valid for reads of `N` bytes (any alignment).
unsafe fn get<const N: usize>(src: *const c_void) -> Result<[u8; N], super::Errno> {
    check(!src.is_null())?;
    // SAFETY: the caller passes N readable bytes at src; any alignment.
    Ok(unsafe { src.cast::<[u8; N]>().read_unaligned() })
}

/// Converts a 16-bit value from host to network (big-endian) order. Cannot fail.
#[no_mangle]
pub extern "C" fn sl_htons(value: u16) -> u16 {
    ffi_guard!({ Ok(value.to_be()) })
}

/// Converts a 16-bit value from network (big-endian) to host order. Cannot fail.
#[no_mangle]
pub extern "C" fn sl_ntohs(value: u16) -> u16 {
    ffi_guard!({ Ok(u16::from_be(value)) })
}

/// Converts a 32-bit value from host to network (big-endian) order. Cannot fail.
#[no_mangle]
pub extern "C" fn sl_htonl(value: u32) -> u32 {
    ffi_guard!({ Ok(value.to_be()) })
}

/// Converts a 32-bit value from network (big-endian) to host order. Cannot fail.
#[no_mangle]
pub extern "C" fn sl_ntohl(value: u32) -> u32 {
    ffi_guard!({ Ok(u32::from_be(value)) })
}

/// Converts a 64-bit value from host to network (big-endian) order. Cannot fail.
#[no_mangle]
pub extern "C" fn sl_htonll(value: u64) -> u64 {
    ffi_guard!({ Ok(value.to_be()) })
}

/// Converts a 64-bit value from network (big-endian) to host order. Cannot fail.
#[no_mangle]
pub extern "C" fn sl_ntohll(value: u64) -> u64 {
    ffi_guard!({ Ok(u64::from_be(value)) })
}

/// Writes `value` as 2 big-endian bytes at `dst` (any alignment).
///
/// Returns `dst + 2`, so that a record can be written field after field, or
/// NULL with errno `EINVAL` when `dst` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_put_u16be(dst: *mut c_void, value: u16) -> *mut c_void {
    // SAFETY: `dst` is NULL or writable for the value's bytes (the C contract).
    ffi_guard!({ unsafe { put(dst, value.to_be_bytes()) } })
}

/// Reads 2 big-endian bytes at `src` (any alignment) as a host integer.
///
/// A NULL `src` returns 0 with errno `EINVAL`; otherwise errno is untouched.
#[no_mangle]
pub unsafe extern "C" fn sl_get_u16be(src: *const c_void) -> u16 {
    // SAFETY: `src` is NULL or readable for the value's bytes (the C contract).
    ffi_guard!({ Ok(u16::from_be_bytes(unsafe { get(src) }?)) })
}

/// Writes `value` as 2 little-endian bytes at `dst` (any alignment).
///
/// Returns `dst + 2`, so that a record can be written field after field, or
/// NULL with errno `EINVAL` when `dst` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_put_u16le(dst: *mut c_void, value: u16) -> *mut c_void {
    // SAFETY: `dst` is NULL or writable for the value's bytes (the C contract).
    ffi_guard!({ unsafe { put(dst, value.to_le_bytes()) } })
}

/// Reads 2 little-endian bytes at `src` (any alignment) as a host integer.
///
/// A NULL `src` returns 0 with errno `EINVAL`; otherwise errno is untouched.
#[no_mangle]
pub unsafe extern "C" fn sl_get_u16le(src: *const c_void) -> u16 {
    // SAFETY: `src` is NULL or readable for the value's bytes (the C contract).
    ffi_guard!({ Ok(u16::from_le_bytes(unsafe { get(src) }?)) })
}

/// Writes `value` as 4 big-endian bytes at `dst` (any alignment).
///
/// Returns `dst + 4`, so that a record can be written field after field, or
/// NULL with errno `EINVAL` when `dst` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_put_u32be(dst: *mut c_void, value: u32) -> *mut c_void {
    // SAFETY: `dst` is NULL or writable for the value's bytes (the C contract).
    ffi_guard!({ unsafe { put(dst, value.to_be_bytes()) } })
}

/// Reads 4 big-endian bytes at `src` (any alignment) as a host integer.
///
/// A NULL `src` returns 0 with errno `EINVAL`; otherwise errno is untouched.
#[no_mangle]
pub unsafe extern "C" fn sl_get_u32be(src: *const c_void) -> u32 {
    // SAFETY: `src` is NULL or readable for the value's bytes (the C contract).
    ffi_guard!({ Ok(u32::from_be_bytes(unsafe { get(src) }?)) })
}

/// Writes `value` as 4 little-endian bytes at `dst` (any alignment).
///
/// Returns `dst + 4`, so that a record can be written field after field, or
/// NULL with errno `EINVAL` when `dst` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_put_u32le(dst: *mut c_void, value: u32) -> *mut c_void {
    // SAFETY: `dst` is NULL or writable for the value's bytes (the C contract).
    ffi_guard!({ unsafe { put(dst, value.to_le_bytes()) } })
}

/// Reads 4 little-endian bytes at `src` (any alignment) as a host integer.
///
/// A NULL `src` returns 0 with errno `EINVAL`; otherwise errno is untouched.
#[no_mangle]
pub unsafe extern "C" fn sl_get_u32le(src: *const c_void) -> u32 {
    // SAFETY: `src` is NULL or readable for the value's bytes (the C contract).
    ffi_guard!({ Ok(u32::from_le_bytes(unsafe { get(src) }?)) })
}

/// Writes `value` as 8 big-endian bytes at `dst` (any alignment).
///
/// Returns `dst + 8`, so that a record can be written field after field, or
/// NULL with errno `EINVAL` when `dst` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_put_u64be(dst: *mut c_void, value: u64) -> *mut c_void {
    // SAFETY: `dst` is NULL or writable for the value's bytes (the C contract).
    ffi_guard!({ unsafe { put(dst, value.to_be_bytes()) } })
}

/// Reads 8 big-endian bytes at `src` (any alignment) as a host integer.
///
/// A NULL `src` returns 0 with errno `EINVAL`; otherwise errno is untouched.
#[no_mangle]
pub unsafe extern "C" fn sl_get_u64be(src: *const c_void) -> u64 {
    // SAFETY: `src` is NULL or readable for the value's bytes (the C contract).
    ffi_guard!({ Ok(u64::from_be_bytes(unsafe { get(src) }?)) })
}

/// Writes `value` as 8 little-endian bytes at `dst` (any alignment).
///
/// Returns `dst + 8`, so that a record can be written field after field, or
/// NULL with errno `EINVAL` when `dst` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sl_put_u64le(dst: *mut c_void, value: u64) -> *mut c_void {
    // SAFETY: `dst` is NULL or writable for the value's bytes (the C contract).
    ffi_guard!({ unsafe { put(dst, value.to_le_bytes()) } })
}

/// Reads 8 little-endian bytes at `src` (any alignment) as a host integer.
///
/// A NULL `src` returns 0 with errno `EINVAL`; otherwise errno is untouched.
#[no_mangle]
pub unsafe extern "C" fn sl_get_u64le(src: *const c_void) -> u64 {
    // SAFETY: `src` is NULL or readable for the value's bytes (the C contract).
    ffi_guard!({ Ok(u64::from_le_bytes(unsafe { get(src) }?)) })
}

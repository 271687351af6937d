//! Byte-order helpers: exact byte layouts at every alignment.

use std::ptr;

use sockloop::ffi::byteorder::*;

#[test]
fn conversions_follow_network_order() {
    assert_eq!(sl_htons(0x0102).to_ne_bytes(), [1, 2]);
    assert_eq!(sl_htonl(0x01020304).to_ne_bytes(), [1, 2, 3, 4]);
    assert_eq!(sl_htonll(0x0102030405060708).to_ne_bytes(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(sl_ntohs(u16::from_ne_bytes([1, 2])), 0x0102);
    assert_eq!(sl_ntohl(u32::from_ne_bytes([1, 2, 3, 4])), 0x01020304);
    assert_eq!(sl_ntohll(u64::from_ne_bytes([1, 2, 3, 4, 5, 6, 7, 8])), 0x0102030405060708);
}

#[test]
fn put_and_get_at_every_offset() {
    for offset in 0..8 {
        let mut buf = [0xeeu8; 24];
        let base = unsafe { buf.as_mut_ptr().add(offset) };
        // SAFETY: 14 bytes from base fit in buf.
        let p =
            unsafe { sl_put_u64be(sl_put_u32be(sl_put_u16be(base.cast(), 0x0102), 0x03040506), 0x0708090a0b0c0d0e) };
        assert_eq!(p as usize - base as usize, 14);
        assert_eq!(&buf[offset..offset + 14], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
        assert_eq!(buf[offset + 14], 0xee, "wrote past the end");
        let base = unsafe { buf.as_ptr().add(offset) };
        unsafe {
            assert_eq!(sl_get_u16be(base.cast()), 0x0102);
            assert_eq!(sl_get_u32be(base.add(2).cast()), 0x03040506);
            assert_eq!(sl_get_u64be(base.add(6).cast()), 0x0708090a0b0c0d0e);
        }

        let mut buf = [0u8; 24];
        let base = unsafe { buf.as_mut_ptr().add(offset) };
        // SAFETY: 14 bytes from base fit in buf.
        unsafe { sl_put_u64le(sl_put_u32le(sl_put_u16le(base.cast(), 0x0102), 0x03040506), 0x0708090a0b0c0d0e) };
        assert_eq!(&buf[offset..offset + 14], &[2, 1, 6, 5, 4, 3, 14, 13, 12, 11, 10, 9, 8, 7]);
        let base = unsafe { buf.as_ptr().add(offset) };
        unsafe {
            assert_eq!(sl_get_u16le(base.cast()), 0x0102);
            assert_eq!(sl_get_u32le(base.add(2).cast()), 0x03040506);
            assert_eq!(sl_get_u64le(base.add(6).cast()), 0x0708090a0b0c0d0e);
        }
    }
}

#[test]
fn null_pointers_are_einval_not_crashes() {
    let errno = || std::io::Error::last_os_error().raw_os_error();
    // SAFETY: NULL is checked before any access.
    assert!(unsafe { sl_put_u32be(ptr::null_mut(), 1) }.is_null());
    assert_eq!(errno(), Some(libc::EINVAL));
    unsafe { *libc::__errno_location() = 0 };
    assert_eq!(unsafe { sl_get_u64le(ptr::null()) }, 0);
    assert_eq!(errno(), Some(libc::EINVAL));
}

//! The hostile-input table: one row per exported function, feeding it NULL
//! pointers, negative, closed and high (> 1024) fds, zero and `SIZE_MAX`
//! lengths, `iovcnt` 0 and over `IOV_MAX`, timeouts below -1, frames that
//! declare 4 GiB, empty delimiters and unknown event bits. Each row asserts the
//! errno the header documents; a counting allocator fails any row that asks
//! for an attacker-sized allocation; and a test fails when a function of
//! `include/sockloop.h` has no row.
#![allow(unused_unsafe)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::raw::{c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use sockloop::ffi::byteorder::*;
use sockloop::ffi::conn::*;
use sockloop::ffi::frame::*;
use sockloop::ffi::interrupt::*;
use sockloop::ffi::io::*;
use sockloop::ffi::net::*;
use sockloop::ffi::ready::*;
use sockloop::ffi::selector::*;
use sockloop::ffi::sockopt::*;
use sockloop::ffi::unix::*;
use sockloop::ffi::version::*;

// ------------------------------------------------------------ allocation guard

/// The largest single allocation asked for since the last reset: a row fails
/// when it is attacker-sized (a declared 4 GiB frame, a `SIZE_MAX` length).
static LARGEST: AtomicUsize = AtomicUsize::new(0);
const HUGE: usize = 64 << 20;

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: ptr came from System with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

// ------------------------------------------------------------ assertions

fn clear_errno() {
    unsafe { *libc::__errno_location() = 0 };
}

fn errno_now() -> i32 {
    unsafe { *libc::__errno_location() }
}

/// The call returns -1 (as any integer type) with `errno == $err`.
macro_rules! fails {
    ($call:expr, $err:expr) => {{
        clear_errno();
        let rc = unsafe { $call } as i64;
        let e = errno_now();
        assert!(rc == -1 && e == $err, "{} returned {rc} errno {e}, wanted -1 errno {}", stringify!($call), $err);
    }};
}

/// The call returns NULL (or `$fail`, for getters) with `errno == $err`.
macro_rules! fails_with {
    ($call:expr, $fail:expr, $err:expr) => {{
        clear_errno();
        let rc = unsafe { $call };
        let e = errno_now();
        #[allow(clippy::cmp_null)] // $fail is NULL for constructors, 0 for getters
        let failed = rc == $fail;
        assert!(
            failed && e == $err,
            "{} returned {rc:?} errno {e}, wanted {:?} errno {}",
            stringify!($call),
            $fail,
            $err
        );
    }};
}

/// The call succeeds with exactly `$want`.
macro_rules! gives {
    ($call:expr, $want:expr) => {{
        let rc = unsafe { $call };
        assert!(rc == $want, "{} returned {rc:?} (errno {}), wanted {:?}", stringify!($call), errno_now(), $want);
    }};
}

// ------------------------------------------------------------ the fds a row needs

/// Fds for the rows: a connected socketpair, one end of it again at an fd
/// number above 1024, a pipe, a TCP listener, a fresh closed fd per use.
struct Env {
    a: RawFd,
    b: RawFd,
    high: RawFd,
    pipe_r: RawFd,
    pipe_w: RawFd,
    tcp_listener: RawFd,
    tcp_port: i32,
}

const HIGH_FD: RawFd = 1500;

impl Env {
    fn new() -> Env {
        raise_nofile_limit(4096);
        let (a, b) = socketpair();
        let (a, b) = (a.into_raw_fd(), b.into_raw_fd());
        assert_eq!(unsafe { libc::dup3(a, HIGH_FD, libc::O_CLOEXEC) }, HIGH_FD);
        let (r, w) = pipe();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_port = listener.local_addr().unwrap().port() as i32;
        Env {
            a,
            b,
            high: HIGH_FD,
            pipe_r: r.into_raw_fd(),
            pipe_w: w.into_raw_fd(),
            tcp_listener: listener.into_raw_fd(),
            tcp_port,
        }
    }

    /// A descriptor number that was open a moment ago and is closed now.
    fn closed(&self) -> RawFd {
        let (r, w) = pipe();
        let n = r.as_raw_fd();
        drop((r, w));
        assert_eq!(unsafe { libc::fcntl(n, libc::F_GETFD) }, -1);
        n
    }

    /// Empties whatever a row left unread on either end of the socketpair.
    fn drain(&self) {
        let mut buf = [0u8; 4096];
        for fd in [self.a, self.b] {
            while unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) } > 0 {}
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for fd in [self.a, self.b, self.high, self.pipe_r, self.pipe_w, self.tcp_listener] {
            unsafe { libc::close(fd) };
        }
    }
}

/// A NUL-terminated byte string literal as a C string (any bytes, UTF-8 or not).
fn cs(bytes: &'static [u8]) -> *const libc::c_char {
    assert_eq!(bytes.last(), Some(&0));
    bytes.as_ptr().cast()
}

const NEVER: i32 = -2; // a timeout below -1
const IOV_MAX: i32 = libc::UIO_MAXIOV;
const FOUR_GIB_HEADER: [u8; 4] = [0xff, 0xff, 0xff, 0xff];

fn write_bytes(fd: RawFd, bytes: &[u8]) {
    assert_eq!(unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), 0) }, bytes.len() as isize);
}

/// A connection whose fd was closed after it was created (a bug in the
/// caller that must still give EBADF, not a crash).
fn conn_on_closed_fd(env: &Env) -> *mut sl_conn {
    let dup = unsafe { libc::fcntl(env.a, libc::F_DUPFD_CLOEXEC, 0) };
    let c = conn(dup, 16);
    unsafe { libc::close(dup) };
    c
}

/// A connection over `fd` without ownership, freed by the caller.
fn conn(fd: RawFd, max: usize) -> *mut sl_conn {
    let c = sl_conn_new(fd, max, 0);
    assert!(!c.is_null(), "sl_conn_new errno {}", errno_now());
    c
}

// ------------------------------------------------------------ the rows

type Row = (&'static str, fn(&Env));

fn byteorder_rows() -> Vec<Row> {
    macro_rules! conversion {
        ($name:ident, $t:ty) => {{
            let f: fn(&Env) = |_: &Env| {
                for v in [0 as $t, <$t>::MAX, 1] {
                    let round = $name($name(v));
                    assert_eq!(round, v, "{} is its own inverse", stringify!($name));
                }
            };
            (stringify!($name), f)
        }};
    }
    macro_rules! put {
        ($put:ident, $get:ident, $t:ty, $n:expr) => {
            (
                {
                    let f: fn(&Env) = |_: &Env| {
                        fails_with!($put(null_mut(), <$t>::MAX), null_mut::<c_void>(), libc::EINVAL);
                        let mut buf = [0u8; 9];
                        let base = unsafe { buf.as_mut_ptr().add(1) }; // unaligned
                        let end = unsafe { $put(base.cast(), <$t>::MAX) };
                        assert_eq!(end.cast::<u8>(), unsafe { base.add($n) });
                    };
                    (stringify!($put), f)
                },
                {
                    let f: fn(&Env) = |_: &Env| {
                        fails_with!($get(null()), 0, libc::EINVAL);
                        let buf = [0xffu8; 9];
                        gives!($get(buf[1..].as_ptr().cast()), <$t>::MAX);
                    };
                    (stringify!($get), f)
                },
            )
        };
    }
    let mut rows = vec![
        conversion!(sl_htons, u16),
        conversion!(sl_ntohs, u16),
        conversion!(sl_htonl, u32),
        conversion!(sl_ntohl, u32),
        conversion!(sl_htonll, u64),
        conversion!(sl_ntohll, u64),
    ];
    for (p, g) in [
        put!(sl_put_u16be, sl_get_u16be, u16, 2),
        put!(sl_put_u16le, sl_get_u16le, u16, 2),
        put!(sl_put_u32be, sl_get_u32be, u32, 4),
        put!(sl_put_u32le, sl_get_u32le, u32, 4),
        put!(sl_put_u64be, sl_get_u64be, u64, 8),
        put!(sl_put_u64le, sl_get_u64le, u64, 8),
    ] {
        rows.push(p);
        rows.push(g);
    }
    rows
}

fn transfer_rows() -> Vec<Row> {
    vec![
        ("sl_send_all", |env| {
            let buf = [7u8; 16];
            let mut done = usize::MAX;
            fails!(sl_send_all(-1, buf.as_ptr().cast(), 16, 0, &mut done), libc::EINVAL);
            assert_eq!(done, 0, "*sent set on every return");
            fails!(sl_send_all(env.closed(), buf.as_ptr().cast(), 16, 0, null_mut()), libc::EBADF);
            fails!(sl_send_all(env.a, null(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_all(env.a, buf.as_ptr().cast(), usize::MAX, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_all(env.a, buf.as_ptr().cast(), 16, NEVER, null_mut()), libc::EINVAL);
            fails!(sl_send_all(env.a, buf.as_ptr().cast(), 16, i32::MIN, null_mut()), libc::EINVAL);
            gives!(sl_send_all(env.a, null(), 0, 0, null_mut()), 0);
            // The read end of a pipe: write(2)'s EBADF (with timeout 0 a blocking
            // pipe is polled first, so -1 reaches the system call at once).
            fails!(sl_send_all(env.pipe_r, buf.as_ptr().cast(), 16, -1, null_mut()), libc::EBADF);
            gives!(sl_send_all(env.high, buf.as_ptr().cast(), 16, 100, null_mut()), 16);
            env.drain();
        }),
        ("sl_recv_exact", |env| {
            let mut buf = [0u8; 16];
            let mut done = usize::MAX;
            fails!(sl_recv_exact(-1, buf.as_mut_ptr().cast(), 16, 0, &mut done), libc::EINVAL);
            assert_eq!(done, 0);
            fails!(sl_recv_exact(env.closed(), buf.as_mut_ptr().cast(), 16, 0, null_mut()), libc::EBADF);
            fails!(sl_recv_exact(env.a, null_mut(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_recv_exact(env.a, buf.as_mut_ptr().cast(), usize::MAX, 0, null_mut()), libc::EINVAL);
            fails!(sl_recv_exact(env.a, buf.as_mut_ptr().cast(), 16, NEVER, null_mut()), libc::EINVAL);
            gives!(sl_recv_exact(env.a, null_mut(), 0, 0, null_mut()), 0);
            fails!(sl_recv_exact(env.high, buf.as_mut_ptr().cast(), 16, 0, null_mut()), libc::EAGAIN);
            write_bytes(env.b, &[1; 16]);
            gives!(sl_recv_exact(env.high, buf.as_mut_ptr().cast(), 16, 100, null_mut()), 16);
        }),
        ("sl_send_allv", |env| {
            let buf = [7u8; 8];
            let one = libc::iovec { iov_base: buf.as_ptr() as *mut c_void, iov_len: 8 };
            let many = vec![one; IOV_MAX as usize + 1];
            let mut done = usize::MAX;
            gives!(sl_send_allv(env.a, null(), 0, 0, &mut done), 0);
            assert_eq!(done, 0);
            fails!(sl_send_allv(env.a, many.as_ptr(), IOV_MAX + 1, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_allv(env.a, many.as_ptr(), i32::MAX, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_allv(env.a, many.as_ptr(), -1, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_allv(env.a, null(), 1, 0, null_mut()), libc::EINVAL);
            let null_base = [libc::iovec { iov_base: null_mut(), iov_len: 8 }];
            fails!(sl_send_allv(env.a, null_base.as_ptr(), 1, 0, null_mut()), libc::EINVAL);
            let huge = [libc::iovec { iov_base: buf.as_ptr() as *mut c_void, iov_len: usize::MAX }];
            fails!(sl_send_allv(env.a, huge.as_ptr(), 1, 0, null_mut()), libc::EINVAL);
            let overflow = [libc::iovec { iov_base: buf.as_ptr() as *mut c_void, iov_len: isize::MAX as usize }; 3];
            fails!(sl_send_allv(env.a, overflow.as_ptr(), 3, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_allv(-1, many.as_ptr(), 1, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_allv(env.closed(), many.as_ptr(), 1, 0, null_mut()), libc::EBADF);
            fails!(sl_send_allv(env.a, many.as_ptr(), 1, NEVER, null_mut()), libc::EINVAL);
            gives!(sl_send_allv(env.high, many.as_ptr(), IOV_MAX, 1000, null_mut()), 8 * IOV_MAX as isize);
            env.drain();
        }),
    ]
}

fn frame_rows() -> Vec<Row> {
    vec![
        ("sl_send_frame", |env| {
            let buf = [7u8; 16];
            let mut done = usize::MAX;
            fails!(sl_send_frame(-1, buf.as_ptr().cast(), 16, 0, &mut done), libc::EINVAL);
            assert_eq!(done, 0);
            fails!(sl_send_frame(env.closed(), buf.as_ptr().cast(), 16, 0, null_mut()), libc::EBADF);
            fails!(sl_send_frame(env.a, null(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame(env.a, buf.as_ptr().cast(), 1 << 32, 0, null_mut()), libc::EMSGSIZE);
            fails!(sl_send_frame(env.a, buf.as_ptr().cast(), usize::MAX, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame(env.a, buf.as_ptr().cast(), 16, NEVER, null_mut()), libc::EINVAL);
            gives!(sl_send_frame(env.high, null(), 0, 100, &mut done), 0);
            assert_eq!(done, 4);
            env.drain();
        }),
        ("sl_recv_frame", |env| {
            let mut buf = [0u8; 16];
            let mut done = usize::MAX;
            fails!(sl_recv_frame(-1, buf.as_mut_ptr().cast(), 16, 0, &mut done), libc::EINVAL);
            assert_eq!(done, 0);
            fails!(sl_recv_frame(env.closed(), buf.as_mut_ptr().cast(), 16, 0, null_mut()), libc::EBADF);
            fails!(sl_recv_frame(env.a, null_mut(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_recv_frame(env.a, buf.as_mut_ptr().cast(), usize::MAX, 0, null_mut()), libc::EINVAL);
            fails!(sl_recv_frame(env.a, buf.as_mut_ptr().cast(), 16, NEVER, null_mut()), libc::EINVAL);
            write_bytes(env.b, &FOUR_GIB_HEADER);
            fails!(sl_recv_frame(env.high, buf.as_mut_ptr().cast(), 16, 100, &mut done), libc::EMSGSIZE);
            assert_eq!(done, 4);
            assert_eq!(unsafe { sl_get_u32be(buf.as_ptr().cast()) }, u32::MAX);
            // capacity 0 with a NULL buffer: only an empty frame fits.
            write_bytes(env.b, &FOUR_GIB_HEADER);
            fails!(sl_recv_frame(env.a, null_mut(), 0, 100, &mut done), libc::EMSGSIZE);
            env.drain();
        }),
        ("sl_send_frame_prefix", |env| {
            let buf = [7u8; 16];
            let mut done = usize::MAX;
            for bad in [0, 3, 5, 7, 9, 16, usize::MAX] {
                fails!(sl_send_frame_prefix(env.a, bad, 0, buf.as_ptr().cast(), 16, 0, &mut done), libc::EINVAL);
                assert_eq!(done, 0);
            }
            fails!(sl_send_frame_prefix(env.a, 4, 2, buf.as_ptr().cast(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame_prefix(env.a, 4, -1, buf.as_ptr().cast(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame_prefix(-1, 4, 0, buf.as_ptr().cast(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame_prefix(env.closed(), 2, 0, buf.as_ptr().cast(), 16, 0, null_mut()), libc::EBADF);
            fails!(sl_send_frame_prefix(env.a, 2, 0, null(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame_prefix(env.a, 1, 0, buf.as_ptr().cast(), 256, 0, null_mut()), libc::EMSGSIZE);
            fails!(sl_send_frame_prefix(env.a, 8, 1, buf.as_ptr().cast(), usize::MAX, 0, null_mut()), libc::EINVAL);
            fails!(sl_send_frame_prefix(env.a, 2, 0, buf.as_ptr().cast(), 16, NEVER, null_mut()), libc::EINVAL);
            gives!(sl_send_frame_prefix(env.high, 8, SL_PREFIX_LITTLE_ENDIAN, null(), 0, 100, &mut done), 0);
            assert_eq!(done, 8);
            env.drain();
        }),
        ("sl_recv_frame_prefix", |env| {
            let mut buf = [0u8; 16];
            let mut p = sl_frame_progress { received: 0, declared: 0, prefix: [0; 8] };
            for bad in [0, 3, 5, 7, 9, 16, usize::MAX] {
                fails!(sl_recv_frame_prefix(env.a, bad, 0, buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EINVAL);
            }
            fails!(sl_recv_frame_prefix(env.a, 4, 2, buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_prefix(-1, 4, 0, buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_prefix(env.closed(), 2, 0, buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EBADF);
            fails!(sl_recv_frame_prefix(env.a, 2, 0, buf.as_mut_ptr().cast(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_recv_frame_prefix(env.a, 2, 0, null_mut(), 16, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_prefix(env.a, 2, 0, buf.as_mut_ptr().cast(), usize::MAX, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_prefix(env.a, 2, 0, buf.as_mut_ptr().cast(), 16, NEVER, &mut p), libc::EINVAL);
            write_bytes(env.b, &[0xff; 8]);
            fails!(sl_recv_frame_prefix(env.high, 8, 1, buf.as_mut_ptr().cast(), 16, 100, &mut p), libc::EMSGSIZE);
            assert_eq!((p.received, p.declared), (8, u64::MAX));
            env.drain();
        }),
        ("sl_recv_frame_resume", |env| {
            let mut buf = [0u8; 16];
            let mut p = sl_frame_progress { received: 0, declared: 0, prefix: [0; 8] };
            fails!(sl_recv_frame_resume(-1, buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_resume(env.closed(), buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EBADF);
            fails!(sl_recv_frame_resume(env.a, buf.as_mut_ptr().cast(), 16, 0, null_mut()), libc::EINVAL);
            fails!(sl_recv_frame_resume(env.a, null_mut(), 16, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_resume(env.a, buf.as_mut_ptr().cast(), usize::MAX, 0, &mut p), libc::EINVAL);
            fails!(sl_recv_frame_resume(env.a, buf.as_mut_ptr().cast(), 16, NEVER, &mut p), libc::EINVAL);
            write_bytes(env.b, &FOUR_GIB_HEADER);
            fails!(sl_recv_frame_resume(env.high, buf.as_mut_ptr().cast(), 16, 100, &mut p), libc::EMSGSIZE);
            assert_eq!((p.received, p.declared), (4, u32::MAX as u64));
            // A progress no frame could leave: more payload than declared.
            p.received = usize::MAX;
            fails!(sl_recv_frame_resume(env.a, buf.as_mut_ptr().cast(), 16, 0, &mut p), libc::EINVAL);
            env.drain();
        }),
    ]
}

fn conn_rows() -> Vec<Row> {
    vec![
        ("sl_conn_new", |env| {
            fails_with!(sl_conn_new(-1, 16, 0), null_mut::<sl_conn>(), libc::EINVAL);
            fails_with!(sl_conn_new(i32::MIN, 16, 0), null_mut::<sl_conn>(), libc::EINVAL);
            fails_with!(sl_conn_new(env.closed(), 16, 0), null_mut::<sl_conn>(), libc::EBADF);
            fails_with!(sl_conn_new(env.a, usize::MAX, 0), null_mut::<sl_conn>(), libc::EINVAL);
            fails_with!(sl_conn_new(env.a, (u32::MAX as usize) + 1, 0), null_mut::<sl_conn>(), libc::EINVAL);
            fails_with!(sl_conn_new(env.a, 16, 2), null_mut::<sl_conn>(), libc::EINVAL);
            fails_with!(sl_conn_new(env.a, 16, -1), null_mut::<sl_conn>(), libc::EINVAL);
            // The largest limit is accepted and allocates nothing up front.
            let c = conn(env.high, u32::MAX as usize);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_free", |env| {
            unsafe { sl_conn_free(null_mut()) };
            let c = conn(env.a, 16);
            unsafe { sl_conn_free(c) };
            assert!(unsafe { libc::fcntl(env.a, libc::F_GETFD) } >= 0, "no SL_CONN_OWN_FD: the fd stays open");
        }),
        ("sl_conn_fd", |env| {
            fails!(sl_conn_fd(null()), libc::EINVAL);
            let c = conn(env.high, 16);
            gives!(sl_conn_fd(c), env.high);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_set_prefix", |env| {
            fails!(sl_conn_set_prefix(null_mut(), 4, 0), libc::EINVAL);
            let c = conn(env.high, 16);
            for bad in [0, 3, 5, 6, 7, 9, 16, usize::MAX] {
                fails!(sl_conn_set_prefix(c, bad, 0), libc::EINVAL);
            }
            fails!(sl_conn_set_prefix(c, 2, 2), libc::EINVAL);
            fails!(sl_conn_set_prefix(c, 2, -1), libc::EINVAL);
            gives!(sl_conn_set_prefix(c, 1, SL_PREFIX_LITTLE_ENDIAN), 0);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_set_high_water", |env| {
            fails!(sl_conn_set_high_water(null_mut(), 0), libc::EINVAL);
            fails!(sl_conn_set_high_water(null_mut(), usize::MAX), libc::EINVAL);
            let c = conn(env.high, 16);
            gives!(sl_conn_set_high_water(c, 0), 0);
            fails!(sl_conn_queue(c, b"x".as_ptr().cast(), 1), libc::ENOBUFS);
            fails!(sl_conn_queue_frame(c, null(), 0), libc::ENOBUFS);
            gives!(sl_conn_set_high_water(c, usize::MAX), 0);
            gives!(sl_conn_queue(c, b"x".as_ptr().cast(), 1), 1);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_buffered", |_| {
            fails_with!(sl_conn_buffered(null()), 0, libc::EINVAL);
        }),
        ("sl_conn_pending", |_| {
            fails_with!(sl_conn_pending(null()), 0, libc::EINVAL);
        }),
        ("sl_conn_read_exact", |env| {
            let mut buf = [0u8; 16];
            fails!(sl_conn_read_exact(null_mut(), buf.as_mut_ptr().cast(), 16, 0), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_read_exact(c, null_mut(), 16, 0), libc::EINVAL);
            fails!(sl_conn_read_exact(c, buf.as_mut_ptr().cast(), 16, NEVER), libc::EINVAL);
            fails!(sl_conn_read_exact(c, buf.as_mut_ptr().cast(), 17, 0), libc::EMSGSIZE);
            fails!(sl_conn_read_exact(c, buf.as_mut_ptr().cast(), usize::MAX, 0), libc::EINVAL);
            gives!(sl_conn_read_exact(c, null_mut(), 0, 0), 0);
            fails!(sl_conn_read_exact(c, buf.as_mut_ptr().cast(), 16, 0), libc::EAGAIN);
            unsafe { sl_conn_free(c) };
            let c = conn_on_closed_fd(env);
            fails!(sl_conn_read_exact(c, buf.as_mut_ptr().cast(), 16, 0), libc::EBADF);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_read_frame", |env| {
            let mut buf = [0u8; 16];
            fails!(sl_conn_read_frame(null_mut(), buf.as_mut_ptr().cast(), 16, 0), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_read_frame(c, null_mut(), 16, 0), libc::EINVAL);
            fails!(sl_conn_read_frame(c, buf.as_mut_ptr().cast(), 16, NEVER), libc::EINVAL);
            fails!(sl_conn_read_frame(c, buf.as_mut_ptr().cast(), usize::MAX, 0), libc::EINVAL);
            write_bytes(env.b, &FOUR_GIB_HEADER);
            fails!(sl_conn_read_frame(c, buf.as_mut_ptr().cast(), 16, 100), libc::EMSGSIZE);
            unsafe { sl_conn_free(c) };
            let c = conn_on_closed_fd(env);
            fails!(sl_conn_read_frame(c, buf.as_mut_ptr().cast(), 16, 0), libc::EBADF);
            unsafe { sl_conn_free(c) };
            env.drain();
        }),
        ("sl_conn_read_until", |env| {
            let mut buf = [0u8; 16];
            let nl = b"\n".as_ptr().cast();
            fails!(sl_conn_read_until(null_mut(), nl, 1, buf.as_mut_ptr().cast(), 16, 0), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_read_until(c, nl, 0, buf.as_mut_ptr().cast(), 16, 0), libc::EINVAL);
            fails!(sl_conn_read_until(c, null(), 1, buf.as_mut_ptr().cast(), 16, 0), libc::EINVAL);
            fails!(sl_conn_read_until(c, nl, usize::MAX, buf.as_mut_ptr().cast(), 16, 0), libc::EINVAL);
            fails!(sl_conn_read_until(c, nl, 1, null_mut(), 16, 0), libc::EINVAL);
            fails!(sl_conn_read_until(c, nl, 1, buf.as_mut_ptr().cast(), usize::MAX, 0), libc::EINVAL);
            fails!(sl_conn_read_until(c, nl, 1, buf.as_mut_ptr().cast(), 16, NEVER), libc::EINVAL);
            fails!(sl_conn_read_until(c, nl, 1, buf.as_mut_ptr().cast(), 16, 0), libc::EAGAIN);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_write_frame", |env| {
            let buf = [7u8; 16];
            fails!(sl_conn_write_frame(null_mut(), buf.as_ptr().cast(), 16, 0), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_write_frame(c, null(), 16, 0), libc::EINVAL);
            fails!(sl_conn_write_frame(c, buf.as_ptr().cast(), 16, NEVER), libc::EINVAL);
            fails!(sl_conn_write_frame(c, buf.as_ptr().cast(), 1 << 32, 0), libc::EMSGSIZE);
            fails!(sl_conn_write_frame(c, buf.as_ptr().cast(), usize::MAX, 0), libc::EINVAL);
            gives!(sl_conn_pending(c), 0);
            unsafe { sl_conn_free(c) };
            let c = conn_on_closed_fd(env);
            fails!(sl_conn_write_frame(c, buf.as_ptr().cast(), 16, 0), libc::EBADF);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_fill", |env| {
            fails!(sl_conn_fill(null_mut()), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_fill(c), libc::EAGAIN);
            unsafe { sl_conn_free(c) };
            let c = conn_on_closed_fd(env);
            fails!(sl_conn_fill(c), libc::EBADF);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_next_frame", |env| {
            let (mut p, mut n) = (null(), usize::MAX);
            fails!(sl_conn_next_frame(null_mut(), &mut p, &mut n), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_next_frame(c, null_mut(), &mut n), libc::EINVAL);
            fails!(sl_conn_next_frame(c, &mut p, null_mut()), libc::EINVAL);
            gives!(sl_conn_next_frame(c, &mut p, &mut n), 0);
            assert!(p.is_null() && n == 0);
            write_bytes(env.b, &FOUR_GIB_HEADER);
            write_bytes(env.b, &[0xab; 64]);
            assert!(unsafe { sl_conn_fill(c) } > 0);
            fails!(sl_conn_next_frame(c, &mut p, &mut n), libc::EMSGSIZE);
            unsafe { sl_conn_free(c) };
            env.drain();
        }),
        ("sl_conn_next_frames", |env| {
            let mut out: [sl_frame; 4] = unsafe { std::mem::zeroed() };
            fails!(sl_conn_next_frames(null_mut(), out.as_mut_ptr(), 4), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_next_frames(c, null_mut(), 4), libc::EINVAL);
            fails!(sl_conn_next_frames(c, out.as_mut_ptr(), usize::MAX), libc::EINVAL);
            gives!(sl_conn_next_frames(c, null_mut(), 0), 0);
            gives!(sl_conn_next_frames(c, out.as_mut_ptr(), 4), 0);
            write_bytes(env.b, &FOUR_GIB_HEADER);
            write_bytes(env.b, &[0xab; 64]);
            assert!(unsafe { sl_conn_fill(c) } > 0);
            fails!(sl_conn_next_frames(c, out.as_mut_ptr(), 4), libc::EMSGSIZE);
            unsafe { sl_conn_free(c) };
            env.drain();
        }),
        ("sl_conn_next_record", |env| {
            let (mut p, mut n) = (null(), usize::MAX);
            let nl = b"\n".as_ptr().cast();
            fails!(sl_conn_next_record(null_mut(), nl, 1, &mut p, &mut n), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_next_record(c, nl, 0, &mut p, &mut n), libc::EINVAL);
            fails!(sl_conn_next_record(c, null(), 1, &mut p, &mut n), libc::EINVAL);
            fails!(sl_conn_next_record(c, nl, usize::MAX, &mut p, &mut n), libc::EINVAL);
            fails!(sl_conn_next_record(c, nl, 1, null_mut(), &mut n), libc::EINVAL);
            fails!(sl_conn_next_record(c, nl, 1, &mut p, null_mut()), libc::EINVAL);
            gives!(sl_conn_next_record(c, nl, 1, &mut p, &mut n), 0);
            write_bytes(env.b, &[b'x'; 40]);
            assert!(unsafe { sl_conn_fill(c) } > 0);
            fails!(sl_conn_next_record(c, nl, 1, &mut p, &mut n), libc::EMSGSIZE);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_queue_frame", |env| {
            let buf = [7u8; 16];
            fails!(sl_conn_queue_frame(null_mut(), buf.as_ptr().cast(), 16), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_queue_frame(c, null(), 16), libc::EINVAL);
            fails!(sl_conn_queue_frame(c, buf.as_ptr().cast(), 1 << 32), libc::EMSGSIZE);
            fails!(sl_conn_queue_frame(c, buf.as_ptr().cast(), usize::MAX), libc::EINVAL);
            gives!(sl_conn_pending(c), 0);
            gives!(sl_conn_queue_frame(c, null(), 0), 4);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_queue_frames", |env| {
            let buf = [7u8; 16];
            let lens = [8usize, 8];
            fails!(sl_conn_queue_frames(null_mut(), buf.as_ptr().cast(), lens.as_ptr(), 2), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_queue_frames(c, buf.as_ptr().cast(), null(), 2), libc::EINVAL);
            fails!(sl_conn_queue_frames(c, null(), lens.as_ptr(), 2), libc::EINVAL);
            fails!(sl_conn_queue_frames(c, buf.as_ptr().cast(), lens.as_ptr(), usize::MAX), libc::EINVAL);
            fails!(sl_conn_queue_frames(c, buf.as_ptr().cast(), [1usize << 32].as_ptr(), 1), libc::EMSGSIZE);
            fails!(
                sl_conn_queue_frames(c, buf.as_ptr().cast(), [usize::MAX / 2, usize::MAX / 2].as_ptr(), 2),
                libc::EMSGSIZE
            );
            gives!(sl_conn_pending(c), 0);
            gives!(sl_conn_queue_frames(c, null(), null(), 0), 0);
            gives!(sl_conn_queue_frames(c, null(), [0usize; 2].as_ptr(), 2), 8);
            gives!(sl_conn_queue_frames(c, buf.as_ptr().cast(), lens.as_ptr(), 2), 8 + 24);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_reserve_frames", |env| {
            let lens = [8usize, 0];
            let mut slots = [null_mut::<c_void>(); 2];
            fails!(sl_conn_reserve_frames(null_mut(), lens.as_ptr(), 2, slots.as_mut_ptr()), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_reserve_frames(c, null(), 2, slots.as_mut_ptr()), libc::EINVAL);
            fails!(sl_conn_reserve_frames(c, lens.as_ptr(), 2, null_mut()), libc::EINVAL);
            fails!(sl_conn_reserve_frames(c, lens.as_ptr(), usize::MAX, slots.as_mut_ptr()), libc::EINVAL);
            fails!(sl_conn_reserve_frames(c, [1usize << 32].as_ptr(), 1, slots.as_mut_ptr()), libc::EMSGSIZE);
            assert!(slots.iter().all(|s| s.is_null()), "slots untouched on failure");
            gives!(sl_conn_pending(c), 0);
            gives!(sl_conn_reserve_frames(c, null(), 0, null_mut()), 0);
            gives!(sl_conn_reserve_frames(c, lens.as_ptr(), 2, slots.as_mut_ptr()), 16);
            assert!(slots.iter().all(|s| !s.is_null()));
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_queue", |env| {
            let buf = [7u8; 16];
            fails!(sl_conn_queue(null_mut(), buf.as_ptr().cast(), 16), libc::EINVAL);
            let c = conn(env.a, 16);
            fails!(sl_conn_queue(c, null(), 16), libc::EINVAL);
            fails!(sl_conn_queue(c, buf.as_ptr().cast(), usize::MAX), libc::EINVAL);
            gives!(sl_conn_queue(c, null(), 0), 0);
            unsafe { sl_conn_free(c) };
        }),
        ("sl_conn_flush", |env| {
            fails!(sl_conn_flush(null_mut()), libc::EINVAL);
            let c = conn_on_closed_fd(env);
            gives!(sl_conn_flush(c), 0); // nothing queued: no system call
            gives!(sl_conn_queue(c, b"x".as_ptr().cast(), 1), 1);
            fails!(sl_conn_flush(c), libc::EBADF);
            gives!(sl_conn_pending(c), 1);
            unsafe { sl_conn_free(c) };
        }),
    ]
}

fn net_rows() -> Vec<Row> {
    vec![
        ("sl_tcp_connect_start", |env| {
            let host = cs(b"127.0.0.1\0");
            fails!(sl_tcp_connect_start(null(), env.tcp_port), libc::EINVAL);
            fails!(sl_tcp_connect_start(cs(b"\0"), env.tcp_port), libc::EINVAL);
            fails!(sl_tcp_connect_start(cs(b"\xff\xfe\0"), env.tcp_port), libc::EINVAL);
            for port in [0, -1, 65536, i32::MIN, i32::MAX] {
                fails!(sl_tcp_connect_start(host, port), libc::EINVAL);
            }
            let fd = unsafe { sl_tcp_connect_start(host, env.tcp_port) };
            assert!(fd >= 0, "errno {}", errno_now());
            gives!(sl_connect_finish(fd, 1000), 0);
            let accepted = unsafe { sl_accept(env.tcp_listener, 0, 1000, null_mut(), 0) };
            assert!(accepted >= 0, "errno {}", errno_now());
            unsafe { libc::close(fd) };
            unsafe { libc::close(accepted) };
        }),
        ("sl_connect_finish", |env| {
            // Finishing a connect that was never started, on every kind of fd.
            let never = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            for timeout in [0, 200, -1] {
                fails!(sl_connect_finish(never.as_raw_fd(), timeout), libc::ENOTCONN);
                fails!(sl_connect_finish(env.tcp_listener, timeout), libc::EINVAL);
                fails!(sl_connect_finish(env.pipe_r, timeout), libc::ENOTSOCK);
            }
            fails!(sl_connect_finish(-1, 0), libc::EINVAL);
            fails!(sl_connect_finish(env.closed(), 0), libc::EBADF);
            fails!(sl_connect_finish(env.a, NEVER), libc::EINVAL);
            gives!(sl_connect_finish(env.high, 0), 0);
        }),
        ("sl_tcp_connect", |env| {
            let host = cs(b"127.0.0.1\0");
            fails!(sl_tcp_connect(null(), env.tcp_port, 100), libc::EINVAL);
            fails!(sl_tcp_connect(cs(b"\0"), env.tcp_port, 100), libc::EINVAL);
            fails!(sl_tcp_connect(cs(b"\xff\xfe\0"), env.tcp_port, 100), libc::EINVAL);
            for port in [0, -1, 65536, i32::MIN, i32::MAX] {
                fails!(sl_tcp_connect(host, port, 100), libc::EINVAL);
            }
            fails!(sl_tcp_connect(host, env.tcp_port, NEVER), libc::EINVAL);
            let fd = unsafe { sl_tcp_connect(host, env.tcp_port, 1000) };
            assert!(fd >= 0, "errno {}", errno_now());
            let accepted = unsafe { sl_accept(env.tcp_listener, 0, 1000, null_mut(), 0) };
            assert!(accepted >= 0, "errno {}", errno_now());
            unsafe { libc::close(fd) };
            unsafe { libc::close(accepted) };
        }),
        ("sl_tcp_listen", |_| {
            fails!(sl_tcp_listen(cs(b"127.0.0.1\0"), -1, 1), libc::EINVAL);
            fails!(sl_tcp_listen(cs(b"127.0.0.1\0"), 65536, 1), libc::EINVAL);
            fails!(sl_tcp_listen(cs(b"127.0.0.1\0"), 0, -1), libc::EINVAL);
            fails!(sl_tcp_listen(cs(b"\xff\0"), 0, 1), libc::EINVAL);
            let fd = unsafe { sl_tcp_listen(cs(b"127.0.0.1\0"), 0, i32::MAX) };
            assert!(fd >= 0, "a huge backlog is capped, not an error: errno {}", errno_now());
            unsafe { libc::close(fd) };
        }),
        ("sl_local_port", |env| {
            fails!(sl_local_port(-1), libc::EINVAL);
            fails!(sl_local_port(env.closed()), libc::EBADF);
            fails!(sl_local_port(env.pipe_r), libc::ENOTSOCK);
            fails!(sl_local_port(env.high), libc::EAFNOSUPPORT);
            gives!(sl_local_port(env.tcp_listener), env.tcp_port);
        }),
        ("sl_accept", |env| {
            let mut peer = [0 as libc::c_char; SL_ADDRSTRLEN];
            let p = peer.as_mut_ptr();
            fails!(sl_accept(-1, 0, 0, p, SL_ADDRSTRLEN), libc::EINVAL);
            fails!(sl_accept(env.closed(), 0, 0, p, SL_ADDRSTRLEN), libc::EBADF);
            fails!(sl_accept(env.pipe_r, 0, 0, p, SL_ADDRSTRLEN), libc::ENOTSOCK);
            fails!(sl_accept(env.a, 0, 0, p, SL_ADDRSTRLEN), libc::EINVAL); // not listening
            fails!(sl_accept(env.tcp_listener, 2, 0, p, SL_ADDRSTRLEN), libc::EINVAL);
            fails!(sl_accept(env.tcp_listener, -1, 0, p, SL_ADDRSTRLEN), libc::EINVAL);
            fails!(sl_accept(env.tcp_listener, 0, 0, p, SL_ADDRSTRLEN - 1), libc::EINVAL);
            fails!(sl_accept(env.tcp_listener, 0, 0, p, 0), libc::EINVAL);
            fails!(sl_accept(env.tcp_listener, 0, NEVER, p, SL_ADDRSTRLEN), libc::EINVAL);
            fails!(sl_accept(env.tcp_listener, 0, 0, null_mut(), 0), libc::EAGAIN);
            fails!(sl_accept(env.tcp_listener, 0, 0, null_mut(), usize::MAX), libc::EAGAIN);
        }),
        ("sl_resolve_strerror", |_| {
            for e in [i32::MIN, -1, 0, libc::ENOENT, libc::EHOSTDOWN, libc::EPROTO, 4096, i32::MAX] {
                let s = sl_resolve_strerror(e);
                assert!(!s.is_null(), "sl_resolve_strerror({e}) is NULL");
                assert!(!unsafe { CStr::from_ptr(s) }.to_bytes().is_empty());
            }
        }),
    ]
}

fn ready_rows() -> Vec<Row> {
    vec![
        ("sl_wait_readable", |env| {
            fails!(sl_wait_readable(-1, 0), libc::EINVAL);
            fails!(sl_wait_readable(env.closed(), 0), libc::EBADF);
            fails!(sl_wait_readable(env.a, NEVER), libc::EINVAL);
            fails!(sl_wait_readable(env.a, i32::MIN), libc::EINVAL);
            gives!(sl_wait_readable(env.high, 0), 0);
        }),
        ("sl_wait_writable", |env| {
            fails!(sl_wait_writable(-1, 0), libc::EINVAL);
            fails!(sl_wait_writable(env.closed(), 0), libc::EBADF);
            fails!(sl_wait_writable(env.a, NEVER), libc::EINVAL);
            gives!(sl_wait_writable(env.high, 0), 1);
        }),
        ("sl_select", |env| {
            let fds = [env.a, env.high];
            let mut out = [0; 2];
            let mut n = usize::MAX;
            let o = out.as_mut_ptr();
            let select = |r: *const c_int, nr: usize, t: i32, n: &mut usize| unsafe {
                sl_select(r, nr, null(), 0, null(), 0, t, o, n, null_mut(), null_mut(), null_mut(), null_mut())
            };
            fails!(select(null(), 1, 0, &mut n), libc::EINVAL);
            assert_eq!(n, 0, "counts set on every return");
            fails!(select(fds.as_ptr(), 2, NEVER, &mut n), libc::EINVAL);
            fails!(select(fds.as_ptr(), usize::MAX, 0, &mut n), libc::EINVAL);
            fails!(select(fds.as_ptr(), 1 << 31, 0, &mut n), libc::EINVAL);
            fails!(select([-1].as_ptr(), 1, 0, &mut n), libc::EINVAL);
            fails!(select([env.closed()].as_ptr(), 1, 0, &mut n), libc::EBADF);
            assert_eq!(n, 0);
            gives!(
                sl_select(
                    null(),
                    0,
                    null(),
                    0,
                    null(),
                    0,
                    0,
                    null_mut(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                    null_mut()
                ),
                0
            );
            gives!(
                sl_select(
                    null(),
                    0,
                    fds.as_ptr(),
                    2,
                    null(),
                    0,
                    0,
                    null_mut(),
                    null_mut(),
                    o,
                    &mut n,
                    null_mut(),
                    null_mut()
                ),
                2
            );
            assert_eq!(out, fds);
        }),
    ]
}

fn selector_rows() -> Vec<Row> {
    vec![
        ("sl_selector_new", |_| {
            let s = sl_selector_new();
            assert!(!s.is_null());
            unsafe { sl_selector_free(s) };
        }),
        ("sl_selector_free", |_| unsafe { sl_selector_free(null_mut()) }),
        ("sl_selector_register", |env| {
            fails!(sl_selector_register(null_mut(), env.a, SL_READ, null_mut()), libc::EINVAL);
            let s = sl_selector_new();
            fails!(sl_selector_register(s, -1, SL_READ, null_mut()), libc::EINVAL);
            fails!(sl_selector_register(s, env.closed(), SL_READ, null_mut()), libc::EBADF);
            for bad in [0, 4, SL_READ | 4, -1, i32::MIN, 0x100] {
                fails!(sl_selector_register(s, env.a, bad, null_mut()), libc::EINVAL);
            }
            let file = std::fs::File::open("/proc/self/status").unwrap();
            fails!(sl_selector_register(s, file.as_raw_fd(), SL_READ, null_mut()), libc::EPERM);
            gives!(sl_selector_register(s, env.high, SL_READ | SL_WRITE, null_mut()), 0);
            fails!(sl_selector_register(s, env.high, SL_READ, null_mut()), libc::EEXIST);
            unsafe { sl_selector_free(s) };
        }),
        ("sl_selector_modify", |env| {
            fails!(sl_selector_modify(null_mut(), env.a, SL_READ, null_mut()), libc::EINVAL);
            let s = sl_selector_new();
            fails!(sl_selector_modify(s, -1, SL_READ, null_mut()), libc::EINVAL);
            fails!(sl_selector_modify(s, env.a, SL_READ, null_mut()), libc::ENOENT);
            gives!(sl_selector_register(s, env.a, SL_READ, null_mut()), 0);
            for bad in [0, 4, SL_WRITE | 8, -1] {
                fails!(sl_selector_modify(s, env.a, bad, null_mut()), libc::EINVAL);
            }
            let mut events = 0;
            gives!(sl_selector_get(s, env.a, &mut events, null_mut()), 0);
            assert_eq!(events, SL_READ, "a failed modify leaves the registration");
            unsafe { sl_selector_free(s) };
        }),
        ("sl_selector_unregister", |env| {
            fails!(sl_selector_unregister(null_mut(), env.a), libc::EINVAL);
            let s = sl_selector_new();
            fails!(sl_selector_unregister(s, -1), libc::EINVAL);
            fails!(sl_selector_unregister(s, env.a), libc::ENOENT);
            fails!(sl_selector_unregister(s, env.closed()), libc::ENOENT);
            unsafe { sl_selector_free(s) };
        }),
        ("sl_selector_get", |env| {
            let (mut events, mut data) = (77, std::ptr::dangling_mut::<c_void>());
            fails!(sl_selector_get(null(), env.a, &mut events, &mut data), libc::EINVAL);
            let s = sl_selector_new();
            fails!(sl_selector_get(s, -1, &mut events, &mut data), libc::EINVAL);
            fails!(sl_selector_get(s, env.a, &mut events, &mut data), libc::ENOENT);
            assert_eq!((events, data), (77, std::ptr::dangling_mut::<c_void>()), "out-params untouched on error");
            gives!(sl_selector_register(s, env.a, SL_WRITE, 5 as *mut c_void), 0);
            gives!(sl_selector_get(s, env.a, null_mut(), null_mut()), 0);
            unsafe { sl_selector_free(s) };
        }),
        ("sl_selector_select", |env| {
            let mut out: [sl_event; 2] = std::array::from_fn(|_| sl_event { fd: -1, events: 0, data: null_mut() });
            fails!(sl_selector_select(null_mut(), out.as_mut_ptr(), 2, 0), libc::EINVAL);
            let s = sl_selector_new();
            fails!(sl_selector_select(s, null_mut(), 2, 0), libc::EINVAL);
            fails!(sl_selector_select(s, out.as_mut_ptr(), 0, 0), libc::EINVAL);
            fails!(sl_selector_select(s, out.as_mut_ptr(), 2, NEVER), libc::EINVAL);
            gives!(sl_selector_select(s, out.as_mut_ptr(), usize::MAX, 0), 0); // nothing registered
            gives!(sl_selector_register(s, env.high, SL_WRITE, null_mut()), 0);
            gives!(sl_selector_select(s, out.as_mut_ptr(), 1, 100), 1);
            assert_eq!((out[0].fd, out[0].events), (env.high, SL_WRITE));
            unsafe { sl_selector_free(s) };
        }),
        ("sl_selector_wakeup", |env| {
            fails!(sl_selector_wakeup(null_mut()), libc::EINVAL);
            let s = sl_selector_new();
            let mut out: [sl_event; 2] = std::array::from_fn(|_| sl_event { fd: -1, events: 0, data: null_mut() });
            gives!(sl_selector_register(s, env.high, SL_WRITE, null_mut()), 0);
            // Many wakeups before a select count as one; errno is left alone.
            for _ in 0..3 {
                unsafe { *libc::__errno_location() = libc::ERANGE };
                gives!(sl_selector_wakeup(s), 0);
                assert_eq!(errno_now(), libc::ERANGE, "errno untouched");
            }
            fails!(sl_selector_select(s, out.as_mut_ptr(), 2, -1), libc::EINTR);
            gives!(sl_selector_select(s, out.as_mut_ptr(), 2, 0), 1);
            unsafe { sl_selector_free(s) };
        }),
    ]
}

fn interrupt_rows() -> Vec<Row> {
    unsafe extern "C" fn always(_: *mut c_void) -> c_int {
        1
    }
    vec![("sl_set_interrupt_check", |env| {
        gives!(sl_set_interrupt_check(None, null_mut()), 0); // clearing nothing
        gives!(sl_set_interrupt_check(Some(always), null_mut()), 0);
        // No EINTR, no check: the calls behave as without one.
        let mut byte = [0u8; 1];
        fails!(sl_recv_exact(env.a, byte.as_mut_ptr().cast(), 1, 0, null_mut()), libc::EAGAIN);
        gives!(sl_set_interrupt_check(None, null_mut()), 0);
    })]
}

/// Fds that can never become ready for a call fail at once with the kernel's
/// errno, whatever the timeout: a pipe's other end, a socket that does not
/// listen, a datagram socket for accept.
fn wrong_kind_rows() -> Vec<Row> {
    vec![("wrong-direction and wrong-kind fds, timeout -1 and 200", |env| {
        let mut buf = [0u8; 8];
        for timeout in [-1, 0, 200] {
            fails!(sl_send_all(env.pipe_r, buf.as_ptr().cast(), 8, timeout, null_mut()), libc::EBADF);
            fails!(sl_send_frame(env.pipe_r, buf.as_ptr().cast(), 8, timeout, null_mut()), libc::EBADF);
            fails!(sl_recv_exact(env.pipe_w, buf.as_mut_ptr().cast(), 8, timeout, null_mut()), libc::EBADF);
            fails!(sl_recv_frame(env.pipe_w, buf.as_mut_ptr().cast(), 8, timeout, null_mut()), libc::EBADF);
            fails!(sl_send_frame_prefix(env.pipe_r, 2, 0, buf.as_ptr().cast(), 8, timeout, null_mut()), libc::EBADF);
            let mut p = sl_frame_progress { received: 0, declared: 0, prefix: [0; 8] };
            fails!(sl_recv_frame_resume(env.pipe_w, buf.as_mut_ptr().cast(), 8, timeout, &mut p), libc::EBADF);
            fails!(sl_recv_frame_prefix(env.pipe_w, 1, 1, buf.as_mut_ptr().cast(), 8, timeout, &mut p), libc::EBADF);
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            fails!(sl_accept(udp.as_raw_fd(), 0, timeout, null_mut(), 0), libc::EOPNOTSUPP);
            let tcp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            fails!(sl_accept(tcp.as_raw_fd(), 0, timeout, null_mut(), 0), libc::EINVAL);
            fails!(sl_accept(env.pipe_r, 0, timeout, null_mut(), 0), libc::ENOTSOCK);
            let iov = [libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: 8 }];
            fails!(sl_send_allv(env.pipe_r, iov.as_ptr().cast(), 1, timeout, null_mut()), libc::EBADF);
            let connected_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            connected_udp.connect(udp.local_addr().unwrap()).unwrap();
            fails!(sl_close_graceful(connected_udp.into_raw_fd(), timeout), libc::EOPNOTSUPP);
        }
        for (fd, write) in [(env.pipe_w, false), (env.pipe_r, true)] {
            let c = conn(fd, 16);
            if write {
                gives!(sl_conn_queue(c, buf.as_ptr().cast(), 8), 8);
                fails!(sl_conn_flush(c), libc::EBADF);
                fails!(sl_conn_write_frame(c, buf.as_ptr().cast(), 8, -1), libc::EBADF);
            } else {
                fails!(sl_conn_fill(c), libc::EBADF);
                fails!(sl_conn_read_exact(c, buf.as_mut_ptr().cast(), 8, -1), libc::EBADF);
                fails!(sl_conn_read_frame(c, buf.as_mut_ptr().cast(), 8, 200), libc::EBADF);
                fails!(sl_conn_read_until(c, b"\n".as_ptr().cast(), 1, buf.as_mut_ptr().cast(), 8, -1), libc::EBADF);
            }
            unsafe { sl_conn_free(c) };
        }
    })]
}

fn sockopt_rows() -> Vec<Row> {
    vec![
        ("sl_set_nonblocking", |env| {
            fails!(sl_set_nonblocking(-1, 1), libc::EINVAL);
            fails!(sl_set_nonblocking(env.closed(), 1), libc::EBADF);
            gives!(sl_set_nonblocking(env.pipe_w, i32::MIN), 0);
            gives!(sl_set_nonblocking(env.pipe_w, 0), 0);
        }),
        ("sl_set_nodelay", |env| {
            fails!(sl_set_nodelay(-1, 1), libc::EINVAL);
            fails!(sl_set_nodelay(env.closed(), 1), libc::EBADF);
            fails!(sl_set_nodelay(env.pipe_r, 1), libc::ENOTSOCK);
            fails!(sl_set_nodelay(env.high, 1), libc::EOPNOTSUPP);
        }),
        ("sl_set_reuseaddr", |env| {
            fails!(sl_set_reuseaddr(-1, 1), libc::EINVAL);
            fails!(sl_set_reuseaddr(env.closed(), 1), libc::EBADF);
            fails!(sl_set_reuseaddr(env.pipe_r, 1), libc::ENOTSOCK);
        }),
        ("sl_set_keepalive", |env| {
            let tcp = env.tcp_listener;
            fails!(sl_set_keepalive(-1, 1, 0, 0, 0), libc::EINVAL);
            fails!(sl_set_keepalive(env.closed(), 1, 0, 0, 0), libc::EBADF);
            fails!(sl_set_keepalive(env.pipe_r, 1, 0, 0, 0), libc::ENOTSOCK);
            for (i, v, c) in [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (i32::MAX, 0, 0), (0, 40000, 0), (0, 0, 128)] {
                fails!(sl_set_keepalive(tcp, 1, i, v, c), libc::EINVAL);
            }
            fails!(sl_set_keepalive(tcp, 0, -1, 0, 0), libc::EINVAL);
            fails!(sl_set_keepalive(env.high, 1, 10, 0, 0), libc::EOPNOTSUPP);
        }),
        ("sl_set_buffer_sizes", |env| {
            fails!(sl_set_buffer_sizes(-1, 0, 0), libc::EINVAL);
            fails!(sl_set_buffer_sizes(env.closed(), 4096, 0), libc::EBADF);
            fails!(sl_set_buffer_sizes(env.pipe_r, 4096, 0), libc::ENOTSOCK);
            fails!(sl_set_buffer_sizes(env.tcp_listener, -1, 0), libc::EINVAL);
            fails!(sl_set_buffer_sizes(env.tcp_listener, 0, i32::MIN), libc::EINVAL);
            gives!(sl_set_buffer_sizes(env.tcp_listener, i32::MAX, 0), 0); // capped by the kernel
        }),
        ("sl_get_buffer_sizes", |env| {
            let (mut s, mut r) = (-7, -7);
            fails!(sl_get_buffer_sizes(-1, &mut s, &mut r), libc::EINVAL);
            fails!(sl_get_buffer_sizes(env.closed(), &mut s, &mut r), libc::EBADF);
            fails!(sl_get_buffer_sizes(env.pipe_r, &mut s, &mut r), libc::ENOTSOCK);
            assert_eq!((s, r), (-7, -7), "outputs untouched on error");
            gives!(sl_get_buffer_sizes(env.high, null_mut(), null_mut()), 0);
        }),
        ("sl_close_graceful", |env| {
            fails!(sl_close_graceful(-1, 0), libc::EINVAL);
            fails!(sl_close_graceful(env.closed(), 0), libc::EBADF);
            fails!(sl_close_graceful(env.a, NEVER), libc::EINVAL);
            assert!(unsafe { libc::fcntl(env.a, libc::F_GETFD) } >= 0, "EINVAL leaves the fd open");
            // Not a socket: ENOTSOCK, and the fd is closed (it is a dup here).
            let dup = unsafe { libc::fcntl(env.pipe_r, libc::F_DUPFD_CLOEXEC, 0) };
            fails!(sl_close_graceful(dup, 0), libc::ENOTSOCK);
            assert_eq!(unsafe { libc::fcntl(dup, libc::F_GETFD) }, -1, "closed on ENOTSOCK");
        }),
    ]
}

fn unix_rows() -> Vec<Row> {
    vec![
        ("sl_unix_listen", |_| {
            fails!(sl_unix_listen(null(), 1), libc::EINVAL);
            fails!(sl_unix_listen(cs(b"\0"), 1), libc::EINVAL);
            fails!(sl_unix_listen(cs(b"@\0"), 1), libc::EINVAL);
            fails!(sl_unix_listen(cs(b"@sockloop-hostile\0"), -1), libc::EINVAL);
            let long = std::ffi::CString::new("/tmp/".to_string() + &"x".repeat(200)).unwrap();
            fails!(sl_unix_listen(long.as_ptr(), 1), libc::ENAMETOOLONG);
            let long_abstract = std::ffi::CString::new("@".to_string() + &"x".repeat(108)).unwrap();
            fails!(sl_unix_listen(long_abstract.as_ptr(), 1), libc::ENAMETOOLONG);
        }),
        ("sl_unix_connect_start", |_| {
            fails!(sl_unix_connect_start(null()), libc::EINVAL);
            fails!(sl_unix_connect_start(cs(b"\0")), libc::EINVAL);
            fails!(sl_unix_connect_start(cs(b"@\0")), libc::EINVAL);
            let long = std::ffi::CString::new("/tmp/".to_string() + &"x".repeat(200)).unwrap();
            fails!(sl_unix_connect_start(long.as_ptr()), libc::ENAMETOOLONG);
            fails!(sl_unix_connect_start(cs(b"/nonexistent-sockloop/socket\0")), libc::ENOENT);
            fails!(sl_unix_connect_start(cs(b"@sockloop-hostile-none\0")), libc::ECONNREFUSED);
        }),
        ("sl_unix_connect", |_| {
            fails!(sl_unix_connect(null(), 100), libc::EINVAL);
            fails!(sl_unix_connect(cs(b"\0"), 100), libc::EINVAL);
            fails!(sl_unix_connect(cs(b"@\0"), 100), libc::EINVAL);
            fails!(sl_unix_connect(cs(b"@sockloop-hostile-none\0"), NEVER), libc::EINVAL);
            let long = std::ffi::CString::new("/tmp/".to_string() + &"x".repeat(200)).unwrap();
            fails!(sl_unix_connect(long.as_ptr(), 100), libc::ENAMETOOLONG);
            fails!(sl_unix_connect(cs(b"/nonexistent-sockloop/socket\0"), 100), libc::ENOENT);
            fails!(sl_unix_connect(cs(b"@sockloop-hostile-none\0"), 100), libc::ECONNREFUSED);
        }),
    ]
}

/// Nothing to pass in: the rows check the calls cannot fail, keep `errno`,
/// and return the same value from any thread.
fn version_rows() -> Vec<Row> {
    vec![
        ("sl_version", |_| {
            unsafe { *libc::__errno_location() = libc::EBADMSG };
            let here = sl_version();
            assert_eq!(errno_now(), libc::EBADMSG, "sl_version changed errno");
            assert_eq!(std::thread::spawn(|| sl_version()).join().unwrap(), here);
            assert!(here != 0, "sl_version returned 0 (the failure value)");
        }),
        ("sl_version_string", |_| {
            unsafe { *libc::__errno_location() = libc::EBADMSG };
            let here = sl_version_string();
            assert_eq!(errno_now(), libc::EBADMSG, "sl_version_string changed errno");
            assert!(!here.is_null());
            let there = std::thread::spawn(|| sl_version_string() as usize).join().unwrap();
            assert_eq!(there, here as usize, "not one static string");
            assert_eq!(unsafe { CStr::from_ptr(here) }.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        }),
    ]
}

fn table() -> Vec<Row> {
    [
        byteorder_rows(),
        transfer_rows(),
        frame_rows(),
        conn_rows(),
        net_rows(),
        ready_rows(),
        selector_rows(),
        interrupt_rows(),
        sockopt_rows(),
        unix_rows(),
        version_rows(),
    ]
    .concat()
}

/// The functions `include/sockloop.h` declares: each `sl_` word before a `(`
/// on a declaration line (not in a comment).
fn header_functions() -> BTreeSet<String> {
    include_str!("../include/sockloop.h")
        .lines()
        .filter(|l| !l.trim_start().starts_with('*') && !l.trim_start().starts_with("/*") && l.contains('('))
        .filter_map(|l| {
            let before = &l[..l.find('(').unwrap()];
            let word = before.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next()?;
            word.starts_with("sl_").then(|| word.to_string())
        })
        .collect()
}

#[test]
fn every_function_in_the_header_has_a_row() {
    let declared = header_functions();
    assert!(declared.len() >= 60, "header parser found only {} functions", declared.len());
    let rows: BTreeSet<String> = table().iter().map(|(n, _)| n.to_string()).collect();
    let missing: Vec<_> = declared.difference(&rows).collect();
    assert!(missing.is_empty(), "exported functions without a hostile-input row: {missing:?}");
    let stale: Vec<_> = rows.difference(&declared).collect();
    assert!(stale.is_empty(), "rows for functions the header does not declare: {stale:?}");
}

/// Every row in turn (one test: rows share fds and the allocation high-water
/// mark). Fails listing every row that failed, not just the first.
#[test]
fn every_function_returns_its_documented_errno_on_hostile_input() {
    let env = Env::new();
    let mut failed = Vec::new();
    for (name, row) in [table(), wrong_kind_rows()].concat() {
        LARGEST.store(0, Ordering::Relaxed);
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| row(&env))) {
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            failed.push(format!("{name}: {msg}"));
        }
        let largest = LARGEST.load(Ordering::Relaxed);
        if largest > HUGE {
            failed.push(format!("{name}: allocated {largest} bytes in one request"));
        }
        env.drain();
    }
    assert!(failed.is_empty(), "{} rows failed:\n{}", failed.len(), failed.join("\n"));
}

//! `extern "C"` shims for the transfer loops in [`crate::io`].

use std::io::IoSlice;
use std::os::raw::{c_int, c_void};

use super::{borrow_fd, check, ffi_guard, input, output, DoneOut, Errno};
use crate::deadline::Deadline;
use crate::io;

/// Sends all `len` bytes of `buf` on `fd`, looping over partial sends.
///
/// Works on sockets (with `MSG_NOSIGNAL`: `SIGPIPE` is never raised) and on pipes
/// and other stream fds, blocking or non-blocking; the fd's flags are never
/// changed. `EINTR` is retried (see `sl_set_interrupt_check`). On a
/// non-blocking fd, `EAGAIN` waits for
/// readiness within the time left.
///
/// Timeout: `timeout_ms` is the budget for the whole call: `-1` waits forever,
/// `0` makes one attempt without waiting, `> 0` is a deadline on the monotonic
/// clock taken at entry. A bounded call on a blocking socket uses `MSG_DONTWAIT`
/// per send instead of touching `O_NONBLOCK`.
///
/// `*sent` (may be NULL) is set on every return to the bytes that were sent: after
/// `ETIMEDOUT` or `EAGAIN`, resume at `buf + *sent`; nothing is lost or repeated.
///
/// Returns `len` on success; `len == 0` returns 0 without a system call.
/// Errors (`-1`, errno):
/// - `ETIMEDOUT`: the timeout ran out first.
/// - `EAGAIN`: `timeout_ms == 0` and the fd would block.
/// - `EPIPE` or `ECONNRESET`: the peer is gone.
/// - `EINVAL`: `buf` is NULL with `len > 0`, `len > SSIZE_MAX`, `fd < 0`, or
///   `timeout_ms < -1`.
/// - `EBADF`: `fd` is not open, or open for reading only (a pipe's read
///   end): at once, whatever the timeout; any other error of send(2)/write(2).
/// - `EINTR`: the thread's interrupt check ended the call after a signal
///   (`sl_set_interrupt_check`); `*sent` is exact, resume as after
///   `ETIMEDOUT`. Without a check, signals never end the call.
#[no_mangle]
pub unsafe extern "C" fn sl_send_all(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    timeout_ms: c_int,
    sent: *mut usize,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `sent` is NULL or a writable `size_t` (the C contract).
        let mut done = unsafe { DoneOut::new(sent) };
        // SAFETY: `buf` is NULL or readable for `len` bytes (the C contract).
        let bytes = unsafe { input(buf.cast::<u8>(), len) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        // SAFETY: the caller keeps `fd` open for the call (the C contract).
        let fd = unsafe { borrow_fd(fd) }?;
        if len == 0 {
            return Ok(0);
        }
        io::send_all(fd, bytes, deadline, &mut done.count)?;
        Ok(len as libc::ssize_t)
    })
}

/// Receives exactly `len` bytes from `fd` into `buf`, looping over short reads.
///
/// Works on sockets, pipes and other stream fds, blocking or non-blocking; the
/// fd's flags are never changed. `EINTR` is retried (see
/// `sl_set_interrupt_check`). A message that ends early
/// is an error, never a short success.
///
/// Timeout: as `sl_send_all`: `-1` forever, `0` one attempt, `> 0` the budget
/// for the whole call, so a peer trickling bytes cannot stretch it.
///
/// `*received` (may be NULL) is set on every return to the bytes stored at the
/// start of `buf`: after `ETIMEDOUT` or `EAGAIN`, call again with
/// `buf + *received` and `len - *received`; nothing is lost or repeated.
///
/// Returns `len` on success; `len == 0` returns 0 without a system call.
/// Errors (`-1`, errno):
/// - `EPIPE`: end of stream before `len` bytes (`*received` says how many came,
///   0 when the stream ended before the first byte).
/// - `ETIMEDOUT`, `EAGAIN`, `EINVAL`, `EINTR`: as `sl_send_all`;
///   `ECONNRESET` and any other error of recv(2)/read(2).
/// - `EBADF`: `fd` is not open, or open for writing only (a pipe's write
///   end): at once, whatever the timeout.
#[no_mangle]
pub unsafe extern "C" fn sl_recv_exact(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    timeout_ms: c_int,
    received: *mut usize,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `received` is NULL or a writable `size_t` (the C contract).
        let mut done = unsafe { DoneOut::new(received) };
        // SAFETY: `buf` is NULL or writable for `len` bytes (the C contract).
        let bytes = unsafe { output(buf.cast::<u8>(), len) }?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        // SAFETY: the caller keeps `fd` open for the call (the C contract).
        let fd = unsafe { borrow_fd(fd) }?;
        if len == 0 {
            return Ok(0);
        }
        io::recv_exact(fd, bytes, deadline, &mut done.count)?;
        Ok(len as libc::ssize_t)
    })
}

/// Sends every byte of the `iovcnt` buffers in `iov`, in order, one
/// `sendmsg(2)` (or `writev(2)`) per attempt; the caller's array is never
/// modified.
///
/// Timeout, `*sent` and the errors are those of `sl_send_all`, with `*sent`
/// counting bytes across all buffers. Returns the total length on success
/// (`iovcnt == 0` or all-empty buffers return 0 without a system call).
/// Additional `EINVAL` cases: `iov` NULL with `iovcnt > 0`, `iovcnt < 0` or
/// `> IOV_MAX`, an entry with a NULL base and a non-zero length, or a total
/// over `SSIZE_MAX`.
#[no_mangle]
pub unsafe extern "C" fn sl_send_allv(
    fd: c_int,
    iov: *const libc::iovec,
    iovcnt: c_int,
    timeout_ms: c_int,
    sent: *mut usize,
) -> libc::ssize_t {
    ffi_guard!({
        // SAFETY: `sent` is NULL or a writable `size_t` (the C contract).
        let mut done = unsafe { DoneOut::new(sent) };
        check((0..=iov_max()).contains(&iovcnt))?;
        // SAFETY: `iov` is NULL or readable for `iovcnt` elements (the C contract).
        let entries = unsafe { input(iov, iovcnt as usize) }?;
        let mut total: usize = 0;
        for entry in entries {
            // SAFETY: each entry's `iov_base` is NULL or readable for its `iov_len` bytes (the C contract).
            unsafe { input(entry.iov_base.cast::<u8>().cast_const(), entry.iov_len) }?;
            total = total.checked_add(entry.iov_len).ok_or(Errno(libc::EINVAL))?;
        }
        check(total <= isize::MAX as usize)?;
        let deadline = Deadline::from_timeout_ms(timeout_ms)?;
        // SAFETY: the caller keeps `fd` open for the call (the C contract).
        let fd = unsafe { borrow_fd(fd) }?;
        if total == 0 {
            return Ok(0);
        }
        // SAFETY: IoSlice is guaranteed ABI-compatible with iovec on Unix, and
        // every entry was checked above.
        let slices = unsafe { std::slice::from_raw_parts(entries.as_ptr().cast::<IoSlice<'_>>(), entries.len()) };
        io::send_all_vectored(fd, slices, deadline, &mut done.count)?;
        Ok(total as libc::ssize_t)
    })
}

/// The most entries one writev(2) takes: `UIO_MAXIOV` on Linux (a constant),
/// `sysconf(_SC_IOV_MAX)` elsewhere (1024 if it does not say).
fn iov_max() -> c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return libc::UIO_MAXIOV;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_IOV_MAX) } {
        n if n > 0 => n.min(c_int::MAX as libc::c_long) as c_int,
        _ => 1024,
    }
}

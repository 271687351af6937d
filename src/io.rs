//! Transfer loops: send all of a buffer, receive exactly a length.
//!
//! `send` and `recv` move *some* bytes; these loops move all of them. They retry
//! `EINTR`, never raise `SIGPIPE` (`MSG_NOSIGNAL`), work on blocking and
//! non-blocking fds alike without changing the fd's flags, and fall back to
//! `read`/`write` for pipes and other stream fds. On `EAGAIN` they wait for
//! readiness within the time left; they never poll before the first attempt on a
//! socket, and they allocate nothing.
//!
//! Progress goes to a `done` counter that is correct on every return, so after
//! `ETIMEDOUT` a caller resumes at `buf[done..]` with nothing lost or repeated.
//!
//! ```
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use sockloop::deadline::Deadline;
//! use sockloop::io::{recv_exact, send_all};
//!
//! let (a, b) = UnixStream::pair()?;
//! let mut done = 0;
//! send_all(a.as_fd(), b"twelve bytes", Deadline::Never, &mut done)?;
//! let mut buf = [0u8; 20];
//! let err = recv_exact(b.as_fd(), &mut buf, Deadline::from_timeout_ms(50)?, &mut done).unwrap_err();
//! assert_eq!(err.raw_os_error(), Some(libc::ETIMEDOUT));
//! assert_eq!(&buf[..done], b"twelve bytes"); // nothing lost: resume at buf[done..]
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd};

use socket2::SockRef;

use crate::deadline::Deadline;
use crate::interrupt;
use crate::ready::{self, Interest};
use crate::sys::{cvt, errno};

/// How the next system call may be made.
#[derive(Clone, Copy)]
enum Call {
    /// A socket: `send`/`recv` family with these flags.
    Socket { flags: libc::c_int },
    /// Any other stream fd: `read`/`write`, at most `max_len` bytes so that a
    /// blocking fd cannot block past the deadline once poll said it was ready.
    Stream { max_len: usize },
}

/// The one loop behind every transfer: makes `step` move bytes until `total`
/// have moved, handling `EINTR`, `EAGAIN` (wait within the deadline), end of
/// stream (`EPIPE`) and the switch from socket to stream calls on `ENOTSOCK`.
///
/// Inlined into each transfer, with every error path out of line in
/// [`after_error`]: a call that moves its bytes in one system call (a
/// 64-byte message) then runs a few instructions around that call, not a
/// second function frame.
#[inline(always)]
fn drive(
    fd: BorrowedFd<'_>,
    interest: Interest,
    total: usize,
    deadline: Deadline,
    done: &mut usize,
    mut step: impl FnMut(Call, usize) -> io::Result<usize>,
) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // A bounded call never lets the kernel block: MSG_DONTWAIT per call, not
    // O_NONBLOCK on the fd, which belongs to the caller. Nor does a call under
    // an interrupt check: SA_RESTART would restart a blocked recv/send without
    // an EINTR to check, where the wait in poll always sees the signal.
    let never_block = deadline.is_bounded() || interrupt::is_set();
    let flags = libc::MSG_NOSIGNAL | if never_block { libc::MSG_DONTWAIT } else { 0 };
    let mut call = Call::Socket { flags };
    // Only a blocking non-socket fd under a bounded deadline must poll first.
    let mut poll_first = false;
    while *done < total {
        if poll_first && !ready::wait(raw, interest, deadline)? {
            return Err(deadline.expired());
        }
        match step(call, *done) {
            Ok(0) => return Err(errno(libc::EPIPE)),
            Ok(n) => *done += n,
            Err(err) => after_error(err, raw, interest, deadline, never_block, &mut call, &mut poll_first)?,
        }
    }
    Ok(())
}

/// What [`drive`] does after a failed step: `Ok` to try again (after
/// `EINTR`, after readiness, or with stream calls after `ENOTSOCK`), else the
/// error that ends the transfer.
#[cold]
#[inline(never)]
fn after_error(
    err: io::Error,
    raw: libc::c_int,
    interest: Interest,
    deadline: Deadline,
    never_block: bool,
    call: &mut Call,
    poll_first: &mut bool,
) -> io::Result<()> {
    match err.raw_os_error() {
        Some(libc::EINTR) => interrupt::after_eintr(),
        // One attempt means one: a poll(0) here would only cost a system
        // call per EAGAIN in every event loop.
        Some(libc::EAGAIN) if deadline == Deadline::Immediate => Err(deadline.expired()),
        Some(libc::EAGAIN) => match ready::wait(raw, interest, deadline)? {
            true => Ok(()),
            false => Err(deadline.expired()),
        },
        Some(libc::ENOTSOCK) if matches!(call, Call::Socket { .. }) => {
            let blocking = stream_flags(raw, interest)? & libc::O_NONBLOCK == 0;
            *poll_first = blocking && never_block;
            let max_len = if *poll_first { libc::PIPE_BUF } else { usize::MAX };
            *call = Call::Stream { max_len };
            Ok(())
        }
        _ => Err(err),
    }
}

/// The status flags of a non-socket fd about to be read or written; `EBADF`
/// when it was opened for the other direction only (a pipe's other end),
/// which no wait could ever make ready: the kernel's answer at once, whatever
/// the timeout.
fn stream_flags(fd: libc::c_int, interest: Interest) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL takes no argument and reads only the fd's flags.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let wrong_way = match interest {
        Interest::Readable => libc::O_WRONLY,
        Interest::Writable => libc::O_RDONLY,
    };
    if flags & libc::O_ACCMODE == wrong_way {
        return Err(errno(libc::EBADF));
    }
    Ok(flags)
}

/// [`cvt`] for a byte count.
#[inline]
fn cvt_len(n: isize) -> io::Result<usize> {
    cvt(n).map(|n| n as usize)
}

/// Runs a `write`/`writev` on a non-socket fd without raising `SIGPIPE`.
///
/// Sockets have `MSG_NOSIGNAL`; pipes have nothing like it, so the signal is
/// blocked in this thread for the call and, if the write raised it, taken back
/// with `sigtimedwait` (unless it was already pending before: that one belongs
/// to someone else).
fn without_sigpipe(write: impl FnOnce() -> isize) -> io::Result<usize> {
    // SAFETY: plain signal-mask calls on local, initialised sigset_t values.
    unsafe {
        let mut pipe_only: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe_only);
        libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, &mut old);
        let result = cvt_len(write());
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) && !was_pending {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                while libc::sigtimedwait(&pipe_only, std::ptr::null_mut(), &zero) < 0
                    && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
                {}
            }
            // No sigtimedwait (macOS): sigwait returns at once for a signal
            // that sigpending shows, and the write's SIGPIPE is this thread's.
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            {
                libc::sigpending(&mut pending);
                if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                    let mut taken: libc::c_int = 0;
                    libc::sigwait(&pipe_only, &mut taken);
                }
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        result
    }
}

// The socket calls below go to libc directly rather than through socket2's
// `SockRef`: one fewer layer of non-inlined calls (about 40 instructions per
// call), which a 64-byte ping-pong pays twice per round trip.
#[inline]
fn send_some(fd: BorrowedFd<'_>, call: Call, buf: &[u8]) -> io::Result<usize> {
    match call {
        // SAFETY: buf is valid for reads of buf.len() bytes.
        Call::Socket { flags } => cvt_len(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) }),
        Call::Stream { max_len } => {
            let len = buf.len().min(max_len);
            // SAFETY: buf is valid for len bytes.
            without_sigpipe(|| unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), len) })
        }
    }
}

/// Sends all of `buf`. On every return `*done` holds the bytes sent.
///
/// Errors: `ETIMEDOUT` (deadline), `EAGAIN` (`Deadline::Immediate` and the fd
/// would block), `EPIPE`/`ECONNRESET` (peer gone), or the system call's own error.
#[inline]
pub fn send_all(fd: BorrowedFd<'_>, buf: &[u8], deadline: Deadline, done: &mut usize) -> io::Result<()> {
    *done = 0;
    drive(fd, Interest::Writable, buf.len(), deadline, done, |call, at| send_some(fd, call, &buf[at..]))
}

/// Receives exactly `buf.len()` bytes. On every return `*done` holds the bytes
/// received into `buf[..*done]`.
///
/// Errors as [`send_all`]; end of stream before `buf` is full is `EPIPE`.
#[inline]
pub fn recv_exact(fd: BorrowedFd<'_>, buf: &mut [u8], deadline: Deadline, done: &mut usize) -> io::Result<()> {
    *done = 0;
    let total = buf.len();
    drive(fd, Interest::Readable, total, deadline, done, |call, at| recv_some_now(fd, call, &mut buf[at..]))
}

/// One `recv`/`read` into `buf`: the step shared by [`recv_exact`] and [`recv_some`].
#[inline]
fn recv_some_now(fd: BorrowedFd<'_>, call: Call, buf: &mut [u8]) -> io::Result<usize> {
    match call {
        Call::Socket { flags } => {
            let flags = flags & !libc::MSG_NOSIGNAL;
            // SAFETY: buf is valid for writes of buf.len() bytes.
            cvt_len(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) })
        }
        Call::Stream { .. } => {
            // SAFETY: buf is valid for writes of buf.len() bytes.
            cvt_len(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
        }
    }
}

/// Receives whatever is available, at least one byte and at most `buf.len()`,
/// waiting within the deadline: the read of a buffered reader, which must not
/// ask for more than has arrived. Returns `Ok(0)` at end of stream (distinct
/// from `EPIPE`); `buf` must not be empty.
///
/// Errors as [`recv_exact`] (`EAGAIN` for `Deadline::Immediate`).
pub fn recv_some(fd: BorrowedFd<'_>, buf: &mut [u8], deadline: Deadline) -> io::Result<usize> {
    debug_assert!(!buf.is_empty());
    let (mut done, mut end_of_stream) = (0, false);
    let result = drive(fd, Interest::Readable, 1, deadline, &mut done, |call, _| {
        let n = recv_some_now(fd, call, buf)?;
        end_of_stream = n == 0;
        Ok(n)
    });
    match result {
        Err(_) if end_of_stream => Ok(0),
        Err(err) => Err(err),
        Ok(()) => Ok(done),
    }
}

/// Sends every byte of `bufs` in order, with one `sendmsg`/`writev` per attempt.
/// On every return `*done` holds the bytes sent, counted across all buffers.
///
/// When a write ends inside one buffer, the rest of that buffer goes alone in the
/// next call and the vectored calls resume after it: the caller's array is never
/// modified or copied.
pub fn send_all_vectored(
    fd: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    deadline: Deadline,
    done: &mut usize,
) -> io::Result<()> {
    *done = 0;
    let total = bufs.iter().map(|b| b.len()).sum();
    // Cursor: bufs[index] starts at byte `start` of the whole message.
    let (mut index, mut start) = (0usize, 0usize);
    drive(fd, Interest::Writable, total, deadline, done, |call, at| {
        while at >= start + bufs[index].len() {
            start += bufs[index].len();
            index += 1;
        }
        let offset = at - start;
        if offset > 0 {
            return send_some(fd, call, &bufs[index][offset..]);
        }
        let rest = &bufs[index..];
        match call {
            Call::Socket { flags } => SockRef::from(&fd).send_vectored_with_flags(rest, flags),
            Call::Stream { max_len } if max_len < usize::MAX => send_some(fd, call, &rest[0]),
            Call::Stream { .. } => {
                let count = rest.len().min(libc::c_int::MAX as usize) as libc::c_int;
                // SAFETY: IoSlice is ABI-compatible with iovec on Unix.
                without_sigpipe(|| unsafe { libc::writev(fd.as_raw_fd(), rest.as_ptr().cast(), count) })
            }
        }
    })
}

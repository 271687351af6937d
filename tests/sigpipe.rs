//! SIGPIPE is never raised: with SIGPIPE at its default action (which kills the
//! process), sending to a closed peer must fail with EPIPE instead. Rust's runtime
//! ignores SIGPIPE, so the test restores the default first; this file is its own
//! test binary so that no other test runs with that disposition.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use sockloop::ffi::io::{sl_send_all, sl_send_allv};

#[test]
fn sending_to_a_closed_peer_is_epipe_and_the_process_lives() {
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    let data = [1u8; 1024];
    let mut done = 9usize;
    let rc = unsafe { sl_send_all(a.as_raw_fd(), data.as_ptr().cast(), data.len(), -1, &mut done) };
    assert_eq!((rc, std::io::Error::last_os_error().raw_os_error(), done), (-1, Some(libc::EPIPE), 0));
    let iov = [libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() }];
    let rc = unsafe { sl_send_allv(a.as_raw_fd(), iov.as_ptr(), 1, 100, &mut done) };
    assert_eq!((rc, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EPIPE)));

    // Pipes have no MSG_NOSIGNAL: the library must keep the signal away itself.
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    let rc = unsafe { sl_send_all(fds[1], data.as_ptr().cast(), data.len(), -1, &mut done) };
    assert_eq!((rc, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EPIPE)));
    let rc = unsafe { sl_send_allv(fds[1], iov.as_ptr(), 1, 100, &mut done) };
    assert_eq!((rc, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EPIPE)));
    // Nothing left pending to kill the process later.
    let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sigpending(&mut pending) };
    assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 0);
    unsafe { libc::close(fds[1]) };
}

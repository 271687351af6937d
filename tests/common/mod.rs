//! Helpers shared by the integration tests: real fds, errno, fd flags.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

/// Runs a C call that reports its progress through a `size_t *done`:
/// `(return value, *done, errno when it failed)`. `*done` starts at
/// `usize::MAX`, so a call that forgot to set it shows.
pub fn with_done(call: impl FnOnce(*mut usize) -> isize) -> (isize, usize, i32) {
    let mut done = usize::MAX;
    let rc = call(&mut done);
    (rc, done, if rc < 0 { errno() } else { 0 })
}

/// A Rust string as a C string.
pub fn c(text: &str) -> std::ffi::CString {
    std::ffi::CString::new(text).unwrap()
}

/// Turns a C return value into the fd it owns, or the errno.
pub fn owned(rc: i32) -> Result<OwnedFd, i32> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(unsafe { OwnedFd::from_raw_fd(rc) })
    }
}

/// A connected pair of Unix stream sockets.
pub fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    assert_eq!(rc, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A connected pair of TCP sockets over 127.0.0.1.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Raises this process's open-file limit to `want` (or the hard limit).
pub fn raise_nofile_limit(want: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_cur < want {
        lim.rlim_cur = want.min(lim.rlim_max);
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    }
}

/// A pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

pub fn fd_flags(fd: RawFd) -> i32 {
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0);
    flags
}

pub fn set_nonblocking(fd: RawFd) {
    let flags = fd_flags(fd);
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) }, 0);
}

pub fn set_buffer_sizes(fd: &impl AsRawFd, bytes: i32) {
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, opt, (&bytes as *const i32).cast(), 4) };
        assert_eq!(rc, 0);
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A seed from the clock, printed so that a failing run can be repeated with
/// `SL_TEST_SEED=<n>`.
pub fn seed() -> u64 {
    let seed = std::env::var("SL_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("seed: SL_TEST_SEED={seed}");
    seed
}

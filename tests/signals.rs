//! A SIGALRM storm (handler without SA_RESTART, every 100 µs) during large
//! transfers: every byte arrives and EINTR never surfaces. Its own test binary,
//! since it installs a process-wide signal handler.

mod common;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use sockloop::ffi::io::{sl_recv_exact, sl_send_all, sl_send_allv};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

fn install_handler_without_sa_restart() {
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0; // no SA_RESTART: blocking calls fail with EINTR
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()), 0);
    }
}

/// Sends SIGALRM to each target thread every 100 µs until `stop`.
fn storm(targets: Vec<libc::pthread_t>, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for &t in &targets {
                unsafe { libc::pthread_kill(t, libc::SIGALRM) };
            }
            thread::sleep(Duration::from_micros(100));
        }
    })
}

#[test]
fn transfers_complete_byte_exact_under_a_signal_storm() {
    install_handler_without_sa_restart();
    const LEN: usize = 48 << 20;
    let data = Rng(seed()).bytes(LEN);
    for (label, timeout) in [("forever", -1), ("bounded", 20_000)] {
        let (a, b) = tcp_pair();
        set_buffer_sizes(&a, 65536);
        set_buffer_sizes(&b, 65536);
        let stop = Arc::new(AtomicBool::new(false));
        let before = SIGNALS.load(Ordering::Relaxed);
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = {
            let data = data.clone();
            thread::spawn(move || {
                tx.send(unsafe { libc::pthread_self() }).unwrap();
                // Half as one buffer, half as a vector of pieces.
                let half = LEN / 2;
                let mut done = 0;
                let rc = unsafe { sl_send_all(a.as_raw_fd(), data.as_ptr().cast(), half, timeout, &mut done) };
                assert_eq!((rc, done), (half as isize, half), "send_all errno {}", errno());
                let iov: Vec<libc::iovec> = data[half..]
                    .chunks(100_000)
                    .map(|c| libc::iovec { iov_base: c.as_ptr() as *mut _, iov_len: c.len() })
                    .collect();
                let rc = unsafe { sl_send_allv(a.as_raw_fd(), iov.as_ptr(), iov.len() as i32, timeout, &mut done) };
                assert_eq!((rc, done), ((LEN - half) as isize, LEN - half), "send_allv errno {}", errno());
            })
        };
        let me = unsafe { libc::pthread_self() };
        let storm = storm(vec![me, rx.recv().unwrap()], stop.clone());
        let mut got = vec![0u8; LEN];
        let mut done = 0;
        let rc = unsafe { sl_recv_exact(b.as_raw_fd(), got.as_mut_ptr().cast(), LEN, timeout, &mut done) };
        let err = errno();
        sender.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        storm.join().unwrap();
        assert_eq!((rc, done), (LEN as isize, LEN), "{label}: recv_exact errno {err}");
        assert!(got == data, "{label}: stream differs");
        let fired = SIGNALS.load(Ordering::Relaxed) - before;
        assert!(fired > 50, "{label}: the storm delivered only {fired} signals");
    }
}

#[test]
fn the_storm_really_interrupts_a_plain_recv() {
    // Control: without the library's loop, the same storm surfaces EINTR, so the
    // test above proves the retry and not a quiet signal.
    install_handler_without_sa_restart();
    let (a, _b) = socketpair();
    let stop = Arc::new(AtomicBool::new(false));
    let storm = storm(vec![unsafe { libc::pthread_self() }], stop.clone());
    let mut byte = [0u8; 1];
    let rc = unsafe { libc::recv(a.as_raw_fd(), byte.as_mut_ptr().cast(), 1, 0) };
    let err = errno();
    stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    assert_eq!((rc, err), (-1, libc::EINTR));
}

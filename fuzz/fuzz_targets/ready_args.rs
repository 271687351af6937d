//! The argument handling of the readiness functions, through their C shims:
//! `sl_wait_readable`/`sl_wait_writable`, `sl_select`, and sequences of
//! `sl_selector_register/modify/unregister/get/select` with arbitrary fds
//! (open sockets and pipes, negative, closed, above 1024), arbitrary event
//! bits, counts and capacities. Every call must return a documented value with
//! a documented errno, never crash, never report an fd or event it was not
//! given. Timeouts are 0 or below -1 (a fuzzer cannot wait).
#![no_main]

use std::os::raw::{c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sockloop::ffi::ready::*;
use sockloop::ffi::selector::*;

/// Fds the inputs choose from: a socketpair (one end with unread data, so it
/// is readable), a pipe, and numbers that are not open.
fn fds() -> &'static [c_int; 8] {
    static FDS: OnceLock<[c_int; 8]> = OnceLock::new();
    FDS.get_or_init(|| unsafe {
        let mut sv = [0; 2];
        assert_eq!(libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()), 0);
        assert_eq!(libc::write(sv[1], b"x".as_ptr().cast(), 1), 1);
        let mut p = [0; 2];
        assert_eq!(libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC), 0);
        [sv[0], sv[1], p[0], p[1], -1, i32::MIN, 1500, 4000]
    })
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn int(&mut self) -> c_int {
        c_int::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn fd(&mut self) -> c_int {
        let b = self.byte();
        if b < 200 { fds()[b as usize % 8] } else { self.int() }
    }
    fn timeout(&mut self) -> c_int {
        let t = self.int();
        if t >= -1 { 0 } else { t }
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_wait(rc: c_int, timeout: c_int) {
    if timeout < -1 {
        assert_eq!((rc, errno()), (-1, libc::EINVAL));
    } else {
        assert!(rc == 0 || rc == 1 || (rc == -1 && [libc::EINVAL, libc::EBADF].contains(&errno())), "rc {rc} errno {}", errno());
    }
}

fn select(input: &mut Input) {
    let mut lists: [Vec<c_int>; 3] = Default::default();
    let mut counts = [0usize; 3];
    let mut null_input = [false; 3];
    for i in 0..3 {
        let n = input.byte() as usize % 6;
        lists[i] = (0..n).map(|_| input.fd()).collect();
        let mode = input.byte();
        counts[i] = match mode % 8 {
            0 => usize::MAX,
            1 => 1 << 40,
            _ => n,
        };
        null_input[i] = mode % 16 == 15 && n > 0;
    }
    let timeout = input.timeout();
    let mut outs = [vec![0; 6], vec![0; 6], vec![0; 6]];
    let mut nready = [usize::MAX; 3];
    let ptr = |i: usize| if null_input[i] { null() } else { lists[i].as_ptr() };
    let [o0, o1, o2] = &mut outs;
    let [n0, n1, n2] = &mut nready;
    let rc = unsafe {
        sl_select(
            ptr(0), counts[0], ptr(1), counts[1], ptr(2), counts[2], timeout,
            o0.as_mut_ptr(), n0, o1.as_mut_ptr(), n1, o2.as_mut_ptr(), n2,
        )
    };
    if rc < 0 {
        assert!([libc::EINVAL, libc::EBADF].contains(&errno()), "sl_select errno {}", errno());
        assert_eq!(nready, [0, 0, 0], "counts are set to 0 on error");
        return;
    }
    assert_eq!(rc as usize, nready.iter().sum::<usize>());
    for i in 0..3 {
        assert!(nready[i] <= lists[i].len());
        for fd in &outs[i][..nready[i]] {
            assert!(lists[i].contains(fd), "reported an fd it was not given");
        }
    }
}

fn selector_ops(input: &mut Input) {
    let sel = sl_selector_new();
    assert!(!sel.is_null());
    let mut registered: Vec<(c_int, c_int)> = Vec::new();
    let mut out: Vec<sl_event> = (0..8).map(|_| sl_event { fd: -7, events: -7, data: null_mut() }).collect();
    for _ in 0..32 {
        if input.done() {
            break;
        }
        let op = input.byte() % 6;
        let fd = input.fd();
        let events = if input.byte() % 4 == 0 { input.int() } else { 1 + input.byte() as c_int % 3 };
        let data = fd as usize as *mut c_void;
        let rc = unsafe {
            match op {
                0 => sl_selector_register(sel, fd, events, data),
                1 => sl_selector_modify(sel, fd, events, data),
                2 => sl_selector_unregister(sel, fd),
                3 => {
                    let (mut e, mut d) = (0, null_mut());
                    let rc = sl_selector_get(sel, fd, &mut e, &mut d);
                    if rc == 0 {
                        assert_eq!(d, fd as usize as *mut c_void);
                        assert!(registered.contains(&(fd, e)));
                    }
                    rc
                }
                4 => {
                    let cap = match input.byte() % 4 { 0 => 0, 1 => 8, _ => 1 + input.byte() as usize % 8 };
                    let n = sl_selector_select(sel, out.as_mut_ptr(), cap, input.timeout());
                    if n > 0 {
                        assert!(n as usize <= cap);
                        for ev in &out[..n as usize] {
                            let reg = registered.iter().find(|(f, _)| *f == ev.fd).expect("an fd never registered");
                            assert!(ev.events != 0 && ev.events & !reg.1 == 0, "events outside the registration");
                            assert_eq!(ev.data, ev.fd as usize as *mut c_void);
                        }
                    }
                    n.min(0)
                }
                _ => sl_selector_register(null_mut(), fd, events, data),
            }
        };
        let err = errno();
        let valid_events = events == SL_READ || events == SL_WRITE || events == SL_READ | SL_WRITE;
        let known = registered.iter().position(|(f, _)| *f == fd);
        match (op, rc) {
            (0, 0) => {
                assert!(valid_events && known.is_none() && fd >= 0);
                registered.push((fd, events));
            }
            (1, 0) => registered[known.expect("modified an unknown fd")].1 = events,
            (2, 0) => {
                registered.remove(known.expect("unregistered an unknown fd"));
            }
            (_, 0) => {}
            (_, -1) => {
                let allowed: &[c_int] = match op {
                    0 => &[libc::EINVAL, libc::EEXIST, libc::EBADF, libc::EPERM],
                    1 => &[libc::EINVAL, libc::ENOENT, libc::EBADF],
                    2 | 3 => &[libc::EINVAL, libc::ENOENT],
                    4 => &[libc::EINVAL],
                    _ => &[libc::EINVAL],
                };
                assert!(allowed.contains(&err), "op {op} fd {fd} events {events}: errno {err}");
                if err == libc::EEXIST {
                    assert!(known.is_some());
                }
                if op == 1 && err == libc::ENOENT || (op == 2 && err == libc::ENOENT) {
                    assert!(known.is_none() || fd < 0);
                }
            }
            _ => panic!("op {op} returned {rc}"),
        }
    }
    unsafe { sl_selector_free(sel) };
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    match input.byte() % 4 {
        0 => {
            let (fd, t) = (input.fd(), input.timeout());
            check_wait(sl_wait_readable(fd, t), t);
            check_wait(sl_wait_writable(fd, t), t);
        }
        1 => select(&mut input),
        _ => selector_ops(&mut input),
    }
});

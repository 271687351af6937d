//! Frames and sl_conn end to end through the chaos proxy
//! (tests/tools/chaos_proxy.c): segments split and delayed at random, a stall
//! past the reader's timeout, and cuts with a FIN and with an RST. The server is
//! an event-loop echo (sl_conn_fill / next_frame / queue_frame / flush); the
//! client uses the blocking calls. One random seed per run (printed; repeat
//! with SL_TEST_SEED=<n>), passed to the proxy too.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::fd::{IntoRawFd, RawFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::ptr::null_mut;
use std::sync::OnceLock;
use std::thread;

use common::*;
use sockloop::ffi::conn::*;
use sockloop::ffi::frame::*;
use sockloop::ffi::net::sl_tcp_connect;
use sockloop::ffi::ready::*;

/// build/tools/chaos_proxy (made by `make test-examples`), or a build of its
/// own in cargo's scratch directory, so `cargo test` alone works too.
fn proxy_binary() -> PathBuf {
    // Built once: tests run in parallel threads, and one exec'ing the file
    // while another rewrites it fails with ETXTBSY.
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("build/tools/chaos_proxy");
            if built.exists() {
                return built;
            }
            let own = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos_proxy");
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/chaos_proxy.c");
            let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
                .args(["-std=c11", "-D_GNU_SOURCE", "-O2", "-o"])
                .arg(&own)
                .arg(&src)
                .status()
                .expect("a C compiler to build the chaos proxy");
            assert!(status.success());
            own
        })
        .clone()
}

struct Proxy {
    child: Child,
    port: i32,
}

impl Proxy {
    fn start(target: u16, seed: u64, connections: usize, opts: &[&str]) -> Proxy {
        let mut child = Command::new(proxy_binary())
            .args(["--target", &target.to_string(), "--seed", &(seed as u32).max(1).to_string()])
            .args(["--connections", &connections.to_string(), "--max-seconds", "60"])
            .args(opts)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.strip_prefix("port ").and_then(|p| p.trim().parse().ok()).expect("proxy port line");
        Proxy { child, port }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One event-loop echo connection: every whole frame goes back as it came.
fn echo_frames(fd: RawFd) {
    sl_set_nonblocking_or_panic(fd);
    let c = sl_conn_new(fd, 1 << 20, SL_CONN_OWN_FD);
    assert!(!c.is_null());
    loop {
        if sl_wait_readable(fd, 10_000) != 1 {
            break;
        }
        let n = unsafe { sl_conn_fill(c) };
        let mut payload = std::ptr::null();
        let mut len = 0;
        while unsafe { sl_conn_next_frame(c, &mut payload, &mut len) } == 1 {
            assert!(unsafe { sl_conn_queue_frame(c, payload, len) } > 0);
        }
        let mut pending = unsafe { sl_conn_flush(c) };
        while pending > 0 && sl_wait_writable(fd, 10_000) == 1 {
            pending = unsafe { sl_conn_flush(c) };
        }
        if n == 0 || pending < 0 || (n < 0 && errno() != libc::EAGAIN) {
            break;
        }
    }
    unsafe { sl_conn_free(c) };
}

fn sl_set_nonblocking_or_panic(fd: RawFd) {
    assert_eq!(sockloop::ffi::sockopt::sl_set_nonblocking(fd, 1), 0);
}

/// An echo server for `connections` connections; returns its port.
fn echo_server(connections: usize) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                let (s, _) = listener.accept().unwrap();
                let fd = s.into_raw_fd();
                thread::spawn(move || echo_frames(fd))
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    (port, handle)
}

fn connect(port: i32) -> RawFd {
    let fd = unsafe { sl_tcp_connect(c"127.0.0.1".as_ptr(), port, 5000) };
    assert!(fd >= 0, "connect to the proxy: errno {}", errno());
    fd
}

fn random_frames(rng: &mut Rng, count: usize, max: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            let n = rng.below(max + 1);
            rng.bytes(n)
        })
        .collect()
}

#[test]
fn frames_survive_split_and_delayed_segments() {
    let seed = seed();
    let mut rng = Rng(seed);
    let frames = random_frames(&mut rng, 120, 4000);
    let (port, server) = echo_server(1);
    let proxy = Proxy::start(port, seed, 1, &["--split", "16", "--delay-us", "20"]);
    let fd = connect(proxy.port);
    let c = sl_conn_new(fd, 1 << 20, SL_CONN_OWN_FD);
    let sender = {
        let frames = frames.clone();
        thread::spawn(move || {
            for f in &frames {
                let rc = unsafe { sl_send_frame(fd, f.as_ptr().cast(), f.len(), 20_000, null_mut()) };
                assert_eq!(rc, f.len() as isize, "send errno {}", errno());
            }
        })
    };
    let mut buf = vec![0u8; 4000];
    for (i, f) in frames.iter().enumerate() {
        let rc = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), buf.len(), 20_000) };
        assert_eq!(rc, f.len() as isize, "frame {i}: errno {} (seed {seed})", errno());
        assert!(buf[..f.len()] == f[..], "frame {i} differs (seed {seed})");
    }
    sender.join().unwrap();
    unsafe { sl_conn_free(c) };
    server.join().unwrap();
}

#[test]
fn a_stall_past_the_timeout_then_resume_loses_nothing() {
    let seed = seed();
    let frame = Rng(seed).bytes(20_000);
    let (port, server) = echo_server(1);
    let proxy = Proxy::start(port, seed, 1, &["--split", "500", "--stall-after", "5000", "--stall-ms", "400"]);
    let fd = connect(proxy.port);
    let c = sl_conn_new(fd, 1 << 20, SL_CONN_OWN_FD);
    assert_eq!(
        unsafe { sl_send_frame(fd, frame.as_ptr().cast(), frame.len(), 5000, null_mut()) },
        frame.len() as isize
    );
    let mut buf = vec![0u8; frame.len()];
    let (mut timeouts, mut rc) = (0, -1);
    for _ in 0..100 {
        rc = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), buf.len(), 50) };
        if rc >= 0 {
            break;
        }
        assert_eq!(errno(), libc::ETIMEDOUT, "seed {seed}");
        timeouts += 1;
    }
    assert_eq!(rc, frame.len() as isize, "seed {seed}");
    assert!(timeouts >= 2, "the stall never showed (seed {seed})");
    assert!(buf == frame, "seed {seed}");
    unsafe { sl_conn_free(c) };
    server.join().unwrap();
}

/// The proxy cuts after 3000 bytes from the client, in the middle of a frame:
/// every frame read before the cut is whole and right, and the cut is EPIPE
/// (FIN) or ECONNRESET/EPIPE (RST), never a short or corrupt frame.
fn cut_test(how: &str) {
    let seed = seed();
    let mut rng = Rng(seed);
    let frames = random_frames(&mut rng, 20, 1000);
    let (port, server) = echo_server(1);
    let proxy = Proxy::start(port, seed, 1, &["--split", "64", "--cut-after", "3000", "--cut", how]);
    let fd = connect(proxy.port);
    let c = sl_conn_new(fd, 1 << 20, SL_CONN_OWN_FD);
    // Exactly 3000 bytes of the framed stream, so that the proxy has read
    // everything when it cuts: its close then sends a FIN, not the RST that
    // closing with unread input would send.
    let stream: Vec<u8> =
        frames.iter().flat_map(|f| (f.len() as u32).to_be_bytes().into_iter().chain(f.iter().copied())).collect();
    assert!(stream.len() > 3000);
    assert_eq!(unsafe { sockloop::ffi::io::sl_send_all(fd, stream.as_ptr().cast(), 3000, 5000, null_mut()) }, 3000);
    let mut buf = vec![0u8; 1000];
    let mut whole = 0;
    let err = loop {
        let rc = unsafe { sl_conn_read_frame(c, buf.as_mut_ptr().cast(), buf.len(), 5000) };
        if rc < 0 {
            break errno();
        }
        let f = &frames[whole];
        assert_eq!(rc, f.len() as isize, "frame {whole} (seed {seed})");
        assert!(buf[..f.len()] == f[..], "frame {whole} differs (seed {seed})");
        whole += 1;
        assert!(whole < frames.len(), "every frame came back through a cut at 3000 bytes (seed {seed})");
    };
    let echoed: usize = frames[..whole].iter().map(|f| f.len() + 4).sum();
    assert!(echoed <= 3000, "more came back than went through (seed {seed})");
    if how == "fin" {
        assert_eq!(err, libc::EPIPE, "seed {seed}");
    } else {
        assert!(err == libc::ECONNRESET || err == libc::EPIPE, "errno {err} (seed {seed})");
    }
    unsafe { sl_conn_free(c) };
    server.join().unwrap();
}

#[test]
fn a_cut_with_fin_is_epipe_after_whole_frames() {
    cut_test("fin");
}

#[test]
fn a_cut_with_rst_is_an_error_after_whole_frames() {
    cut_test("rst");
}

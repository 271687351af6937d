//! sockloop: the socket loops every networked program needs, done once.
//!
//! The Python Socket Programming HOWTO lists what a socket program must get right
//! and leaves it "as an exercise for the reader": `send`/`recv` move only *some*
//! bytes, a stream has no message boundaries, the wire is big-endian, non-blocking
//! sockets need a readiness call, and a peer can vanish mid-message. This crate is
//! that exercise, with a C ABI (`include/sockloop.h`) for C and every language
//! that can call C.
//!
//! Module map (safe Rust in `src/<area>.rs`, C shims in `src/ffi/<area>.rs`):
//! - [`deadline`]: `timeout_ms` as a whole-call deadline on the monotonic clock.
//! - [`interrupt`]: the per-thread check that lets a signal end a blocked call.
//! - [`io`]: send-all / recv-exact / vectored send-all loops.
//! - [`frame`]: length-prefixed frames and the resumable delimiter search.
//! - [`conn`]: `sl_conn`, the buffered reader/writer for blocking code and event loops.
//! - [`ready`]: waiting for readiness with `poll(2)`, and a `select` without
//!   the `FD_SETSIZE` limit.
//! - [`selector`]: Python's `selectors` for fds, on epoll (poll elsewhere).
//! - [`ring`]: one call per loop turn for many `sl_conn`s, on io_uring (epoll fallback).
//! - [`net`]: TCP connect within a deadline, listen, accept, addresses as text.
//! - [`unix`]: Unix-domain listen (stale files, abstract names) and connect.
//! - [`sockopt`]: socket options in one call each, and the graceful close.
//! - byte order: `std`'s `to_be_bytes`/`from_be_bytes` for Rust; the C helpers
//!   are in [`ffi::byteorder`].
//! - [`ffi`]: the `extern "C"` API, one panic/errno boundary for every function.

pub mod conn;
pub mod deadline;
/// The C ABI as Rust items (`sl_*`), public only so that the integration
/// tests can call it as C does; Rust code uses the modules above.
#[doc(hidden)]
pub mod ffi;
pub mod frame;
pub mod interrupt;
pub mod io;
pub mod net;
pub mod ready;
pub mod ring;
pub mod selector;
pub mod sockopt;
mod sys;
pub mod unix;

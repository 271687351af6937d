//! Whole-call timeouts.
//!
//! Every blocking call takes `timeout_ms` as in `poll(2)`: `-1` waits forever, `0`
//! makes one attempt, and a positive value is the budget for the *whole call*,
//! measured against a deadline on the monotonic clock taken at entry, so that a
//! peer trickling bytes cannot stretch a call by resetting a per-syscall timer.
//!
//! ```
//! use std::time::Duration;
//! use sockloop::deadline::Deadline;
//!
//! assert_eq!(Deadline::from_timeout_ms(-1)?, Deadline::Never);
//! assert_eq!(Deadline::from_timeout(Some(Duration::ZERO)), Deadline::Immediate);
//! let d = Deadline::from_timeout_ms(1500)?;
//! assert!((1..=1500).contains(&d.poll_timeout_ms().unwrap()));
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::sys::errno;
use std::io;
use std::time::{Duration, Instant};

/// When a call must give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Wait as long as it takes (`timeout_ms == -1`).
    Never,
    /// One attempt, no waiting (`timeout_ms == 0`).
    Immediate,
    /// Give up at this instant (`timeout_ms > 0`).
    At(Instant),
}

impl Deadline {
    /// Turns a C `timeout_ms` into a deadline; values below `-1` are `EINVAL`.
    pub fn from_timeout_ms(timeout_ms: i32) -> io::Result<Deadline> {
        Ok(Deadline::from_timeout(Deadline::timeout_from_ms(timeout_ms)?))
    }

    /// A C `timeout_ms` as a Rust timeout: `-1` forever (`None`), `0` one
    /// attempt (zero), `> 0` a budget; below `-1` is `EINVAL`.
    pub fn timeout_from_ms(timeout_ms: i32) -> io::Result<Option<Duration>> {
        match timeout_ms {
            -1 => Ok(None),
            t if t >= 0 => Ok(Some(Duration::from_millis(t as u64))),
            _ => Err(errno(libc::EINVAL)),
        }
    }

    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline::At(Instant::now() + budget)
    }

    /// The deadline for a Rust timeout: `None` waits forever, a zero
    /// duration makes one attempt, anything else is a budget from now.
    pub fn from_timeout(timeout: Option<Duration>) -> Deadline {
        match timeout {
            None => Deadline::Never,
            Some(d) if d.is_zero() => Deadline::Immediate,
            Some(d) => Deadline::after(d),
        }
    }

    /// True when system calls must not block (any bounded wait).
    pub fn is_bounded(self) -> bool {
        !matches!(self, Deadline::Never)
    }

    /// The `poll(2)` timeout for the time that is left, or `None` once the
    /// deadline has passed. Rounded *up* to whole milliseconds: a wait never ends
    /// before the deadline, so a timed-out poll means the time really ran out.
    pub fn poll_timeout_ms(self) -> Option<i32> {
        match self {
            Deadline::Never => Some(-1),
            Deadline::Immediate => Some(0),
            Deadline::At(end) => {
                let left = end.checked_duration_since(Instant::now())?;
                if left.is_zero() {
                    return None;
                }
                let ms = left.as_nanos().div_ceil(1_000_000);
                Some(ms.min(i32::MAX as u128) as i32)
            }
        }
    }

    /// The `poll(2)` timeout for the first wait of a call whose deadline was
    /// made from `timeout` just now: the whole budget, rounded up to whole
    /// milliseconds, without a second clock read.
    pub fn first_wait_ms(timeout: Option<Duration>) -> i32 {
        match timeout {
            None => -1,
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        }
    }

    /// The error for a call that ran out of time: `EAGAIN` for a single attempt,
    /// `ETIMEDOUT` for a budget that was used up.
    pub fn expired(self) -> io::Error {
        let code = match self {
            Deadline::Immediate => libc::EAGAIN,
            _ => libc::ETIMEDOUT,
        };
        io::Error::from_raw_os_error(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_values_map_to_deadlines() {
        assert_eq!(Deadline::from_timeout_ms(-1).unwrap(), Deadline::Never);
        assert_eq!(Deadline::from_timeout_ms(0).unwrap(), Deadline::Immediate);
        assert!(matches!(Deadline::from_timeout_ms(5).unwrap(), Deadline::At(_)));
        let err = Deadline::from_timeout_ms(-2).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn poll_timeout_rounds_up_and_expires() {
        let d = Deadline::after(Duration::from_micros(1500));
        let ms = d.poll_timeout_ms().unwrap();
        assert!((1..=2).contains(&ms), "{ms}");
        let past = Deadline::At(Instant::now() - Duration::from_millis(1));
        assert_eq!(past.poll_timeout_ms(), None);
        assert_eq!(Deadline::Never.poll_timeout_ms(), Some(-1));
        assert_eq!(Deadline::Immediate.poll_timeout_ms(), Some(0));
    }

    #[test]
    fn rust_timeouts_map_to_deadlines_and_first_waits() {
        assert_eq!(Deadline::from_timeout(None), Deadline::Never);
        assert_eq!(Deadline::from_timeout(Some(Duration::ZERO)), Deadline::Immediate);
        assert!(matches!(Deadline::from_timeout(Some(Duration::from_millis(5))), Deadline::At(_)));
        assert_eq!(Deadline::first_wait_ms(None), -1);
        assert_eq!(Deadline::first_wait_ms(Some(Duration::ZERO)), 0);
        assert_eq!(Deadline::first_wait_ms(Some(Duration::from_micros(1001))), 2);
        assert_eq!(Deadline::first_wait_ms(Some(Duration::MAX)), i32::MAX);
    }

    #[test]
    fn expiry_errors() {
        assert_eq!(Deadline::Immediate.expired().raw_os_error(), Some(libc::EAGAIN));
        assert_eq!(Deadline::Never.expired().raw_os_error(), Some(libc::ETIMEDOUT));
    }
}

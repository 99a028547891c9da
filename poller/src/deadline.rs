//! [`Deadline`]: the time left of a poll's timeout across retries.
//!
//! A backend may wake before the timeout with nothing to report (a signal, a filtered event, a
//! spurious return); it then waits again for what is left, so a poll returns empty only after
//! the whole timeout. The clock is read only when a timeout is actually running.

use std::time::{Duration, Instant};

/// A poll timeout measured from the poll's start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    timeout: Option<Duration>,
    start: Option<Instant>,
}

impl Deadline {
    /// Starts the clock, unless the timeout is infinite (`None`) or zero.
    pub(crate) fn new(timeout: Option<Duration>) -> Deadline {
        let start = match timeout {
            Some(t) if !t.is_zero() => Some(Instant::now()),
            _ => None,
        };
        Deadline { timeout, start }
    }

    /// The time left: `None` for no limit, zero once the timeout has passed.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let timeout = self.timeout?;
        Some(match self.start {
            Some(start) => timeout.saturating_sub(start.elapsed()),
            None => Duration::ZERO,
        })
    }

    /// Whether a finite timeout has fully passed.
    pub(crate) fn expired(&self) -> bool {
        self.remaining() == Some(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_never_expires() {
        let deadline = Deadline::new(None);
        assert_eq!(deadline.remaining(), None);
        assert!(!deadline.expired());
    }

    #[test]
    fn zero_is_expired_at_once() {
        let deadline = Deadline::new(Some(Duration::ZERO));
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
        assert!(deadline.expired());
    }

    #[test]
    fn remaining_shrinks_and_saturates() {
        let deadline = Deadline::new(Some(Duration::from_millis(5)));
        let left = deadline.remaining().expect("finite");
        assert!(left <= Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(6));
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
        assert!(deadline.expired());
    }

    #[test]
    fn huge_timeouts_do_not_overflow() {
        let deadline = Deadline::new(Some(Duration::MAX));
        assert!(deadline.remaining().expect("finite") > Duration::from_secs(1 << 40));
        assert!(!deadline.expired());
    }
}

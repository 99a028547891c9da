//! A connection's deadlines: the idle timeout, the handler's read deadline and the write stall
//! timeout.
//!
//! Times are whole milliseconds on the engine's clock (read once per loop turn, see
//! [`crate::time`]), so the three cost 24 bytes per connection; timeouts are rounded up to
//! whole milliseconds. One timer on the loop's wheel per connection serves all
//! three: it is set for the earliest, and only moved *earlier* when a new deadline needs it;
//! deadlines that move later (traffic pushing the idle timeout back, the peer taking bytes)
//! touch nothing, and the timer re-arms for what is left when it fires.

use std::time::Duration;

/// "Not set" for a time in milliseconds.
const NONE: u64 = u64::MAX;

/// A timeout in whole milliseconds, rounded up, saturating below [`NONE`].
pub(crate) fn duration_millis(d: Duration) -> u64 {
    crate::time::ms_up(d).min(NONE - 1)
}

/// The engine-wide timeouts, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Close after this long with no inbound traffic.
    pub(crate) idle: Option<u64>,
    /// Close after unsent bytes waited this long with the socket taking none of them.
    pub(crate) write: Option<u64>,
}

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The handler's read deadline.
    Read,
    /// The write stall timeout.
    Write,
    /// The idle timeout.
    Idle,
}

/// One connection's deadline bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadlines {
    /// Last inbound traffic (or, while reading is paused, the peer taking bytes).
    last_active: u64,
    /// When the handler's read deadline passes, or [`NONE`].
    read: u64,
    /// Since when unsent bytes have waited with the socket taking none, or [`NONE`].
    stalled_since: u64,
}

impl Deadlines {
    /// A connection that opened at `now`.
    pub(crate) fn new(now: u64) -> Self {
        Self {
            last_active: now,
            read: NONE,
            stalled_since: NONE,
        }
    }

    /// Inbound traffic at `now`.
    pub(crate) fn active(&mut self, now: u64) {
        self.last_active = now;
    }

    /// The handler set (`Some`) or cleared its read deadline.
    pub(crate) fn set_read(&mut self, at: Option<u64>) {
        self.read = at.unwrap_or(NONE);
    }

    /// Whether a read deadline is set.
    pub(crate) fn has_read(&self) -> bool {
        self.read != NONE
    }

    /// After a send or a drain at `now` that left `backlog` bytes unsent, `progressed` telling
    /// whether the socket took any. Returns true when a stall just began (the timer may have
    /// to move earlier).
    pub(crate) fn wrote(&mut self, now: u64, backlog: usize, progressed: bool) -> bool {
        if backlog == 0 {
            self.stalled_since = NONE;
            false
        } else if self.stalled_since == NONE {
            self.stalled_since = now;
            true
        } else {
            if progressed {
                self.stalled_since = now;
            }
            false
        }
    }

    /// The earliest deadline in force, if any.
    pub(crate) fn next(&self, t: Timeouts) -> Option<u64> {
        let idle = t.idle.map(|ms| self.last_active.saturating_add(ms));
        let write = t
            .write
            .filter(|_| self.stalled_since != NONE)
            .map(|ms| self.stalled_since.saturating_add(ms));
        let read = (self.read != NONE).then_some(self.read);
        [read, write, idle].into_iter().flatten().min()
    }

    /// The deadline that has passed at `now`, if any (the read deadline first, then the
    /// write stall, then idleness).
    pub(crate) fn expired(&self, now: u64, t: Timeouts) -> Option<Expiry> {
        if self.read != NONE && self.read <= now {
            return Some(Expiry::Read);
        }
        if let Some(ms) = t.write
            && self.stalled_since != NONE
            && self.stalled_since.saturating_add(ms) <= now
        {
            return Some(Expiry::Write);
        }
        if let Some(ms) = t.idle
            && self.last_active.saturating_add(ms) <= now
        {
            return Some(Expiry::Idle);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Timeouts = Timeouts {
        idle: Some(1_000),
        write: Some(300),
    };

    #[test]
    fn timeouts_round_up_and_saturate() {
        assert_eq!(duration_millis(Duration::new(2, 500_001)), 2_001);
        assert_eq!(duration_millis(Duration::from_micros(1)), 1);
        assert_eq!(duration_millis(Duration::from_millis(5)), 5);
        assert_eq!(duration_millis(Duration::MAX), NONE - 1);
    }

    #[test]
    fn idle_only() {
        let t = Timeouts {
            idle: Some(100),
            write: None,
        };
        let mut d = Deadlines::new(10);
        assert_eq!(d.next(t), Some(110));
        assert_eq!(d.expired(109, t), None);
        assert_eq!(d.expired(110, t), Some(Expiry::Idle));
        d.active(50);
        assert_eq!(d.next(t), Some(150));
        assert_eq!(d.expired(110, t), None);
    }

    #[test]
    fn nothing_configured_means_no_timer() {
        let none = Timeouts {
            idle: None,
            write: None,
        };
        let mut d = Deadlines::new(0);
        assert!(d.wrote(5, 100, false));
        assert_eq!(
            d.next(none),
            None,
            "a stall without a write timeout is not a deadline"
        );
        assert_eq!(d.expired(u64::MAX - 1, none), None);
    }

    #[test]
    fn read_deadline_comes_first_and_can_be_cleared() {
        let mut d = Deadlines::new(0);
        d.set_read(Some(50));
        assert!(d.has_read());
        assert_eq!(d.next(BOTH), Some(50));
        assert_eq!(d.expired(50, BOTH), Some(Expiry::Read));
        d.set_read(None);
        assert!(!d.has_read());
        assert_eq!(d.next(BOTH), Some(1_000));
        assert_eq!(d.expired(50, BOTH), None);
    }

    #[test]
    fn a_write_stall_counts_from_the_last_progress() {
        let mut d = Deadlines::new(0);
        assert!(!d.wrote(10, 0, true), "no backlog: no stall");
        assert_eq!(d.next(BOTH), Some(1_000));
        assert!(d.wrote(20, 4096, false), "a stall begins");
        assert_eq!(d.next(BOTH), Some(320));
        assert!(!d.wrote(25, 8192, false), "more bytes queued: same stall");
        assert_eq!(d.next(BOTH), Some(320));
        assert!(
            !d.wrote(200, 1024, true),
            "the socket took some: counts again"
        );
        assert_eq!(d.next(BOTH), Some(500));
        assert_eq!(d.expired(499, BOTH), None);
        assert_eq!(d.expired(500, BOTH), Some(Expiry::Write));
        assert!(!d.wrote(400, 0, true), "drained");
        assert_eq!(d.expired(500, BOTH), None);
        assert_eq!(d.expired(1_000, BOTH), Some(Expiry::Idle));
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let t = Timeouts {
            idle: Some(NONE - 1),
            write: Some(NONE - 1),
        };
        let mut d = Deadlines::new(NONE - 2);
        d.wrote(NONE - 2, 1, false);
        assert_eq!(d.next(t), Some(NONE));
        assert_eq!(d.expired(NONE - 1, t), None);
    }
}

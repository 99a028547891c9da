//! Outbound flow control: the write watermarks and a connection's writability.
//!
//! A connection is *writable* while its unsent backlog (what the socket has not taken yet) is
//! at most the high watermark. Once the backlog rises above it the connection is *unwritable*
//! until the backlog drains to the low watermark or below, so a slow reader flips the state
//! once per fill-and-drain cycle rather than on every write (Netty's `WriteBufferWaterMark`).
//! The hard limit stays `max_outbound`: past it the connection is closed.
//!
//! The loop tells the handler through `on_writability_changed` once the operation that changed
//! the state is over (a callback and its flush, a drain, an async write), never from inside
//! it, and only when the state differs from what the handler last *knew*: what it was last
//! told, or what it last saw through `Conn::is_writable` (which counts the callback's own
//! unsent writes, so a handler can see "unwritable" that the flush then undoes). So a handler
//! that paused because it saw "unwritable" always hears "writable" later, and changes that
//! cancel out before the handler learns of them are not announced at all.

use crate::error::{Error, Result};

/// Netty's default low watermark.
pub const DEFAULT_LOW_WATERMARK: usize = 32 * 1024;
/// Netty's default high watermark.
pub const DEFAULT_HIGH_WATERMARK: usize = 64 * 1024;

/// The backlog sizes at which a connection becomes unwritable (above `high`) and writable
/// again (at or below `low`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watermarks {
    low: usize,
    high: usize,
}

impl Watermarks {
    /// Watermarks `low <= high`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when `low > high`.
    pub(crate) fn new(low: usize, high: usize) -> Result<Self> {
        if low > high {
            return Err(Error::InvalidOption {
                option: "write_watermarks",
                reason: "the low watermark must not exceed the high one",
            });
        }
        Ok(Self { low, high })
    }

    /// The defaults (32 KiB / 64 KiB), lowered to fit under `max_outbound` so a small hard
    /// limit still leaves room to announce backpressure before closing.
    pub(crate) fn defaults_under(max_outbound: usize) -> Self {
        let high = DEFAULT_HIGH_WATERMARK.min(max_outbound / 2);
        Self {
            low: DEFAULT_LOW_WATERMARK.min(high / 2),
            high,
        }
    }

    pub(crate) fn high(self) -> usize {
        self.high
    }
}

/// A connection's writability as the loop tracks it, and what the handler last knew of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Writability {
    writable: bool,
    /// What the handler last saw ([`Conn::is_writable`](crate::Conn::is_writable)) or was
    /// told (`on_writability_changed`); an announcement is owed while the two differ.
    told: bool,
}

impl Default for Writability {
    fn default() -> Self {
        Self {
            writable: true,
            told: true,
        }
    }
}

impl Writability {
    /// Whether the backlog is within the watermarks' hysteresis.
    pub(crate) fn is_writable(self) -> bool {
        self.writable
    }

    /// The backlog is now `backlog` bytes, after a send (which may have drained some of the
    /// old backlog as well as queued new bytes) or after the socket took some. Returns whether
    /// an announcement is owed.
    pub(crate) fn update(&mut self, backlog: usize, marks: Watermarks) -> bool {
        if self.writable {
            self.writable = backlog <= marks.high;
        } else {
            self.writable = backlog <= marks.low;
        }
        self.is_owed()
    }

    /// The handler saw `writable` through `Conn::is_writable`.
    pub(crate) fn saw(&mut self, writable: bool) {
        self.told = writable;
    }

    /// Whether the state differs from what the handler last saw or was told.
    pub(crate) fn is_owed(self) -> bool {
        self.writable != self.told
    }

    /// The state to announce, if it is owed; it counts as told from here on.
    pub(crate) fn take_owed(&mut self) -> Option<bool> {
        self.is_owed().then(|| {
            self.told = self.writable;
            self.writable
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(low: usize, high: usize) -> Watermarks {
        Watermarks::new(low, high).expect("valid watermarks")
    }

    #[test]
    fn low_above_high_is_an_error() {
        assert!(Watermarks::new(2, 1).is_err());
        assert!(Watermarks::new(1, 1).is_ok());
        assert!(Watermarks::new(0, 0).is_ok());
    }

    #[test]
    fn defaults_fit_under_a_small_hard_limit() {
        let d = Watermarks::defaults_under(64 * 1024 * 1024);
        assert_eq!(
            (d.low, d.high),
            (DEFAULT_LOW_WATERMARK, DEFAULT_HIGH_WATERMARK)
        );
        let small = Watermarks::defaults_under(1000);
        assert_eq!((small.low, small.high), (250, 500));
        let tiny = Watermarks::defaults_under(1);
        assert_eq!((tiny.low, tiny.high), (0, 0));
    }

    #[test]
    fn unwritable_above_high_writable_again_at_low() {
        let m = marks(10, 20);
        let mut w = Writability::default();
        assert!(!w.update(20, m));
        assert!(w.is_writable(), "exactly high is still writable");
        assert_eq!(w.take_owed(), None);
        assert!(w.update(21, m), "owed");
        assert!(!w.is_writable());
        assert_eq!(w.take_owed(), Some(false));
        assert_eq!(w.take_owed(), None, "announced once");
        assert!(!w.update(11, m));
        assert!(!w.is_writable(), "between the marks the state holds");
        assert!(!w.update(25, m));
        assert!(!w.is_writable());
        assert!(w.update(10, m));
        assert!(w.is_writable(), "exactly low is writable again");
        assert_eq!(w.take_owed(), Some(true));
        assert!(!w.update(0, m));
        assert_eq!(w.take_owed(), None);
    }

    #[test]
    fn a_change_that_cancels_out_is_not_announced() {
        let m = marks(10, 20);
        let mut w = Writability::default();
        assert!(w.update(30, m));
        assert!(
            !w.update(5, m),
            "back where the handler knows it: nothing owed"
        );
        assert!(w.is_writable());
        assert_eq!(w.take_owed(), None);
        assert!(w.update(30, m));
        assert_eq!(w.take_owed(), Some(false));
        assert!(w.update(0, m));
        assert!(!w.update(25, m), "unwritable again: as last told");
        assert_eq!(w.take_owed(), None);
    }

    #[test]
    fn what_the_handler_saw_counts_as_told() {
        let m = marks(10, 20);
        let mut w = Writability::default();
        // It saw "unwritable" from its own writes, which the socket then took at once.
        w.saw(false);
        assert!(w.update(0, m), "owed: it saw false, the state is true");
        assert_eq!(w.take_owed(), Some(true), "it must hear that it can go on");
        // It saw the state the loop is in: nothing to say.
        assert!(w.update(30, m));
        w.saw(false);
        assert!(!w.is_owed());
        assert_eq!(w.take_owed(), None);
    }

    #[test]
    fn zero_watermarks_flip_on_any_backlog() {
        let m = marks(0, 0);
        let mut w = Writability::default();
        w.update(0, m);
        assert!(w.is_writable());
        w.update(1, m);
        assert!(!w.is_writable());
        w.update(1, m);
        assert!(!w.is_writable());
        w.update(0, m);
        assert!(w.is_writable());
    }
}

//! [`Interest`]: which readiness a registration asks to be told about.

use std::fmt;
use std::num::NonZeroU8;
use std::ops::BitOr;

const READABLE: u8 = 0b01;
const WRITABLE: u8 = 0b10;

/// The readiness a registration waits for: readable, writable or both.
///
/// An interest is never empty (it wraps a [`NonZeroU8`]), so "register for nothing" cannot be
/// expressed; deregister instead. Hang-up and error conditions are reported whatever the
/// interest.
///
/// # Examples
///
/// ```
/// use loopwire_poller::Interest;
///
/// let both = Interest::READABLE.add(Interest::WRITABLE);
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both, Interest::READABLE | Interest::WRITABLE);
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interest(NonZeroU8);

impl Interest {
    /// Wait for the source to become readable (or for the peer to close its write half).
    pub const READABLE: Interest = Interest(NonZeroU8::new(READABLE).expect("non-zero"));
    /// Wait for the source to become writable.
    pub const WRITABLE: Interest = Interest(NonZeroU8::new(WRITABLE).expect("non-zero"));

    /// Returns the union of `self` and `other`.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        match NonZeroU8::new(self.0.get() | other.0.get()) {
            Some(bits) => Interest(bits),
            // The union of two non-empty bit sets is never empty.
            None => self,
        }
    }

    /// Returns `self` without the readiness in `other`, or `None` if nothing would remain.
    #[must_use]
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match NonZeroU8::new(self.0.get() & !other.0.get()) {
            Some(bits) => Some(Interest(bits)),
            None => None,
        }
    }

    /// Whether the interest includes readability.
    pub const fn is_readable(self) -> bool {
        self.0.get() & READABLE != 0
    }

    /// Whether the interest includes writability.
    pub const fn is_writable(self) -> bool {
        self.0.get() & WRITABLE != 0
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => write!(f, "Interest({:#04b})", self.0.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_interests() {
        assert!(Interest::READABLE.is_readable());
        assert!(!Interest::READABLE.is_writable());
        assert!(Interest::WRITABLE.is_writable());
        assert!(!Interest::WRITABLE.is_readable());
    }

    #[test]
    fn add_is_a_union_and_idempotent() {
        let both = Interest::READABLE.add(Interest::WRITABLE);
        assert!(both.is_readable() && both.is_writable());
        assert_eq!(both.add(Interest::READABLE), both);
        assert_eq!(Interest::WRITABLE | Interest::READABLE, both);
        assert_eq!(
            Interest::READABLE.add(Interest::READABLE),
            Interest::READABLE
        );
    }

    #[test]
    fn remove_never_yields_an_empty_interest() {
        let both = Interest::READABLE | Interest::WRITABLE;
        assert_eq!(both.remove(Interest::READABLE), Some(Interest::WRITABLE));
        assert_eq!(both.remove(both), None);
        assert_eq!(
            Interest::WRITABLE.remove(Interest::READABLE),
            Some(Interest::WRITABLE)
        );
    }

    #[test]
    fn debug_names_the_bits() {
        assert_eq!(format!("{:?}", Interest::READABLE), "READABLE");
        assert_eq!(
            format!("{:?}", Interest::READABLE | Interest::WRITABLE),
            "READABLE | WRITABLE"
        );
    }
}

//! [`Event`] and [`Events`]: what a poll reports, in one backend-independent shape.
//!
//! Every backend translates its native records (`epoll_event`, `mio::event::Event`,
//! `polling::Event`) into [`Event`] as it drains them, so the caller's event loop is the same
//! whatever the backend. The translation is a few bit tests per event; the buffer is allocated
//! once, by [`Events::with_capacity`].

use std::fmt;
use std::iter::FusedIterator;
use std::slice;

use crate::Token;

/// Readiness bits of an [`Event`]. Kept private so the set can grow without breaking callers.
pub(crate) mod flags {
    /// The source can be read without blocking (or reading returns end-of-file).
    pub(crate) const READABLE: u8 = 1 << 0;
    /// The source can be written without blocking.
    pub(crate) const WRITABLE: u8 = 1 << 1;
    /// The peer will send nothing more: it shut down its write half or closed.
    pub(crate) const READ_CLOSED: u8 = 1 << 2;
    /// Writing can no longer succeed: hang-up, or the peer closed its read half.
    pub(crate) const WRITE_CLOSED: u8 = 1 << 3;
    /// An error is pending on the source (`SO_ERROR`).
    pub(crate) const ERROR: u8 = 1 << 4;
}

/// One readiness report for one registered source.
///
/// Several conditions can be set at once: a socket whose peer closed is typically readable *and*
/// read-closed, because a read returns end-of-file. What the backend cannot see is reported as
/// absent; the read or write call stays the authority (see
/// [`Backend::reports_read_closed`](crate::Backend::reports_read_closed)).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    token: Token,
    flags: u8,
}

impl Event {
    /// Builds an event; backends call this after translating their native flags.
    pub(crate) const fn new(token: Token, flags: u8) -> Event {
        Event { token, flags }
    }

    /// The token the source was registered under.
    pub const fn token(&self) -> Token {
        self.token
    }

    /// The source is readable: data is waiting, a connection can be accepted, or a read would
    /// return end-of-file.
    pub const fn is_readable(&self) -> bool {
        self.flags & flags::READABLE != 0
    }

    /// The source is writable.
    pub const fn is_writable(&self) -> bool {
        self.flags & flags::WRITABLE != 0
    }

    /// The peer will send nothing more: it shut down its write half (`shutdown(Write)`) or hung
    /// up. Reading drains what is buffered, then returns end-of-file.
    pub const fn is_read_closed(&self) -> bool {
        self.flags & flags::READ_CLOSED != 0
    }

    /// Writing can no longer succeed: the connection hung up (`EPOLLHUP`), or the peer is gone
    /// and an error is pending.
    pub const fn is_write_closed(&self) -> bool {
        self.flags & flags::WRITE_CLOSED != 0
    }

    /// An error is pending on the source; `SO_ERROR` (`socket2::Socket::take_error`) tells which.
    pub const fn is_error(&self) -> bool {
        self.flags & flags::ERROR != 0
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("token", &self.token)
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("error", &self.is_error())
            .finish()
    }
}

/// A reusable buffer of [`Event`]s filled by one poll.
///
/// The capacity bounds how many events one poll asks the kernel for; readiness beyond it stays
/// queued for the next poll, so no event is lost to a small buffer.
///
/// # Examples
///
/// ```
/// use loopwire_poller::Events;
///
/// let events = Events::with_capacity(256);
/// assert_eq!(events.capacity(), 256);
/// assert!(events.is_empty());
/// assert_eq!(events.iter().count(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct Events {
    list: Vec<Event>,
    capacity: usize,
}

impl Events {
    /// Creates a buffer that receives up to `capacity` events per poll.
    ///
    /// A capacity of 0 is raised to 1: the kernel interfaces reject an empty buffer.
    pub fn with_capacity(capacity: usize) -> Events {
        let capacity = capacity.max(1);
        Events {
            list: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// How many events one poll may return.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events the last poll returned.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the last poll returned no event (a timeout or a wake-up).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Iterates over the events of the last poll.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.list.iter(),
        }
    }

    /// Forgets the events of the last poll (every poll starts with this).
    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// Appends one translated event.
    pub(crate) fn push(&mut self, event: Event) {
        self.list.push(event);
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = Event;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the [`Event`]s of an [`Events`] buffer, by value.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: slice::Iter<'a, Event>,
}

impl Iterator for Iter<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.inner.next().copied()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Event> {
        self.inner.next_back().copied()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FusedIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_read_their_own_bit() {
        let all = [
            (flags::READABLE, Event::is_readable as fn(&Event) -> bool),
            (flags::WRITABLE, Event::is_writable),
            (flags::READ_CLOSED, Event::is_read_closed),
            (flags::WRITE_CLOSED, Event::is_write_closed),
            (flags::ERROR, Event::is_error),
        ];
        for (bit, _) in all {
            let event = Event::new(Token(3), bit);
            assert_eq!(event.token(), Token(3));
            for (other, accessor) in all {
                assert_eq!(accessor(&event), bit == other, "bit {bit:#x} vs {other:#x}");
            }
        }
    }

    #[test]
    fn zero_capacity_is_raised_to_one() {
        assert_eq!(Events::with_capacity(0).capacity(), 1);
    }

    #[test]
    fn iterates_in_order_and_clears() {
        let mut events = Events::with_capacity(4);
        events.push(Event::new(Token(1), flags::READABLE));
        events.push(Event::new(Token(2), flags::WRITABLE));
        assert_eq!(events.len(), 2);
        let tokens: Vec<_> = events.iter().map(|e| e.token()).collect();
        assert_eq!(tokens, [Token(1), Token(2)]);
        assert_eq!(events.iter().len(), 2);
        assert_eq!(events.iter().next_back().map(|e| e.token()), Some(Token(2)));
        assert_eq!((&events).into_iter().count(), 2);
        events.clear();
        assert!(events.is_empty());
        assert_eq!(events.capacity(), 4);
    }

    #[test]
    fn debug_lists_the_conditions() {
        let text = format!(
            "{:?}",
            Event::new(Token(9), flags::READABLE | flags::READ_CLOSED)
        );
        assert!(text.contains("readable: true"), "{text}");
        assert!(text.contains("read_closed: true"), "{text}");
        assert!(text.contains("writable: false"), "{text}");
    }
}

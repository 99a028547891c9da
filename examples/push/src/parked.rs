//! [`Parked`]: unacknowledged messages of disconnected sessions, kept for a reconnect with
//! the same client id.
//!
//! Phones drop connections all the time (a tunnel, a network switch). When a session closes
//! with messages sent but not acknowledged, or still waiting in its mailbox, they are parked
//! here under its client id (at most [`Config::window`](super::Config::window) of them,
//! oldest first); a HELLO with that id within [`Config::parked_ttl`](super::Config::parked_ttl)
//! gets them again, before anything new. At most
//! [`Config::parked_sessions`](super::Config::parked_sessions) ids are kept, the oldest
//! evicted first. Rooms are not restored: the client JOINs again after WELCOME.
//!
//! The caller says what time it is ([`Conn::now`](loopwire::Conn::now), the engine's clock),
//! so the TTL runs on the engine's clock, a [`TestClock`](loopwire::TestClock) in tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::mailbox::Message;

#[derive(Debug, Default)]
struct Inner {
    /// Client id → (park sequence number, when on the engine's clock, messages).
    map: HashMap<Box<[u8]>, (u64, Duration, Vec<Message>)>,
    /// Park order, for eviction; entries whose sequence no longer matches are stale.
    order: VecDeque<(Box<[u8]>, u64)>,
    seq: u64,
}

/// Parked messages by client id. Touched only on close (with messages to keep) and HELLO.
#[derive(Debug)]
pub struct Parked {
    inner: Mutex<Inner>,
    cap: usize,
    ttl: Duration,
}

impl Parked {
    /// Keeps at most `cap` sessions' messages, each for `ttl`.
    pub fn new(cap: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            cap,
            ttl,
        }
    }

    /// Keeps `msgs` for `client` from `now` (the engine's clock), replacing what was kept for
    /// it; returns how many sessions' messages were evicted to make room.
    pub fn park(&self, client: &[u8], msgs: Vec<Message>, now: Duration) -> usize {
        if self.cap == 0 || msgs.is_empty() {
            return 0;
        }
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = &mut *g;
        inner.seq += 1;
        let seq = inner.seq;
        inner.map.insert(client.into(), (seq, now, msgs));
        inner.order.push_back((client.into(), seq));
        let mut evicted = 0;
        while inner.map.len() > self.cap || inner.order.len() > 2 * self.cap {
            let Some((id, s)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&id).is_some_and(|(cur, ..)| *cur == s) {
                inner.map.remove(&id);
                evicted += 1;
            }
        }
        evicted
    }

    /// Takes what was kept for `client`, if at `now` (the engine's clock) it was parked at
    /// most the TTL ago.
    pub fn take(&self, client: &[u8], now: Duration) -> Option<Vec<Message>> {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, at, msgs) = g.map.remove(client)?;
        (now.saturating_sub(at) <= self.ttl).then_some(msgs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopwire::Bytes;

    fn msgs(ids: &[u64]) -> Vec<Message> {
        ids.iter()
            .map(|&id| Message {
                id,
                frame: Bytes::new(),
            })
            .collect()
    }

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn keeps_the_newest_sessions_and_hands_each_back_once() {
        let p = Parked::new(2, ms(60_000));
        assert_eq!(p.park(b"a", msgs(&[1]), ms(0)), 0);
        assert_eq!(p.park(b"b", msgs(&[2]), ms(1)), 0);
        assert_eq!(p.park(b"a", msgs(&[3]), ms(2)), 0);
        assert_eq!(p.park(b"c", msgs(&[4]), ms(3)), 1); // b is the oldest
        assert!(p.take(b"b", ms(4)).is_none());
        assert_eq!(p.take(b"a", ms(4)).map(|m| m[0].id), Some(3));
        assert!(p.take(b"a", ms(4)).is_none());
        assert_eq!(p.take(b"c", ms(4)).map(|m| m[0].id), Some(4));
    }

    #[test]
    fn messages_are_handed_back_up_to_the_ttl_and_not_after() {
        let p = Parked::new(2, ms(100));
        p.park(b"a", msgs(&[1]), ms(50));
        p.park(b"b", msgs(&[2]), ms(50));
        assert_eq!(p.take(b"a", ms(150)).map(|m| m[0].id), Some(1));
        assert!(p.take(b"b", ms(151)).is_none());
        // An expired entry is gone, not kept for a later look.
        assert!(p.take(b"b", ms(50)).is_none());
        // A zero TTL hands back only at the very reading it was parked.
        let p = Parked::new(2, Duration::ZERO);
        p.park(b"a", msgs(&[1]), ms(7));
        p.park(b"b", msgs(&[2]), ms(7));
        assert!(p.take(b"a", ms(7)).is_some());
        assert!(p.take(b"b", ms(8)).is_none());
    }
}

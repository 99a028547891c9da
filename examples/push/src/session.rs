//! [`Session`]: one connection's state, stored inline in its engine slot, and its window of
//! unacknowledged messages.
//!
//! Everything here is bounded: at most [`Config::max_rooms`](super::Config::max_rooms) room
//! names (shared `Arc`s, not copies), at most [`Config::window`](super::Config::window)
//! unacknowledged messages (each a shared frame, not a copy). An idle session (no message in
//! flight) owns no buffer but its client id and room list: the window's buffer is freed when
//! it empties. Its size is printed by the gateway (`session_state_bytes`).
//!
//! Times here are readings of the engine's clock ([`Conn::now`](loopwire::Conn::now): time
//! since the engine started, or a [`TestClock`](loopwire::TestClock)'s reading), handed in by
//! the caller; nothing here reads a clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::mailbox::{Mailbox, Message};
use super::registry::RoomName;

/// A message sent and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Unacked {
    /// The message.
    pub msg: Message,
    /// When it was first sent, on the engine's clock (for the ACK round trip).
    pub first_sent: Duration,
    /// When it was last sent, on the engine's clock (for the retransmit rule).
    pub last_sent: Duration,
}

/// One connection's state.
#[derive(Debug, Default)]
pub struct Session {
    /// The client id, once HELLO is done.
    pub client: Option<Box<[u8]>>,
    /// Where publishers leave messages; `Some` once HELLO is done.
    pub mailbox: Option<Arc<Mailbox>>,
    /// Rooms joined.
    pub rooms: Vec<RoomName>,
    /// Sent, not acknowledged, in sending order.
    pub window: VecDeque<Unacked>,
}

impl Session {
    /// Whether HELLO was done.
    pub fn introduced(&self) -> bool {
        self.mailbox.is_some()
    }

    /// Removes message `id` from the window; returns when it was first sent, or `None` if it
    /// was not there.
    pub fn ack(&mut self, id: u64) -> Option<Duration> {
        let i = self.window.iter().position(|u| u.msg.id == id)?;
        let u = self.window.remove(i)?;
        if self.window.is_empty() {
            // Free the buffer: idle sessions hold none.
            self.window = VecDeque::new();
        }
        Some(u.first_sent)
    }

    /// Records `msg` as sent at `now` (the engine's clock).
    pub fn sent(&mut self, msg: Message, now: Duration) {
        self.window.push_back(Unacked {
            msg,
            first_sent: now,
            last_sent: now,
        });
    }

    /// Calls `resend` with each message of `window` last sent at least `after` before `now`
    /// (the engine's clock), in order, while it returns true; marks those as sent at `now`.
    /// Returns how many.
    pub fn retransmit_due(
        window: &mut VecDeque<Unacked>,
        now: Duration,
        after: Duration,
        mut resend: impl FnMut(&Message) -> bool,
    ) -> u64 {
        let mut n = 0;
        for u in window.iter_mut() {
            if now.saturating_sub(u.last_sent) < after {
                continue;
            }
            if !resend(&u.msg) {
                break;
            }
            u.last_sent = now;
            n += 1;
        }
        n
    }

    /// Everything this session still owes its client, oldest first: the window, then the
    /// mailbox; at most `cap` messages (the oldest kept), plus how many were dropped.
    pub fn take_undelivered(&mut self, cap: usize) -> (Vec<Message>, usize) {
        let mut msgs: Vec<Message> = std::mem::take(&mut self.window)
            .into_iter()
            .map(|u| u.msg)
            .collect();
        if let Some(mb) = &self.mailbox {
            msgs.extend(mb.drain());
        }
        let dropped = msgs.len().saturating_sub(cap);
        msgs.truncate(cap);
        (msgs, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopwire::Bytes;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ids_resent(window: &mut VecDeque<Unacked>, now: Duration) -> Vec<u64> {
        let mut ids = Vec::new();
        Session::retransmit_due(window, now, ms(300), |m| {
            ids.push(m.id);
            true
        });
        ids
    }

    #[test]
    fn a_message_is_resent_once_it_waited_exactly_the_delay_then_waits_again() {
        let mut s = Session::default();
        for (id, at) in [(1, 0), (2, 100)] {
            let frame = Bytes::new();
            s.sent(Message { id, frame }, ms(at));
        }
        assert!(ids_resent(&mut s.window, ms(299)).is_empty());
        assert_eq!(ids_resent(&mut s.window, ms(300)), [1]);
        assert!(ids_resent(&mut s.window, ms(399)).is_empty());
        assert_eq!(ids_resent(&mut s.window, ms(400)), [2]);
        assert_eq!(ids_resent(&mut s.window, ms(600)), [1]);
        // The ACK round trip is measured from the first send, not the last.
        assert_eq!(s.ack(1), Some(ms(0)));
        assert_eq!(s.ack(1), None);
    }
}

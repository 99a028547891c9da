//! [`Session`]: one connection's state, stored inline in its engine slot, and its window of
//! unacknowledged QoS1 messages.
//!
//! Everything here is bounded: at most [`Config::max_rooms`](super::Config::max_rooms) room
//! names (shared `Arc`s, not copies), at most [`Config::window`](super::Config::window)
//! unacknowledged messages (each the store's shared bytes, not a copy). An idle session (no
//! message in flight) owns no buffer but its room list: the window's buffer is freed when it
//! empties. Its size is printed by the gateway (`session_state_bytes`).
//!
//! Times here are readings of the engine's clock ([`Conn::now`](loopwire::Conn::now)), handed
//! in by the caller; nothing here reads a clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use loopwire::Bytes;

use super::auth::RoomGrants;
use super::mailbox::{Mailbox, UserName};
use super::registry::RoomName;
use super::transport::Transport;

/// A QoS1 message sent and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Unacked {
    /// Its store id (the PUSH's id).
    pub id: u64,
    /// The PUSH body after the id, as stored ([`frame::envelope`](super::frame::envelope)).
    pub envelope: Bytes,
    /// When it was first sent, on the engine's clock (for the ACK round trip).
    pub first_sent: Duration,
    /// When it was last sent, on the engine's clock (for the retransmit rule).
    pub last_sent: Duration,
}

/// What an authenticated session knows about itself.
#[derive(Debug)]
pub struct Live {
    /// Its user.
    pub user: UserName,
    /// Where publishers and the registry leave it work.
    pub mailbox: Arc<Mailbox>,
    /// The rooms its token grants.
    pub grants: RoomGrants,
    /// The negotiated heartbeat interval.
    pub heartbeat: Duration,
    /// How long an unacknowledged message waits before it is resent.
    pub retransmit_after: Duration,
    /// The highest store id this session pulled and handled (its QoS1 cursor).
    pub cursor: Option<u64>,
    /// The store may hold messages above `cursor` that this session has not pulled.
    pub store_dirty: bool,
    /// Its token's device, if named (for upstream events).
    pub device: Option<Arc<str>>,
    /// The UP rate limit's theoretical arrival time (GCRA), on the engine's clock.
    pub up_tat: Duration,
}

/// One connection's state.
#[derive(Debug, Default)]
pub struct Session {
    /// `Some` once AUTH succeeded.
    pub live: Option<Box<Live>>,
    /// Rooms joined.
    pub rooms: Vec<RoomName>,
    /// Sent, not acknowledged, in sending order.
    pub window: VecDeque<Unacked>,
    /// Kicked or failed: the connection closes once what was written is sent; frames that
    /// still arrive are ignored.
    pub closing: bool,
    /// Counted in the per-IP connection counts (released when it closes).
    pub admitted: bool,
    /// TCP or WebSocket (with its decoder).
    pub transport: Transport,
}

impl Live {
    /// Silence after which a session with heartbeat `heartbeat` is closed: 1.5 × `heartbeat`.
    pub fn idle_for(heartbeat: Duration) -> Duration {
        heartbeat + heartbeat / 2
    }

    /// Silence after which this session is closed: 1.5 × its heartbeat (computed, not
    /// stored: every session has a `Live`).
    pub fn idle(&self) -> Duration {
        Self::idle_for(self.heartbeat)
    }
}

impl Session {
    /// Whether AUTH succeeded.
    pub fn authenticated(&self) -> bool {
        self.live.is_some()
    }

    /// Removes message `id` from the window; returns when it was first sent, or `None` if it
    /// was not there.
    pub fn ack(&mut self, id: u64) -> Option<Duration> {
        let i = self.window.iter().position(|u| u.id == id)?;
        let u = self.window.remove(i)?;
        self.free_if_empty();
        Some(u.first_sent)
    }

    /// Removes message `id` from the window (dropped or gone from the store).
    pub fn forget(&mut self, id: u64) {
        self.window.retain(|u| u.id != id);
        self.free_if_empty();
    }

    fn free_if_empty(&mut self) {
        if self.window.is_empty() && self.window.capacity() > 0 {
            // Idle sessions hold no buffer.
            self.window = VecDeque::new();
        }
    }

    /// Records message `id` as first sent at `now`.
    pub fn sent(&mut self, id: u64, envelope: Bytes, now: Duration) {
        self.window.push_back(Unacked {
            id,
            envelope,
            first_sent: now,
            last_sent: now,
        });
    }

    /// The ids of the window's messages last sent at least `after` before `now`, in order.
    pub fn due(&self, now: Duration, after: Duration) -> Vec<u64> {
        self.window
            .iter()
            .filter(|u| now.saturating_sub(u.last_sent) >= after)
            .map(|u| u.id)
            .collect()
    }

    /// The window entry of `id`, marked as sent again at `now`.
    pub fn resent(&mut self, id: u64, now: Duration) -> Option<&Unacked> {
        let u = self.window.iter_mut().find(|u| u.id == id)?;
        u.last_sent = now;
        Some(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_message_is_due_once_it_waited_exactly_the_delay_then_waits_again() {
        let mut s = Session::default();
        s.sent(1, Bytes::new(), ms(0));
        s.sent(2, Bytes::new(), ms(100));
        assert!(s.due(ms(299), ms(300)).is_empty());
        assert_eq!(s.due(ms(300), ms(300)), [1]);
        s.resent(1, ms(300));
        assert!(s.due(ms(399), ms(300)).is_empty());
        assert_eq!(s.due(ms(400), ms(300)), [2]);
        // The ACK round trip is measured from the first send, not the last.
        assert_eq!(s.ack(1), Some(ms(0)));
        assert_eq!(s.ack(1), None);
        s.forget(2);
        assert!(s.window.is_empty() && s.window.capacity() == 0);
    }

    #[test]
    fn live_state_fits_a_128_byte_allocation() {
        // Every session has one: the idle timeout is computed from the heartbeat, not stored.
        assert!(
            std::mem::size_of::<Live>() <= 128,
            "{}",
            std::mem::size_of::<Live>()
        );
        assert_eq!(Live::idle_for(ms(10_000)), ms(15_000));
    }
}

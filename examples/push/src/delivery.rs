//! Moving messages to one session's socket, on its loop: QoS0 frames from its mailbox, QoS1
//! messages pulled from the store into its window, retransmissions, ACKs, and KICKs.
//!
//! # QoS1, per session
//!
//! The session keeps a cursor (the highest store id it pulled and handled) and a "dirty" flag
//! (the store may hold more for its user). The flag is set at login (offline messages) and
//! whenever a publisher notes new messages in the mailbox. While it is set, the window has
//! room and the peer is writable, the session asks [`Store::pending`](super::store::Store::pending)
//! for up to the window's free slots above its cursor and, for each, calls
//! [`mark_sent`](super::store::Store::mark_sent) right before writing it:
//! [`Send`](SendVerdict::Send) writes `PUSH` with the store id and keeps it in the window;
//! [`Exhausted`](SendVerdict::Exhausted) (sent `max_attempts` times) and
//! [`Gone`](SendVerdict::Gone) (ACKed through another session, expired) skip it, counted.
//! A pull that returns fewer than it asked for clears the flag.
//!
//! Retransmission goes through `mark_sent` too, so a message a client never ACKs is sent
//! `max_attempts` times in all and then dropped (counted in `dropped_attempts`), not resent
//! forever. An ACK calls [`Store::ack`](super::store::Store::ack) whether or not the id is in
//! this session's window: the store holds one queue per user, and any of the user's sessions
//! may acknowledge a message for all of them.
//!
//! Store errors (only a network store has them) are counted and logged; the session keeps its
//! flag and tries again at its next turn with work.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use loopwire::{Action, Conn};

use super::frame::{self, server};
use super::gateway::{Gateway, millis};
use super::mailbox::KickNote;
use super::session::Session;
use super::stats::Stats;
use super::store::{MessageId, SendVerdict};
use super::transport::{end, write_frame};
use super::ws;

pub(crate) use super::transport::reply;

impl Gateway {
    /// Does what waits for the session: a KICK (then `Action::Close`), QoS0 frames, QoS1
    /// messages from the store, as far as the window and the peer allow.
    pub(crate) fn deliver(&self, c: &mut Conn<'_, Session>) -> Action {
        let Some(mailbox) = c.state().live.as_ref().map(|l| Arc::clone(&l.mailbox)) else {
            return Action::None;
        };
        let notes = mailbox.take_notes();
        if let Some(kick) = notes.kick {
            return self.kicked(c, &kick);
        }
        for (room, join) in notes.rooms {
            self.assigned_room(c, &room, join);
        }
        let mut sent = 0;
        mailbox.take_while(|f| {
            if !c.is_writable() {
                return false;
            }
            write_frame(c, &[f]);
            sent += 1;
            true
        });
        Stats::add(&self.stats.delivered, sent);
        if let Some(live) = c.state_mut().live.as_mut() {
            live.store_dirty |= notes.store;
        }
        self.pull(c);
        Action::None
    }

    /// A room the backend assigned (join, whatever the token grants: it is the server's
    /// decision; within `max_rooms`, else skipped and counted) or withdrew (leave).
    fn assigned_room(&self, c: &mut Conn<'_, Session>, room: &[u8], join: bool) {
        let h = c.handle();
        let s = c.state_mut();
        let Some(live) = s.live.as_deref() else {
            return;
        };
        let pos = s.rooms.iter().position(|r| &r[..] == room);
        match (join, pos) {
            (true, None) if s.rooms.len() < self.config.max_rooms => {
                let name = self.registry.join(room, h, &live.mailbox);
                s.rooms.reserve_exact(1);
                s.rooms.push(name);
            }
            (true, None) => {
                self.stats.protocol_errors.fetch_add(1, Relaxed);
            }
            (false, Some(i)) => {
                s.rooms.swap_remove(i);
                self.registry.leave(room, h);
            }
            _ => {}
        }
    }

    /// Writes KICK and closes.
    fn kicked(&self, c: &mut Conn<'_, Session>, kick: &KickNote) -> Action {
        reply(
            c,
            server::KICK,
            &[&kick.code.to_be_bytes(), kick.reason.as_bytes()],
        );
        end(c, ws::close::NORMAL, "kicked");
        c.state_mut().closing = true;
        c.discard(usize::MAX);
        Action::Close
    }

    /// Pulls QoS1 messages from the store into the window (see the module docs).
    fn pull(&self, c: &mut Conn<'_, Session>) {
        let now = c.now();
        let now_ms = millis(now);
        loop {
            let s = c.state();
            let Some(live) = s.live.as_deref() else {
                return;
            };
            let free = self.config.window.saturating_sub(s.window.len());
            if !live.store_dirty || free == 0 || !c.is_writable() {
                return;
            }
            let (user, cursor) = (Arc::clone(&live.user), live.cursor.map(MessageId));
            let batch = match self.store.pending(user.as_bytes(), cursor, free, now_ms) {
                Ok(b) => b,
                Err(e) => return self.store_failed("pending", &e),
            };
            let complete = batch.len() < free;
            let mut handled = 0;
            for m in &batch {
                if !c.is_writable() {
                    break;
                }
                let id = m.id.get();
                match self.store.mark_sent(user.as_bytes(), m.id, now_ms) {
                    Ok(SendVerdict::Send { .. }) => {
                        if self.write_push(c, id, &m.payload) {
                            c.state_mut().sent(id, m.payload.clone(), now);
                            self.stats.delivered.fetch_add(1, Relaxed);
                            self.stats.unacked.fetch_add(1, Relaxed);
                        }
                    }
                    Ok(SendVerdict::Exhausted) => {
                        self.stats.dropped_attempts.fetch_add(1, Relaxed);
                    }
                    Ok(_) => {
                        self.stats.gone.fetch_add(1, Relaxed);
                    }
                    Err(e) => return self.store_failed("mark_sent", &e),
                }
                handled += 1;
                if let Some(live) = c.state_mut().live.as_mut() {
                    live.cursor = Some(id);
                }
            }
            if handled < batch.len() {
                return; // the peer fell behind: the rest waits, the flag stays
            }
            if complete {
                if let Some(live) = c.state_mut().live.as_mut() {
                    live.store_dirty = false;
                }
                return;
            }
        }
    }

    /// Writes `PUSH id` with a stored envelope; false (and counted as a store error) if it
    /// cannot be framed (a store holding what the gateway would not have put).
    fn write_push(&self, c: &mut Conn<'_, Session>, id: u64, envelope: &[u8]) -> bool {
        match frame::push_head(id, envelope.len(), self.config.max_frame) {
            Ok(head) => {
                write_frame(c, &[&head, envelope]);
                true
            }
            Err(e) => {
                tracing::warn!(id, error = %e, "stored message does not fit a frame");
                self.stats.store_errors.fetch_add(1, Relaxed);
                false
            }
        }
    }

    fn store_failed(&self, what: &str, e: &super::store::StoreError) {
        tracing::warn!(call = what, error = %e, "store call failed on a session's loop");
        self.stats.store_errors.fetch_add(1, Relaxed);
    }

    /// The retransmit rule: the client was heard from; every unacknowledged message last
    /// sent at least the session's retransmit delay ago goes through `mark_sent` and, if
    /// still to be sent, is written again with its id.
    pub(crate) fn retransmit(&self, c: &mut Conn<'_, Session>) {
        let Some(live) = c.state().live.as_deref() else {
            return;
        };
        let (user, after) = (Arc::clone(&live.user), live.retransmit_after);
        let now = c.now();
        for id in c.state().due(now, after) {
            if !c.is_writable() {
                return;
            }
            match self
                .store
                .mark_sent(user.as_bytes(), MessageId(id), millis(now))
            {
                Ok(SendVerdict::Send { .. }) => {
                    let Some(envelope) = c.state_mut().resent(id, now).map(|u| u.envelope.clone())
                    else {
                        continue;
                    };
                    if self.write_push(c, id, &envelope) {
                        self.stats.retransmitted.fetch_add(1, Relaxed);
                    }
                }
                Ok(verdict) => {
                    let counter = if verdict == SendVerdict::Exhausted {
                        &self.stats.dropped_attempts
                    } else {
                        &self.stats.gone
                    };
                    counter.fetch_add(1, Relaxed);
                    c.state_mut().forget(id);
                    self.stats.unacked.fetch_sub(1, Relaxed);
                }
                Err(e) => return self.store_failed("mark_sent", &e),
            }
        }
    }

    /// An ACK: the store forgets the message (for all the user's sessions), the window too.
    pub(crate) fn ack(&self, c: &mut Conn<'_, Session>, id: u64) {
        let now = c.now();
        let Some(live) = c.state().live.as_deref() else {
            return;
        };
        let user: Arc<str> = Arc::clone(&live.user);
        if let Err(e) = self.store.ack(user.as_bytes(), MessageId(id), millis(now)) {
            self.store_failed("ack", &e);
        }
        if let Some(cluster) = self.cluster.get() {
            cluster.ack(&user, id);
        }
        match c.state_mut().ack(id) {
            Some(first_sent) => {
                self.stats.acked.fetch_add(1, Relaxed);
                self.stats.unacked.fetch_sub(1, Relaxed);
                self.stats.ack_rtt.record(now.saturating_sub(first_sent));
            }
            None => {
                self.stats.stale_acks.fetch_add(1, Relaxed);
            }
        }
    }
}

//! The [`EventHandler`] of the gateway: frames in, session bookkeeping, frames out.
//!
//! Each `on_traffic` (bytes arrived, or a publisher's wake) does, in order:
//!
//! 1. if bytes arrived, resend the unacknowledged messages that are due (the retransmit
//!    rule: the client was heard from, and a message has waited at least
//!    [`Config::retransmit_after`](super::Config::retransmit_after) since it was last sent);
//! 2. decode and handle every complete frame, as long as the peer is writable (a reply
//!    could not be sent otherwise: the rest stays unread and reading pauses); a PING first
//!    sends what waits in the mailbox, so its PONG confirms delivery of everything
//!    published before it (as far as the window and the peer allow);
//! 3. move messages from the mailbox to the socket while the window has room and the peer
//!    is writable.
//!
//! A protocol violation writes an ERROR frame and closes the connection once it is sent.
//! `on_writability_changed` pauses reading when the peer falls behind and, once it caught
//! up, resumes reading and sends what waited. `on_close` leaves every room and parks what
//! the session still owed its client.
//!
//! Time is the engine's: [`Conn::now`], the reading the loop took at the start of the turn,
//! for the window's send times, the retransmit rule, the ACK round trip and parking. No
//! clock is read here, so the gateway runs on a [`TestClock`](loopwire::TestClock) in tests
//! (see [`Config::clock`](super::Config::clock)).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use loopwire::{Action, CloseReason, Conn, EngineHandle, EventHandler};

use super::frame::{self, ClientFrame, FLAG_UNACKED, ProtocolError, server};
use super::gateway::Gateway;
use super::mailbox::{Mailbox, Message};
use super::session::Session;

/// Writes a small server frame (the gateway's own frames always fit).
fn reply(c: &mut Conn<'_, Session>, ty: u8, parts: &[&[u8]]) {
    let mut buf = Vec::new();
    if frame::encode(ty, parts, usize::MAX, &mut buf).is_ok() {
        c.write(&buf);
    }
}

impl Gateway {
    fn check_name(&self, what: &'static str, name: &[u8]) -> Result<(), ProtocolError> {
        if name.is_empty() || name.len() > self.config.max_name {
            return Err(ProtocolError::BadName {
                what,
                len: name.len(),
                max: self.config.max_name,
            });
        }
        Ok(())
    }

    /// Handles one frame.
    fn handle(&self, c: &mut Conn<'_, Session>, f: ClientFrame<'_>) -> Result<(), ProtocolError> {
        if !c.state().introduced() && !matches!(f, ClientFrame::Hello(_)) {
            return Err(ProtocolError::NotIntroduced);
        }
        match f {
            ClientFrame::Hello(id) => return self.hello(c, id),
            ClientFrame::Join(room) => {
                self.check_name("room", room)?;
                let h = c.handle();
                let s = c.state_mut();
                if s.rooms.iter().any(|r| &r[..] == room) {
                    return Ok(());
                }
                if s.rooms.len() >= self.config.max_rooms {
                    return Err(ProtocolError::TooManyRooms(self.config.max_rooms));
                }
                if let Some(mb) = &s.mailbox {
                    let name = self.registry.join(room, h, mb);
                    s.rooms.push(name);
                }
            }
            ClientFrame::Leave(room) => {
                let h = c.handle();
                let s = c.state_mut();
                if let Some(i) = s.rooms.iter().position(|r| &r[..] == room) {
                    s.rooms.swap_remove(i);
                    self.registry.leave(room, h);
                }
            }
            ClientFrame::Ping(body) => {
                // What can be sent goes first: a PONG confirms delivery of everything
                // published before its PING that the window and the peer allowed.
                self.deliver(c);
                reply(c, server::PONG, &[body]);
            }
            ClientFrame::Ack(id) => match c.state_mut().ack(id) {
                Some(first_sent) => {
                    self.stats.acked.fetch_add(1, Relaxed);
                    self.stats.unacked.fetch_sub(1, Relaxed);
                    self.stats
                        .ack_rtt
                        .record(c.now().saturating_sub(first_sent));
                }
                None => {
                    self.stats.stale_acks.fetch_add(1, Relaxed);
                }
            },
            ClientFrame::Publish {
                flags,
                room,
                payload,
            } => {
                if !self.config.admin {
                    return Err(ProtocolError::PublishNotAllowed);
                }
                let res = if flags & FLAG_UNACKED != 0 {
                    self.publish_unacked(room, payload)
                } else {
                    self.publish(room, payload)
                };
                match res {
                    Ok(p) => {
                        let members = u32::try_from(p.members).unwrap_or(u32::MAX);
                        reply(
                            c,
                            server::PUBLISHED,
                            &[&p.id.to_be_bytes(), &members.to_be_bytes()],
                        );
                    }
                    Err(super::PublishError::Invalid(e)) => return Err(e),
                    // The engine is stopping: nothing to answer.
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    fn hello(&self, c: &mut Conn<'_, Session>, id: &[u8]) -> Result<(), ProtocolError> {
        if c.state().introduced() {
            return Err(ProtocolError::HelloTwice);
        }
        self.check_name("client id", id)?;
        let mailbox = Arc::new(Mailbox::default());
        if let Some(msgs) = self.parked.take(id, c.now()) {
            let dropped = mailbox.restore(msgs, self.config.mailbox);
            self.stats.dropped.fetch_add(dropped as u64, Relaxed);
            self.stats.restored.fetch_add(1, Relaxed);
        }
        let s = c.state_mut();
        s.client = Some(id.into());
        s.mailbox = Some(mailbox);
        self.stats.sessions.fetch_add(1, Relaxed);
        let hb = u32::try_from(self.config.heartbeat.as_millis()).unwrap_or(u32::MAX);
        let window = u16::try_from(self.config.window).unwrap_or(u16::MAX);
        reply(
            c,
            server::WELCOME,
            &[&hb.to_be_bytes(), &window.to_be_bytes()],
        );
        Ok(())
    }

    /// Reports `e` to the peer and closes.
    fn fail(&self, c: &mut Conn<'_, Session>, e: &ProtocolError) -> Action {
        tracing::debug!(peer = ?c.peer_addr(), error = %e, "protocol error");
        self.stats.protocol_errors.fetch_add(1, Relaxed);
        let reason = e.to_string();
        reply(
            c,
            server::ERROR,
            &[&e.code().to_be_bytes(), reason.as_bytes()],
        );
        c.discard(usize::MAX);
        Action::Close
    }

    /// Sends what waits in the mailbox while the window has room and the peer keeps up.
    fn deliver(&self, c: &mut Conn<'_, Session>) {
        let Some(mb) = c.state().mailbox.clone() else {
            return;
        };
        let window = self.config.window;
        let now = c.now();
        let mut sent = 0u64;
        mb.take_while(|m: &Message| {
            if c.state().window.len() >= window || !c.is_writable() {
                return false;
            }
            c.write(&m.frame);
            c.state_mut().sent(m.clone(), now);
            sent += 1;
            true
        });
        if sent > 0 {
            self.stats.delivered.fetch_add(sent, Relaxed);
            self.stats.unacked.fetch_add(sent, Relaxed);
        }
    }

    /// The retransmit rule (see the module docs).
    fn retransmit(&self, c: &mut Conn<'_, Session>) {
        if c.state().window.is_empty() {
            return;
        }
        let now = c.now();
        let after = self.config.retransmit_after;
        // The window lives in the state, which `c` guards: take it out while writing.
        let mut window = std::mem::take(&mut c.state_mut().window);
        let n = Session::retransmit_due(&mut window, now, after, |m| {
            if !c.is_writable() {
                return false;
            }
            c.write(&m.frame);
            true
        });
        c.state_mut().window = window;
        self.stats.retransmitted.fetch_add(n, Relaxed);
    }
}

impl EventHandler for Gateway {
    type State = Session;

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        let _ = self.engine.set(engine.clone());
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, Session>) -> Action {
        if c.inbound_len() > 0 {
            // The client was heard from: resend what is due, before any reply, so a PONG
            // follows the retransmissions its PING triggered.
            self.retransmit(c);
        }
        let mut codec = self.codec;
        loop {
            if !c.is_writable() {
                // Replies could not go out: leave the rest unread until the peer catches up.
                c.pause_reading();
                break;
            }
            match c.next_frame(&mut codec) {
                Ok(Some(bytes)) => {
                    let res = frame::parse_client(bytes).and_then(|f| self.handle(c, f));
                    if let Err(e) = res {
                        return self.fail(c, &e);
                    }
                }
                Ok(None) => break,
                Err(e) => return self.fail(c, &ProtocolError::Codec(e)),
            }
        }
        self.deliver(c);
        Action::None
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, Session>, writable: bool) -> Action {
        if writable {
            c.resume_reading();
            self.deliver(c);
        } else {
            c.pause_reading();
        }
        Action::None
    }

    fn on_close(&self, c: &mut Conn<'_, Session>, reason: CloseReason) -> Action {
        if matches!(reason, CloseReason::IdleTimeout) {
            self.stats.heartbeat_timeouts.fetch_add(1, Relaxed);
        }
        let h = c.handle();
        let now = c.now();
        let s = c.state_mut();
        if !s.introduced() {
            return Action::None;
        }
        for room in std::mem::take(&mut s.rooms) {
            self.registry.leave(&room, h);
        }
        let unacked = s.window.len() as u64;
        let (msgs, dropped) = s.take_undelivered(self.config.window);
        self.stats.unacked.fetch_sub(unacked, Relaxed);
        self.stats.dropped.fetch_add(dropped as u64, Relaxed);
        if let Some(client) = s.client.take()
            && !msgs.is_empty()
        {
            self.parked.park(&client, msgs, now);
            self.stats.parked.fetch_add(1, Relaxed);
        }
        s.mailbox = None;
        self.stats.sessions.fetch_sub(1, Relaxed);
        Action::None
    }
}

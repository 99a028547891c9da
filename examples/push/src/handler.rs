//! The [`EventHandler`] of the gateway: frames in, session bookkeeping, frames out.
//!
//! Each `on_traffic` (bytes arrived, or a wake from a publisher, a login that displaced
//! this session, or a backend's kick) does, in order:
//!
//! 1. if bytes arrived on a live session: re-arm its read deadline (its idle timeout, see
//!    below) and resend the unacknowledged messages that are due ([`delivery`](super::delivery));
//! 2. decode and handle every complete frame, as long as the peer is writable (a reply
//!    could not be sent otherwise: the rest stays unread and reading pauses); a PING first
//!    delivers what waits, so its PONG confirms delivery of everything pushed before it (as
//!    far as the window and the peer allow);
//! 3. deliver: a KICK (then close), QoS0 frames, QoS1 messages from the store.
//!
//! A protocol violation, a refused token or a missed deadline (`on_timeout`, below) writes
//! an ERROR frame and closes the connection once it is sent. `on_writability_changed` pauses reading when the peer falls behind and,
//! once it caught up, resumes reading and delivers what waited. `on_close` leaves every
//! room and the user's session list. `on_tick` (loop 0) purges expired store messages, at
//! most [`Config::purge_budget`](super::Config::purge_budget) per tick. `on_stopping` (the
//! gateway shuts down) tells each live session KICK 3 and each WebSocket peer Close 1001.
//!
//! # Deadlines: AUTH and heartbeats on the read deadline
//!
//! The engine has one idle timeout for all connections, but each session has its own
//! heartbeat (negotiated in AUTH). So the gateway runs with no engine idle timeout and uses
//! each connection's read deadline ([`Conn::set_read_deadline`]) instead: set to
//! [`Config::auth_timeout`](super::Config::auth_timeout) in `on_open`, then to 1.5 × the
//! negotiated heartbeat at AUTH, and re-armed to that from "now" in every `on_traffic` that
//! brings bytes (not per frame). When it passes, `on_timeout` writes ERROR 14 (no AUTH in
//! time) or 15 (no heartbeat in time), on WebSocket followed by a Close frame 1008, and the
//! connection closes (what the socket takes at once goes out; a peer that is gone gets
//! nothing, and is not waited for). Moving a deadline later costs no timer operation in the
//! engine (its one timer per connection only ever moves earlier and re-arms when it fires),
//! so heartbeats still touch no timer. While the gateway has paused reading (the peer not
//! taking its pushes), the deadline is re-armed whenever the writability changes; a peer that
//! does not drain 64 KiB within its idle timeout is closed like a silent one.
//!
//! Time is the engine's: [`Conn::now`], the reading the loop took at the start of the turn.
//! No clock is read here, so the gateway runs on a [`TestClock`](loopwire::TestClock) in
//! tests (see [`Config::clock`](super::Config::clock)).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, EngineHandle, EventHandler, Timeout};

use super::admission::Refusal;
use super::delivery::reply;
use super::frame::{self, ClientFrame, ProtocolError, kick, server};
use super::gateway::{Gateway, millis};
use super::session::{Live, Session};
use super::transport::{self, Transport};
use super::upstream::EventKind;
use super::ws;

impl Gateway {
    fn check_room(&self, room: &[u8]) -> Result<(), ProtocolError> {
        if room.is_empty() || room.len() > self.config.max_name {
            return Err(ProtocolError::BadName {
                what: "room",
                len: room.len(),
                max: self.config.max_name,
            });
        }
        Ok(())
    }

    /// Handles one frame.
    fn handle(&self, c: &mut Conn<'_, Session>, f: ClientFrame<'_>) -> Result<(), ProtocolError> {
        if let ClientFrame::Auth {
            heartbeat_ms,
            token,
        } = f
        {
            return self.authenticate(c, heartbeat_ms, token);
        }
        if !c.state().authenticated() {
            return Err(ProtocolError::NotAuthenticated);
        }
        match f {
            ClientFrame::Auth { .. } => {}
            ClientFrame::Join(room) => self.join(c, room)?,
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
                // pushed before its PING that the window and the peer allowed.
                if self.deliver(c) == Action::None {
                    reply(c, server::PONG, &[body]);
                }
            }
            ClientFrame::Ack(id) => self.ack(c, id),
            ClientFrame::Up(payload) => self.up(c, payload)?,
        }
        Ok(())
    }

    fn join(&self, c: &mut Conn<'_, Session>, room: &[u8]) -> Result<(), ProtocolError> {
        self.check_room(room)?;
        let h = c.handle();
        let s = c.state_mut();
        let Some(live) = s.live.as_deref() else {
            return Err(ProtocolError::NotAuthenticated);
        };
        // Already a member (joined before, or a room the backend assigned): nothing to do.
        if s.rooms.iter().any(|r| &r[..] == room) {
            return Ok(());
        }
        if !live.grants.allows(room) {
            return Err(ProtocolError::RoomNotGranted);
        }
        if s.rooms.len() >= self.config.max_rooms {
            return Err(ProtocolError::TooManyRooms(self.config.max_rooms));
        }
        let name = self.registry.join(room, h, &live.mailbox);
        s.rooms.reserve_exact(1); // exact size: rooms are few, `push` would reserve 4
        s.rooms.push(name);
        Ok(())
    }

    /// Handles one frame (`type | body`): `Some(action)` ends the callback (an error was
    /// reported, or the session was kicked meanwhile).
    pub(crate) fn frame_in(&self, c: &mut Conn<'_, Session>, bytes: &[u8]) -> Option<Action> {
        let res = frame::parse_client(bytes).and_then(|f| self.handle(c, f));
        if let Err(e) = res {
            return Some(self.fail(c, &e));
        }
        // Kicked while handling a PING.
        c.state().closing.then_some(Action::Close)
    }

    /// Every whole length-prefixed frame of a TCP connection, as long as the peer is
    /// writable. `Some(action)` ends the callback; `None`: go on and deliver.
    fn tcp_frames(&self, c: &mut Conn<'_, Session>) -> Option<Action> {
        let mut codec = self.codec;
        loop {
            if !c.is_writable() {
                // Replies could not go out: leave the rest unread until the peer catches up.
                c.pause_reading();
                return None;
            }
            match c.next_frame(&mut codec) {
                Ok(Some(bytes)) => {
                    if let Some(done) = self.frame_in(c, bytes) {
                        return Some(done);
                    }
                }
                Ok(None) => return None,
                Err(e) => return Some(self.fail(c, &ProtocolError::Codec(e))),
            }
        }
    }

    /// Reports `e` to the peer (ERROR; on WebSocket then a Close frame, 1008) and closes;
    /// counted as a protocol error unless the token was refused.
    pub(crate) fn fail(&self, c: &mut Conn<'_, Session>, e: &ProtocolError) -> Action {
        tracing::debug!(peer = ?c.peer_addr(), error = %e, "protocol error");
        if !matches!(e, ProtocolError::Auth(_)) {
            self.stats.protocol_errors.fetch_add(1, Relaxed);
        }
        Self::say_error(c, e)
    }

    /// Writes ERROR for `e` (on WebSocket then a Close frame, 1008), ignores what else
    /// arrives, and returns [`Action::Close`].
    fn say_error(c: &mut Conn<'_, Session>, e: &ProtocolError) -> Action {
        let reason = e.to_string();
        reply(
            c,
            server::ERROR,
            &[&e.code().to_be_bytes(), reason.as_bytes()],
        );
        transport::end(c, ws::close::POLICY_VIOLATION, &reason);
        c.state_mut().closing = true;
        c.discard(usize::MAX);
        Action::Close
    }

    /// A connection over [`Config::max_conns_per_ip`](crate::Config::max_conns_per_ip),
    /// before anything was read: ERROR 16 on the push protocol, an HTTP 429 on the
    /// WebSocket listener (whose peer speaks HTTP until its handshake), then the close. (A
    /// network refusal gets no word: nothing is told to an address not allowed at all.)
    fn refuse_over_ip_limit(&self, c: &mut Conn<'_, Session>) -> Action {
        let max = self.config.max_conns_per_ip;
        if self.on_ws_listener(c) {
            c.write(&ws::HandshakeError::TooManyConnections(max).response());
            return Action::Close;
        }
        Self::say_error(c, &ProtocolError::TooManyConnections(max))
    }

    /// Re-arms a live session's read deadline to its idle timeout from now.
    fn heard(&self, c: &mut Conn<'_, Session>) {
        if let Some(idle) = c.state().live.as_deref().map(Live::idle) {
            c.set_read_deadline(Some(idle));
        }
    }
}

/// The reason a KICK and a Close frame carry when the gateway shuts down.
const SHUTDOWN_REASON: &str = "server shutting down";

impl EventHandler for Gateway {
    type State = Session;

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        let _ = self.engine.set(engine.clone());
        self.learn_ws_listener(engine);
        Action::None
    }

    fn on_open(&self, c: &mut Conn<'_, Session>) -> Action {
        self.stats.connections.fetch_add(1, Relaxed);
        if let Some(ip) = c.peer_addr().map(|a| a.ip()) {
            match self.admission.admit(ip) {
                Ok(()) => c.state_mut().admitted = true,
                Err(refusal) => {
                    let counter = match refusal {
                        Refusal::Network => &self.stats.refused_network,
                        Refusal::TooMany => &self.stats.refused_ip_limit,
                    };
                    counter.fetch_add(1, Relaxed);
                    c.state_mut().closing = true;
                    if refusal == Refusal::TooMany {
                        return self.refuse_over_ip_limit(c);
                    }
                    return Action::Close;
                }
            }
        }
        c.set_read_deadline(Some(self.config.auth_timeout));
        if self.on_ws_listener(c) {
            c.state_mut().transport = Transport::Handshake;
        }
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, Session>) -> Action {
        if c.state().closing {
            c.discard(usize::MAX);
            return Action::Close;
        }
        if c.inbound_len() > 0 && c.state().authenticated() {
            self.heard(c);
            // The client was heard from: resend what is due, before any reply, so a PONG
            // follows the retransmissions its PING triggered.
            self.retransmit(c);
        }
        let done = match c.state().transport {
            Transport::Tcp => self.tcp_frames(c),
            Transport::Handshake | Transport::Ws(_) => self.ws_traffic(c),
        };
        if let Some(action) = done {
            return action;
        }
        self.deliver(c)
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, Session>, writable: bool) -> Action {
        self.heard(c);
        if writable {
            c.resume_reading();
            if !c.state().closing {
                return self.deliver(c);
            }
        } else {
            c.pause_reading();
        }
        Action::None
    }

    /// The gateway stops: a live session gets KICK 3 (reconnect elsewhere), a WebSocket
    /// connection past its handshake the Close frame 1001 "going away" (after the KICK if it
    /// has a session), as far as the socket takes them at once.
    fn on_stopping(&self, c: &mut Conn<'_, Session>) {
        let s = c.state();
        if s.closing || s.transport == Transport::Handshake {
            return;
        }
        if s.authenticated() {
            reply(
                c,
                server::KICK,
                &[&kick::SHUTDOWN.to_be_bytes(), SHUTDOWN_REASON.as_bytes()],
            );
        }
        transport::end(c, ws::close::GOING_AWAY, SHUTDOWN_REASON);
        c.state_mut().closing = true;
    }

    /// The read deadline passed: no AUTH in time (ERROR 14) or no heartbeat in time (ERROR
    /// 15), said before the close (the stats count it in `on_close`, from the reason). A
    /// WebSocket connection still in its handshake is closed without a word: it has no
    /// session to carry an ERROR.
    fn on_timeout(&self, c: &mut Conn<'_, Session>, timeout: Timeout) -> Action {
        let s = c.state();
        if s.closing || timeout != Timeout::Read || s.transport == Transport::Handshake {
            return Action::Close;
        }
        let e = match s.live.as_deref() {
            Some(live) => ProtocolError::HeartbeatTimeout(live.idle()),
            None => ProtocolError::AuthTimeout(self.config.auth_timeout),
        };
        tracing::debug!(peer = ?c.peer_addr(), error = %e, "timed out");
        Self::say_error(c, &e)
    }

    fn on_close(&self, c: &mut Conn<'_, Session>, reason: CloseReason) -> Action {
        self.stats.connections.fetch_sub(1, Relaxed);
        if c.state().admitted
            && let Some(ip) = c.peer_addr().map(|a| a.ip())
        {
            self.admission.release(ip);
        }
        let h = c.handle();
        let s = c.state_mut();
        let timed_out = matches!(reason, CloseReason::ReadTimeout | CloseReason::IdleTimeout);
        let Some(live) = s.live.take() else {
            if timed_out {
                self.stats.auth_timeouts.fetch_add(1, Relaxed);
            }
            return Action::None;
        };
        if timed_out {
            self.stats.heartbeat_timeouts.fetch_add(1, Relaxed);
        }
        for room in std::mem::take(&mut s.rooms) {
            self.registry.leave(&room, h);
        }
        let unacked = std::mem::take(&mut s.window).len() as u64;
        self.stats.unacked.fetch_sub(unacked, Relaxed);
        if self.users.logout(&live.user, h)
            && let Some(cluster) = self.cluster.get()
        {
            cluster.logout(&live.user);
        }
        self.presence_of(&live, c.now(), EventKind::Offline);
        self.stats.sessions.fetch_sub(1, Relaxed);
        Action::None
    }

    fn on_tick(&self, engine: &EngineHandle) -> (Duration, Action) {
        match self
            .store
            .purge_expired(millis(engine.now()), self.config.purge_budget)
        {
            Ok(n) => Gateway::count(&self.stats.purged, n),
            Err(e) => {
                tracing::warn!(error = %e, "store purge failed");
                self.stats.store_errors.fetch_add(1, Relaxed);
            }
        }
        (self.config.purge_every, Action::None)
    }
}

//! [`ClientSession`]: the client side of the protocol as a state machine without I/O. The
//! caller moves bytes (reads from its socket into [`feed`](ClientSession::feed), writes
//! [`output`](ClientSession::output) out) and time ([`poll_timers`](ClientSession::poll_timers));
//! the session parses frames, surfaces [`Event`]s, ACKs and drops duplicate QoS1 ids, and
//! PINGs on the negotiated heartbeat. The blocking [`Client`](super::Client) and the load
//! client (`pushload`, over mio) both drive it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::dedupe::{Dedupe, Seen};
use super::error::ClientError;
use super::event::Event;
use crate::frame::{self, ClientFrame, LEN_BYTES, MAX_PING, ServerFrame};

/// Settings of a [`ClientSession`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// The heartbeat interval asked for in AUTH (zero: the server's default); the server
    /// clamps it and WELCOME says what was granted.
    pub heartbeat: Duration,
    /// ACK every new QoS1 message as it is surfaced (else the caller calls
    /// [`ClientSession::ack`]).
    pub auto_ack: bool,
    /// Longest server frame accepted, length field included (the server's default is 16 KiB).
    pub max_frame: usize,
    /// Most QoS1 ids kept surfaced-but-unacknowledged for deduplication ([`Dedupe`]).
    pub dedupe_window: usize,
}

impl Default for SessionOptions {
    /// Server's heartbeat, automatic ACKs, 16 KiB frames, 1024 pending ids.
    fn default() -> Self {
        Self {
            heartbeat: Duration::ZERO,
            auto_ack: true,
            max_frame: 16 * 1024,
            dedupe_window: 1024,
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// No connection.
    Disconnected,
    /// AUTH (and the JOINs) queued or sent; no WELCOME yet.
    Authenticating,
    /// WELCOME received.
    Live,
    /// The server sent KICK or ERROR; it is closing the connection.
    Ended,
}

/// Body of the PINGs sent by [`ClientSession::poll_timers`] (a PONG with it is a heartbeat's).
pub const HEARTBEAT_PING: &[u8] = b"hb";

/// The protocol state of one client across its connections (see the module docs). Rooms
/// joined and the QoS1 dedupe set survive a reconnect; buffers and the heartbeat do not.
#[derive(Debug)]
pub struct ClientSession {
    opts: SessionOptions,
    token: String,
    rooms: Vec<Vec<u8>>,
    state: SessionState,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<Event>,
    dedupe: Dedupe,
    heartbeat: Option<Duration>,
    next_ping: Option<Instant>,
}

impl ClientSession {
    /// A disconnected session that will authenticate with `token`.
    pub fn new(token: impl Into<String>, opts: SessionOptions) -> Self {
        Self {
            dedupe: Dedupe::new(opts.dedupe_window),
            opts,
            token: token.into(),
            rooms: Vec::new(),
            state: SessionState::Disconnected,
            inbuf: Vec::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            heartbeat: None,
            next_ping: None,
        }
    }

    /// The token for the next AUTH (a fresh one before reconnecting, say).
    pub fn set_token(&mut self, token: impl Into<String>) {
        self.token = token.into();
    }

    /// A new connection is up: forgets the old one's buffers and queues AUTH and a JOIN per
    /// room joined so far. Events not yet taken stay queued.
    pub fn connected(&mut self) {
        self.inbuf.clear();
        self.out.clear();
        self.heartbeat = None;
        self.next_ping = None;
        self.state = SessionState::Authenticating;
        let ms = u32::try_from(self.opts.heartbeat.as_millis()).unwrap_or(u32::MAX);
        let token = std::mem::take(&mut self.token);
        self.queue(&ClientFrame::Auth {
            heartbeat_ms: ms,
            token: token.as_bytes(),
        });
        self.token = token;
        let rooms = std::mem::take(&mut self.rooms);
        for r in &rooms {
            self.queue(&ClientFrame::Join(r));
        }
        self.rooms = rooms;
    }

    /// The connection is gone (buffers dropped; rooms and dedupe kept).
    pub fn disconnected(&mut self) {
        self.inbuf.clear();
        self.out.clear();
        self.heartbeat = None;
        self.next_ping = None;
        self.state = SessionState::Disconnected;
    }

    /// Joins `room` now (if connected) and after every reconnect.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for an empty room or one over 255 bytes.
    pub fn join(&mut self, room: &[u8]) -> Result<(), ClientError> {
        if room.is_empty() || room.len() > 255 {
            return Err(ClientError::InvalidArgument("a room is 1 to 255 bytes"));
        }
        if !self.rooms.iter().any(|r| r == room) {
            self.rooms.push(room.to_vec());
        }
        if self.is_connected() {
            self.queue(&ClientFrame::Join(room));
        }
        Ok(())
    }

    /// Leaves `room` now (if connected) and no longer joins it after a reconnect.
    pub fn leave(&mut self, room: &[u8]) {
        self.rooms.retain(|r| r != room);
        if self.is_connected() {
            self.queue(&ClientFrame::Leave(room));
        }
    }

    /// Acknowledges QoS1 message `id` (not needed with [`SessionOptions::auto_ack`]); 0 is
    /// ignored. When disconnected the ACK is only recorded: the server resends the message
    /// after the reconnect, and the session ACKs that duplicate then.
    pub fn ack(&mut self, id: u64) {
        if id == 0 {
            return;
        }
        self.dedupe.acked(id);
        if self.is_connected() {
            self.queue(&ClientFrame::Ack(id));
        }
    }

    /// Queues a PING with `data` (at most 16 bytes); its PONG comes back as
    /// [`Event::Pong`] after everything the server sent before handling it.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] over 16 bytes; [`ClientError::Closed`] when not
    /// connected.
    pub fn ping(&mut self, data: &[u8]) -> Result<(), ClientError> {
        if data.len() > MAX_PING {
            return Err(ClientError::InvalidArgument(
                "a PING carries at most 16 bytes",
            ));
        }
        if !self.is_connected() {
            return Err(ClientError::Closed);
        }
        self.queue(&ClientFrame::Ping(data));
        Ok(())
    }

    /// Takes received bytes: every whole frame in them (with what came before) becomes
    /// events, ACKs or nothing (duplicates).
    ///
    /// # Errors
    /// [`ClientError::FrameTooLarge`] or [`ClientError::Protocol`]: the stream is unusable,
    /// drop the connection.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.inbuf.extend_from_slice(bytes);
        let mut inbuf = std::mem::take(&mut self.inbuf);
        let r = self.parse_all(&mut inbuf);
        self.inbuf = inbuf;
        if self.inbuf.is_empty() && self.inbuf.capacity() > 64 * 1024 {
            self.inbuf = Vec::new();
        }
        r
    }

    fn parse_all(&mut self, inbuf: &mut Vec<u8>) -> Result<(), ClientError> {
        let mut at = 0;
        let result = loop {
            let rest = &inbuf[at..];
            let Some(head) = rest.get(..LEN_BYTES) else {
                break Ok(());
            };
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len.saturating_add(LEN_BYTES) > self.opts.max_frame {
                break Err(ClientError::FrameTooLarge {
                    len: len.saturating_add(LEN_BYTES),
                    max: self.opts.max_frame,
                });
            }
            let Some(body) = rest.get(LEN_BYTES..LEN_BYTES + len) else {
                break Ok(());
            };
            at += LEN_BYTES + len;
            match frame::parse_server(body) {
                Ok(f) => self.on_frame(f),
                Err(e) => break Err(e.into()),
            }
        };
        inbuf.drain(..at);
        result
    }

    fn on_frame(&mut self, f: ServerFrame<'_>) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let ev = match f {
            ServerFrame::Welcome {
                heartbeat_ms,
                window,
                user,
            } => {
                let heartbeat = Duration::from_millis(u64::from(heartbeat_ms));
                self.state = SessionState::Live;
                self.heartbeat = Some(heartbeat);
                self.next_ping = None;
                Event::Welcome {
                    heartbeat,
                    window,
                    user: text(user),
                }
            }
            ServerFrame::Pong(b) => Event::Pong(b.to_vec()),
            ServerFrame::Push {
                id,
                kind,
                room,
                payload,
            } => {
                if id != 0 {
                    match self.dedupe.check(id) {
                        Seen::New if self.opts.auto_ack => self.ack(id),
                        Seen::New => {}
                        Seen::Acked => {
                            self.queue(&ClientFrame::Ack(id));
                            return;
                        }
                        Seen::Pending => return,
                    }
                }
                Event::Push {
                    id,
                    kind,
                    room: room.to_vec(),
                    payload: payload.to_vec(),
                }
            }
            ServerFrame::Kick { code, reason } => {
                self.state = SessionState::Ended;
                Event::Kicked {
                    code,
                    reason: text(reason),
                }
            }
            ServerFrame::Error { code, reason } => {
                self.state = SessionState::Ended;
                Event::Error {
                    code,
                    reason: text(reason),
                }
            }
        };
        self.events.push_back(ev);
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes waiting to be written to the connection.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Drops the first `n` bytes of [`output`](Self::output) (they were written).
    pub fn consume_output(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
        if self.out.is_empty() && self.out.capacity() > 4096 {
            self.out = Vec::new();
        }
    }

    /// Runs the heartbeat at time `now`: once live, a PING ([`HEARTBEAT_PING`]) every half
    /// of the negotiated interval, counted from the WELCOME's first `poll_timers`. Returns
    /// when to call again (`None`: no timer, not live).
    pub fn poll_timers(&mut self, now: Instant) -> Option<Instant> {
        let every = (self.heartbeat? / 2).max(Duration::from_millis(1));
        if self.state != SessionState::Live {
            return None;
        }
        let due = *self.next_ping.get_or_insert(now + every);
        if now < due {
            return Some(due);
        }
        self.queue(&ClientFrame::Ping(HEARTBEAT_PING));
        let next = now + every;
        self.next_ping = Some(next);
        Some(next)
    }

    /// Where the session is.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The negotiated heartbeat interval, once live.
    pub fn heartbeat(&self) -> Option<Duration> {
        self.heartbeat
    }

    /// Rooms joined (re-joined after each reconnect).
    pub fn rooms(&self) -> impl Iterator<Item = &[u8]> {
        self.rooms.iter().map(Vec::as_slice)
    }

    /// The QoS1 deduplication state.
    pub fn dedupe(&self) -> &Dedupe {
        &self.dedupe
    }

    fn is_connected(&self) -> bool {
        matches!(
            self.state,
            SessionState::Authenticating | SessionState::Live
        )
    }

    fn queue(&mut self, f: &ClientFrame<'_>) {
        // Client frames are small (a token is at most 4 KiB, a room 255 bytes): they fit any
        // sane frame; an oversize one is the server's to refuse.
        let _ = frame::encode_client(f, usize::MAX, &mut self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{PushKind, encode, encode_push, server};

    fn welcome(hb_ms: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode(
            server::WELCOME,
            &[&hb_ms.to_be_bytes(), &64u16.to_be_bytes(), b"u1"],
            1024,
            &mut out,
        )
        .unwrap();
        out
    }

    fn live(auto_ack: bool) -> ClientSession {
        let opts = SessionOptions {
            auto_ack,
            ..SessionOptions::default()
        };
        let mut s = ClientSession::new("tok", opts);
        s.join(b"news").unwrap();
        s.connected();
        let n = s.output().len();
        s.consume_output(n);
        s.feed(&welcome(1000)).unwrap();
        assert!(matches!(s.poll_event(), Some(Event::Welcome { .. })));
        s
    }

    #[test]
    fn connecting_queues_auth_then_the_joins() {
        let mut s = ClientSession::new("tok", SessionOptions::default());
        s.join(b"a").unwrap();
        s.join(b"a").unwrap();
        s.connected();
        let mut want = Vec::new();
        let auth = ClientFrame::Auth {
            heartbeat_ms: 0,
            token: b"tok",
        };
        frame::encode_client(&auth, 1024, &mut want).unwrap();
        frame::encode_client(&ClientFrame::Join(b"a"), 1024, &mut want).unwrap();
        assert_eq!(s.output(), want);
    }

    #[test]
    fn frames_split_anywhere_are_reassembled_and_duplicates_dropped() {
        let mut s = live(true);
        let mut bytes = encode_push(7, PushKind::Room, b"news", b"hi", 1024).unwrap();
        bytes.extend(encode_push(7, PushKind::Room, b"news", b"hi", 1024).unwrap());
        bytes.extend(encode_push(0, PushKind::All, b"", b"q0", 1024).unwrap());
        for b in bytes.chunks(3) {
            s.feed(b).unwrap();
        }
        assert!(matches!(s.poll_event(), Some(Event::Push { id: 7, .. })));
        assert!(matches!(s.poll_event(), Some(Event::Push { id: 0, .. })));
        assert_eq!(s.poll_event(), None);
        // ACKed twice: once new, once again for the resend.
        let mut acks = Vec::new();
        for _ in 0..2 {
            frame::encode_client(&ClientFrame::Ack(7), 64, &mut acks).unwrap();
        }
        assert_eq!(s.output(), acks);
        assert_eq!(s.dedupe().duplicates(), 1);
    }

    #[test]
    fn heartbeat_pings_every_half_interval() {
        let mut s = live(true);
        let t0 = Instant::now();
        assert_eq!(s.poll_timers(t0), Some(t0 + Duration::from_millis(500)));
        assert!(s.output().is_empty());
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(s.poll_timers(t1), Some(t1 + Duration::from_millis(500)));
        let mut ping = Vec::new();
        frame::encode_client(&ClientFrame::Ping(HEARTBEAT_PING), 64, &mut ping).unwrap();
        assert_eq!(s.output(), ping);
    }

    #[test]
    fn oversize_and_malformed_frames_are_errors() {
        let mut s = live(false);
        assert!(matches!(
            s.feed(&[0, 1, 0, 0]),
            Err(ClientError::FrameTooLarge { .. })
        ));
        let mut s = live(false);
        assert!(matches!(
            s.feed(&[0, 0, 0, 1, 0x7f]),
            Err(ClientError::Protocol(_))
        ));
        assert!(matches!(s.join(b""), Err(ClientError::InvalidArgument(_))));
    }
}

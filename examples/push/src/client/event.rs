//! [`Event`]: what a [`ClientSession`](super::ClientSession) surfaces from the server's frames.

use std::time::Duration;

use crate::frame::PushKind;

/// One thing the server said, owned (the session's input buffer is reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// AUTH was accepted: the session is live.
    Welcome {
        /// The negotiated heartbeat interval (the client sends something at least this often;
        /// the session PINGs every half of it).
        heartbeat: Duration,
        /// Most QoS1 messages the server keeps unacknowledged on this session.
        window: u16,
        /// The user the token identified.
        user: String,
    },
    /// A message. QoS1 (`id != 0`) messages are surfaced once per id (see
    /// [`Dedupe`](super::Dedupe)).
    Push {
        /// The message id; 0 for QoS0 (nothing to acknowledge).
        id: u64,
        /// To whom it was addressed.
        kind: PushKind,
        /// The room (empty unless `kind` is [`PushKind::Room`]).
        room: Vec<u8>,
        /// The message.
        payload: Vec<u8>,
    },
    /// The server ended the session with a KICK (then closes the connection).
    Kicked {
        /// [`frame::kick`](crate::frame::kick) code.
        code: u16,
        /// The server's (or backend's) reason.
        reason: String,
    },
    /// The server sent an ERROR (then closes the connection).
    Error {
        /// The ERROR code (`PROTOCOL.md`).
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The answer to a PING, with its bytes.
    Pong(Vec<u8>),
}

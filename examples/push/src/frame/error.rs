//! [`ProtocolError`]: every way a client can break the protocol, with the code its ERROR
//! frame carries.

use loopwire::codec::CodecError;

use crate::auth::AuthError;

/// What a peer did wrong, or what a publisher asked that cannot be sent. Every variant has
/// a [`code`](Self::code), sent in the ERROR frame before the connection is closed (the
/// table is in `PROTOCOL.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The framing is broken: a frame longer than the maximum, or a corrupt length.
    #[error("bad framing: {0}")]
    Codec(#[from] CodecError),
    /// A WebSocket binary message that is not exactly one frame (its length field disagrees
    /// with the message's length: a part of a frame, or several frames).
    #[error("a {len}-byte WebSocket message is not exactly one frame")]
    NotOneFrame {
        /// The message's length.
        len: usize,
    },
    /// A frame of length 0 (no type byte).
    #[error("empty frame")]
    Empty,
    /// A type byte this side does not know (the retired PUBLISH, 0x06, included).
    #[error("unknown frame type {0:#04x}")]
    UnknownType(u8),
    /// A frame whose body does not match its type.
    #[error("malformed {what} frame")]
    Malformed {
        /// The frame's name.
        what: &'static str,
    },
    /// A room name that is empty or longer than the limit.
    #[error("{what} must be 1 to {max} bytes, got {len}")]
    BadName {
        /// "room".
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A frame other than AUTH before AUTH.
    #[error("AUTH must come first")]
    NotAuthenticated,
    /// A second AUTH.
    #[error("AUTH was already sent")]
    AuthTwice,
    /// A JOIN beyond the per-session room limit.
    #[error("at most {0} rooms per session")]
    TooManyRooms(usize),
    /// A message that would not fit in one frame.
    #[error("a {len}-byte message does not fit a {max}-byte frame")]
    TooLarge {
        /// The frame it would need.
        len: usize,
        /// The maximum frame.
        max: usize,
    },
    /// A JOIN of a room the session's token does not grant.
    #[error("the token does not grant this room")]
    RoomNotGranted,
    /// UP frames faster than the session's rate limit.
    #[error("UP frames over {0} per second")]
    RateLimited(u32),
    /// No AUTH within [`Config::auth_timeout`](crate::Config::auth_timeout) of the
    /// connection.
    #[error("no AUTH within {0:?}")]
    AuthTimeout(std::time::Duration),
    /// Nothing heard from a live session within 1.5 × its heartbeat (or, while it was not
    /// reading its pushes, no progress for that long).
    #[error("no heartbeat within {0:?}")]
    HeartbeatTimeout(std::time::Duration),
    /// The peer's address already has
    /// [`Config::max_conns_per_ip`](crate::Config::max_conns_per_ip) connections open: said
    /// at once, before anything is read, then the connection is closed.
    #[error("at most {0} connections per address")]
    TooManyConnections(usize),
    /// The token was refused (codes 100 to 199, [`AuthError::code`]).
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
}

impl ProtocolError {
    /// The code sent in the ERROR frame. 10 is retired (it was "PUBLISH not allowed" in
    /// protocol v1; a PUBLISH is now an unknown type, 4).
    pub fn code(&self) -> u16 {
        match self {
            Self::Codec(CodecError::FrameTooLong { .. }) => 1,
            Self::Codec(_) | Self::NotOneFrame { .. } => 2,
            Self::Empty => 3,
            Self::UnknownType(_) => 4,
            Self::Malformed { .. } => 5,
            Self::BadName { .. } => 6,
            Self::NotAuthenticated => 7,
            Self::AuthTwice => 8,
            Self::TooManyRooms(_) => 9,
            Self::TooLarge { .. } => 11,
            Self::RoomNotGranted => 12,
            Self::RateLimited(_) => 13,
            Self::AuthTimeout(_) => super::timeout::AUTH,
            Self::HeartbeatTimeout(_) => super::timeout::HEARTBEAT,
            Self::TooManyConnections(_) => 16,
            Self::Auth(e) => e.code(),
        }
    }
}

//! [`ClientError`]: every way the client library fails, typed.

use std::io;
use std::time::Duration;

use crate::frame::ProtocolError;

/// What went wrong on the client side of the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A socket operation failed (connect, read, write).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The server sent bytes that are not a valid server frame.
    #[error("bad frame from the server: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server announced a frame longer than the client's maximum.
    #[error("server frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// The frame's length, length field included.
        len: usize,
        /// [`SessionOptions::max_frame`](super::SessionOptions::max_frame).
        max: usize,
    },
    /// The server answered with an ERROR frame (a refused token: codes 100 to 118; a
    /// protocol violation: 1 to 12). Reconnecting with the same token would not help.
    #[error("refused by the server: ERROR {code}: {reason}")]
    Rejected {
        /// The ERROR code (`PROTOCOL.md`).
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The session was replaced by a newer login of the same user (KICK code 1); the client
    /// does not reconnect, or the two logins would replace each other forever.
    #[error("replaced by a newer login of the same user: {reason}")]
    Replaced {
        /// The server's reason.
        reason: String,
    },
    /// The connection ended and reconnecting is disabled.
    #[error("the connection is closed")]
    Closed,
    /// Every connection attempt allowed by the backoff failed.
    #[error("gave up after {attempts} connection attempts")]
    GaveUp {
        /// Attempts made after a backoff delay (a first, immediate one not counted).
        attempts: u32,
    },
    /// No WELCOME arrived in time after AUTH.
    #[error("no WELCOME within {0:?}")]
    Timeout(Duration),
    /// An argument the protocol cannot carry (an empty or over-long room, a PING body over
    /// 16 bytes, an address that resolves to nothing).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

//! The two transports of a client session, and the writing (the "out" side) that hides them: the
//! protocol logic ([`handler`](super::handler), [`login`](super::login),
//! [`delivery`](super::delivery)) produces whole push frames (`len | type | body`) and hands
//! them to `write_frame`; this module puts them on the wire as they are (TCP) or as one
//! binary WebSocket message each (RFC 6455, see [`ws`](super::ws)).
//!
//! On WebSocket a message carries the frame *with* its length field, the same bytes as on
//! TCP, so a client can share its codec between the two and the server can send a stored or
//! shared frame behind a 2-to-10-byte header without copying it.
//!
//! `end` writes the WebSocket Close frame that follows an ERROR or a KICK (nothing on TCP,
//! where closing the connection says it all).

use loopwire::Conn;

use super::frame;
use super::session::Session;
use super::ws::{Control, Decoder, FrameHead, OpCode};

/// How a connection carries the push protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// Length-prefixed frames straight on TCP (the gateway's main listener).
    #[default]
    Tcp,
    /// Accepted on the WebSocket listener; the HTTP upgrade request has not been answered
    /// yet.
    Handshake,
    /// WebSocket after the handshake: one push frame per binary message, decoded by this
    /// [`Decoder`] (16 bytes, no buffer).
    Ws(Decoder),
}

impl Transport {
    /// Whether frames go out as WebSocket messages (or the handshake is pending).
    pub fn is_ws(&self) -> bool {
        !matches!(self, Self::Tcp)
    }
}

/// Writes one whole push frame made of `parts` (length field included) the way the
/// connection's transport carries it: as is, or behind a WebSocket binary header (one
/// gathered write, no copy of the parts).
pub(crate) fn write_frame(c: &mut Conn<'_, Session>, parts: &[&[u8]]) {
    if c.state().transport == Transport::Tcp {
        c.writev(parts);
        return;
    }
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let head = FrameHead::server(OpCode::Binary, len).encode();
    c.write(head.as_bytes());
    c.writev(parts);
}

/// Encodes a small server frame (type `ty`, body `parts`) and writes it with
/// [`write_frame`]. The gateway's own frames always fit (no `max_frame` applies to them).
pub(crate) fn reply(c: &mut Conn<'_, Session>, ty: u8, parts: &[&[u8]]) {
    let mut buf = Vec::new();
    if frame::encode(ty, parts, usize::MAX, &mut buf).is_ok() {
        write_frame(c, &[&buf]);
    }
}

/// On WebSocket, writes a Close frame with `code` and `reason` (cut to fit): what follows an
/// ERROR or a KICK before the server closes. Nothing on TCP.
pub(crate) fn end(c: &mut Conn<'_, Session>, code: u16, reason: &str) {
    if matches!(c.state().transport, Transport::Ws(_)) {
        c.write(Control::close(code, reason).as_bytes());
    }
}

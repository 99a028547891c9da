//! The push protocol's frames (v2): their type bytes, their bodies, and the
//! [`ProtocolError`] every violation is reported as. The specification is
//! `examples/push/PROTOCOL.md`.
//!
//! Every frame is `len: u32 BE | type: u8 | body`, `len` counting the type byte and the body
//! (so `len >= 1`), decoded with [`LengthFieldCodec`] (4-byte big-endian field, stripped).
//! Both sides are here: the server parses [`ClientFrame`]s and writes server frames; the
//! load client and the tests do the opposite with [`ServerFrame`] and [`encode_client`].
//! Parsing ([`parse_client`], [`parse_server`]) borrows from the input (no copy) and never panics on any bytes; every
//! length a peer sends is checked.

mod error;
mod parse;

use loopwire::codec::{CodecError, LengthFieldCodec};

pub use error::ProtocolError;
pub use parse::{parse_client, parse_server};

/// Bytes of the length field in front of every frame.
pub const LEN_BYTES: usize = 4;

/// Frame types, client to server.
pub mod client {
    /// `AUTH heartbeat_ms: u32, token`: the first frame of a session.
    pub const AUTH: u8 = 0x01;
    /// `JOIN room`: deliver the room's messages to this session (if the token grants it).
    pub const JOIN: u8 = 0x02;
    /// `LEAVE room`: stop delivering them.
    pub const LEAVE: u8 = 0x03;
    /// `PING opaque`: a heartbeat; the opaque bytes (at most 16) come back in the PONG.
    pub const PING: u8 = 0x04;
    /// `ACK id: u64`: the client has message `id`; the server forgets it.
    pub const ACK: u8 = 0x05;
    /// `UP payload`: opaque data for the service's backend (0x06 is v1's retired PUBLISH).
    pub const UP: u8 = 0x07;
}

/// Frame types, server to client.
pub mod server {
    /// `WELCOME heartbeat_ms: u32, window: u16, user`: the answer to a valid AUTH.
    pub const WELCOME: u8 = 0x81;
    /// `PONG opaque`: the answer to PING, echoing its bytes.
    pub const PONG: u8 = 0x82;
    /// `PUSH id: u64, kind: u8, room_len: u8, room, payload`: a message; `id` 0 needs no ACK.
    pub const PUSH: u8 = 0x83;
    /// `ERROR code: u16, reason (UTF-8)`: sent before the server closes the connection.
    pub const ERROR: u8 = 0x84;
    /// `KICK code: u16, reason (UTF-8)`: the session is ended by the service; then close.
    pub const KICK: u8 = 0x86;
}

/// KICK codes.
pub mod kick {
    /// A newer login of the same user took this session's place.
    pub const REPLACED: u16 = 1;
    /// The backend ended the session (`POST /v1/kick`); the reason is the backend's.
    pub const BY_BACKEND: u16 = 2;
    /// The gateway is shutting down: reconnect (through the dispatcher, to another node).
    pub const SHUTDOWN: u16 = 3;
}

/// ERROR codes that end a session for its timing, not for what it sent: a client may
/// reconnect after them (see `PROTOCOL.md`).
pub mod timeout {
    /// 14: no AUTH within the server's AUTH timeout.
    pub const AUTH: u16 = 14;
    /// 15: nothing heard for 1.5 × the negotiated heartbeat.
    pub const HEARTBEAT: u16 = 15;
}

/// Longest PING body echoed in a PONG.
pub const MAX_PING: usize = 16;

/// Who a PUSH was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    /// To the user (its sessions): kind 0.
    User,
    /// To a room's members: kind 1, the room is named.
    Room,
    /// To every session: kind 2.
    All,
}

impl PushKind {
    /// The kind byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::User => 0,
            Self::Room => 1,
            Self::All => 2,
        }
    }

    /// The kind of a kind byte, if it is one.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::User),
            1 => Some(Self::Room),
            2 => Some(Self::All),
            _ => None,
        }
    }
}

/// The codec of the protocol: a 4-byte big-endian length, stripped; frames up to `max_frame`
/// bytes, length field included.
///
/// # Errors
/// [`CodecError::InvalidConfig`] when `max_frame` is shorter than the length field plus a type
/// byte.
pub fn codec(max_frame: usize) -> Result<LengthFieldCodec, CodecError> {
    LengthFieldCodec::builder()
        .max_frame_length(max_frame)
        .length_field_length(LEN_BYTES)
        .build()
}

/// A frame from a client, borrowing its bytes from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFrame<'a> {
    /// AUTH.
    Auth {
        /// The heartbeat interval the client asks for, ms (0: the server's default).
        heartbeat_ms: u32,
        /// The token (a JWT).
        token: &'a [u8],
    },
    /// JOIN.
    Join(&'a [u8]),
    /// LEAVE.
    Leave(&'a [u8]),
    /// PING with its opaque bytes.
    Ping(&'a [u8]),
    /// ACK of a message id.
    Ack(u64),
    /// UP with its opaque payload.
    Up(&'a [u8]),
}

/// A frame from the server, borrowing its bytes from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFrame<'a> {
    /// WELCOME.
    Welcome {
        /// The heartbeat interval the client must keep, in milliseconds (negotiated).
        heartbeat_ms: u32,
        /// How many messages may be unacknowledged at once.
        window: u16,
        /// The user the token identified.
        user: &'a [u8],
    },
    /// PONG with the PING's opaque bytes.
    Pong(&'a [u8]),
    /// PUSH.
    Push {
        /// Message id (0: no ACK expected).
        id: u64,
        /// Who it was addressed to.
        kind: PushKind,
        /// The room it was published to (empty unless `kind` is [`PushKind::Room`]).
        room: &'a [u8],
        /// The message.
        payload: &'a [u8],
    },
    /// ERROR.
    Error {
        /// [`ProtocolError::code`].
        code: u16,
        /// Human-readable reason.
        reason: &'a [u8],
    },
    /// KICK.
    Kick {
        /// [`kick`] code.
        code: u16,
        /// Human-readable reason.
        reason: &'a [u8],
    },
}

/// Appends one frame, `ty` then `parts`, to `out`.
///
/// # Errors
/// [`ProtocolError::TooLarge`] when the frame would exceed `max_frame` bytes (nothing is
/// appended then).
pub fn encode(
    ty: u8,
    parts: &[&[u8]],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let body: usize = parts.iter().map(|p| p.len()).sum();
    let len = LEN_BYTES + 1 + body;
    match u32::try_from(1 + body) {
        Ok(field) if len <= max_frame => {
            out.reserve(len);
            out.extend_from_slice(&field.to_be_bytes());
            out.push(ty);
            for p in parts {
                out.extend_from_slice(p);
            }
            Ok(())
        }
        _ => Err(ProtocolError::TooLarge {
            len,
            max: max_frame,
        }),
    }
}

/// The part of a PUSH body after the id: `kind: u8, room_len: u8, room, payload`. What the
/// QoS1 store keeps per message, so a stored message is sent as one header
/// ([`push_head`]) plus these shared bytes.
///
/// # Errors
/// [`ProtocolError::BadName`] for a room over 255 bytes, or a room with a kind other than
/// [`PushKind::Room`].
pub fn envelope(kind: PushKind, room: &[u8], payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let room_len = u8::try_from(room.len())
        .ok()
        .filter(|&n| (n > 0) == (kind == PushKind::Room))
        .ok_or(ProtocolError::BadName {
            what: "room",
            len: room.len(),
            max: 255,
        })?;
    let mut out = Vec::with_capacity(2 + room.len() + payload.len());
    out.push(kind.byte());
    out.push(room_len);
    out.extend_from_slice(room);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Bytes of [`push_head`].
pub const PUSH_HEAD: usize = LEN_BYTES + 1 + 8;

/// The first bytes of a PUSH frame for message `id` whose [`envelope`] is `envelope_len`
/// bytes: length, type, id.
///
/// # Errors
/// [`ProtocolError::TooLarge`] when the frame would exceed `max_frame` bytes.
pub fn push_head(
    id: u64,
    envelope_len: usize,
    max_frame: usize,
) -> Result<[u8; PUSH_HEAD], ProtocolError> {
    let len = PUSH_HEAD + envelope_len;
    let field = u32::try_from(len - LEN_BYTES)
        .ok()
        .filter(|_| len <= max_frame)
        .ok_or(ProtocolError::TooLarge {
            len,
            max: max_frame,
        })?;
    let mut head = [0u8; PUSH_HEAD];
    head[..LEN_BYTES].copy_from_slice(&field.to_be_bytes());
    head[LEN_BYTES] = server::PUSH;
    head[LEN_BYTES + 1..].copy_from_slice(&id.to_be_bytes());
    Ok(head)
}

/// A whole PUSH frame: [`push_head`] then the [`envelope`].
///
/// # Errors
/// As [`envelope`] and [`push_head`].
pub fn encode_push(
    id: u64,
    kind: PushKind,
    room: &[u8],
    payload: &[u8],
    max_frame: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let env = envelope(kind, room, payload)?;
    let head = push_head(id, env.len(), max_frame)?;
    let mut out = Vec::with_capacity(head.len() + env.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(&env);
    Ok(out)
}

/// Appends a client frame to `out` (for clients: the load client, the tests).
///
/// # Errors
/// [`ProtocolError::TooLarge`] beyond `max_frame`.
pub fn encode_client(
    frame: &ClientFrame<'_>,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    match *frame {
        ClientFrame::Auth {
            heartbeat_ms,
            token,
        } => encode(
            client::AUTH,
            &[&heartbeat_ms.to_be_bytes(), token],
            max_frame,
            out,
        ),
        ClientFrame::Join(room) => encode(client::JOIN, &[room], max_frame, out),
        ClientFrame::Leave(room) => encode(client::LEAVE, &[room], max_frame, out),
        ClientFrame::Ping(b) => encode(client::PING, &[b], max_frame, out),
        ClientFrame::Ack(id) => encode(client::ACK, &[&id.to_be_bytes()], max_frame, out),
        ClientFrame::Up(p) => encode(client::UP, &[p], max_frame, out),
    }
}

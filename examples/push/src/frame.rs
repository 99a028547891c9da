//! The push protocol's frames: their type bytes, their bodies, and the [`ProtocolError`]
//! every violation is reported as.
//!
//! Every frame is `len: u32 BE | type: u8 | body`, `len` counting the type byte and the body
//! (so `len >= 1`), decoded with [`LengthFieldCodec`] (4-byte big-endian field, stripped).
//! Both sides are here: the server parses [`ClientFrame`]s and writes server frames; the
//! load generator and the tests do the opposite with [`ServerFrame`] and
//! [`encode_client`]. Parsing borrows from the input (no copy) and never panics on any
//! bytes; every length a peer sends is checked.

use loopwire::codec::{CodecError, LengthFieldCodec};

/// Bytes of the length field in front of every frame.
pub const LEN_BYTES: usize = 4;

/// Frame types, client to server.
pub mod client {
    /// `HELLO client_id`: the first frame of a session (id: 1..=`max_name` bytes).
    pub const HELLO: u8 = 0x01;
    /// `JOIN room`: deliver the room's messages to this session.
    pub const JOIN: u8 = 0x02;
    /// `LEAVE room`: stop delivering them.
    pub const LEAVE: u8 = 0x03;
    /// `PING opaque`: a heartbeat; the opaque bytes (at most 16) come back in the PONG.
    pub const PING: u8 = 0x04;
    /// `ACK id: u64`: the client has message `id`; the server forgets it.
    pub const ACK: u8 = 0x05;
    /// `PUBLISH flags: u8, room_len: u8, room, payload`: publish to a room (admin sessions
    /// only, see [`Config::admin`](crate::Config::admin)); flag bit 0 asks for
    /// unacknowledged (broadcast) delivery.
    pub const PUBLISH: u8 = 0x06;
}

/// Frame types, server to client.
pub mod server {
    /// `WELCOME heartbeat_ms: u32, window: u16`: the answer to HELLO.
    pub const WELCOME: u8 = 0x81;
    /// `PONG opaque`: the answer to PING, echoing its bytes.
    pub const PONG: u8 = 0x82;
    /// `PUSH id: u64, room_len: u8, room, payload`: a message; `id` 0 needs no ACK.
    pub const PUSH: u8 = 0x83;
    /// `ERROR code: u16, reason (UTF-8)`: sent before the server closes the connection.
    pub const ERROR: u8 = 0x84;
    /// `PUBLISHED id: u64, members: u32`: the answer to PUBLISH.
    pub const PUBLISHED: u8 = 0x85;
}

/// PUBLISH flag: deliver without acknowledgement, through the engine's broadcast.
pub const FLAG_UNACKED: u8 = 0x01;

/// Longest PING body echoed in a PONG.
pub const MAX_PING: usize = 16;

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

/// What a peer did wrong, or what a publisher asked that cannot be sent. Every variant has
/// an [`code`](Self::code) sent in the ERROR frame before the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The framing is broken: a frame longer than the maximum, or a corrupt length.
    #[error("bad framing: {0}")]
    Codec(#[from] CodecError),
    /// A frame of length 0 (no type byte).
    #[error("empty frame")]
    Empty,
    /// A type byte this side does not know.
    #[error("unknown frame type {0:#04x}")]
    UnknownType(u8),
    /// A frame whose body does not match its type.
    #[error("malformed {what} frame")]
    Malformed {
        /// The frame's name.
        what: &'static str,
    },
    /// A client id or room name that is empty or longer than the limit.
    #[error("{what} must be 1 to {max} bytes, got {len}")]
    BadName {
        /// "client id" or "room".
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A frame other than HELLO before HELLO.
    #[error("HELLO must come first")]
    NotIntroduced,
    /// A second HELLO.
    #[error("HELLO was already sent")]
    HelloTwice,
    /// A JOIN beyond the per-session room limit.
    #[error("at most {0} rooms per session")]
    TooManyRooms(usize),
    /// A PUBLISH on a gateway that does not accept them from clients.
    #[error("PUBLISH is not allowed on this gateway")]
    PublishNotAllowed,
    /// A message that would not fit in one frame.
    #[error("a {len}-byte message does not fit a {max}-byte frame")]
    TooLarge {
        /// The frame it would need.
        len: usize,
        /// The maximum frame.
        max: usize,
    },
}

impl ProtocolError {
    /// The code sent in the ERROR frame.
    pub fn code(&self) -> u16 {
        match self {
            Self::Codec(CodecError::FrameTooLong { .. }) => 1,
            Self::Codec(_) => 2,
            Self::Empty => 3,
            Self::UnknownType(_) => 4,
            Self::Malformed { .. } => 5,
            Self::BadName { .. } => 6,
            Self::NotIntroduced => 7,
            Self::HelloTwice => 8,
            Self::TooManyRooms(_) => 9,
            Self::PublishNotAllowed => 10,
            Self::TooLarge { .. } => 11,
        }
    }
}

/// A frame from a client, borrowing its bytes from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFrame<'a> {
    /// HELLO.
    Hello(&'a [u8]),
    /// JOIN.
    Join(&'a [u8]),
    /// LEAVE.
    Leave(&'a [u8]),
    /// PING with its opaque bytes.
    Ping(&'a [u8]),
    /// ACK of a message id.
    Ack(u64),
    /// PUBLISH.
    Publish {
        /// [`FLAG_UNACKED`] or 0.
        flags: u8,
        /// The room.
        room: &'a [u8],
        /// The message.
        payload: &'a [u8],
    },
}

/// A frame from the server, borrowing its bytes from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFrame<'a> {
    /// WELCOME.
    Welcome {
        /// The heartbeat interval the client must keep, in milliseconds.
        heartbeat_ms: u32,
        /// How many messages may be unacknowledged at once.
        window: u16,
    },
    /// PONG with the PING's opaque bytes.
    Pong(&'a [u8]),
    /// PUSH.
    Push {
        /// Message id (0: no ACK expected).
        id: u64,
        /// The room it was published to.
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
    /// PUBLISHED.
    Published {
        /// The message id given.
        id: u64,
        /// Members it was queued for.
        members: u32,
    },
}

fn u64_at(b: &[u8], what: &'static str) -> Result<u64, ProtocolError> {
    let arr: [u8; 8] = b
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or(ProtocolError::Malformed { what })?;
    Ok(u64::from_be_bytes(arr))
}

/// Splits `room_len: u8, room, rest`.
fn room_and_rest<'a>(
    b: &'a [u8],
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), ProtocolError> {
    let (&n, rest) = b.split_first().ok_or(ProtocolError::Malformed { what })?;
    let n = usize::from(n);
    if rest.len() < n {
        return Err(ProtocolError::Malformed { what });
    }
    Ok(rest.split_at(n))
}

/// Parses a client frame's payload (type byte and body).
///
/// # Errors
/// [`ProtocolError::Empty`], [`UnknownType`](ProtocolError::UnknownType) or
/// [`Malformed`](ProtocolError::Malformed).
pub fn parse_client(frame: &[u8]) -> Result<ClientFrame<'_>, ProtocolError> {
    let (&ty, body) = frame.split_first().ok_or(ProtocolError::Empty)?;
    Ok(match ty {
        client::HELLO => ClientFrame::Hello(body),
        client::JOIN => ClientFrame::Join(body),
        client::LEAVE => ClientFrame::Leave(body),
        client::PING if body.len() <= MAX_PING => ClientFrame::Ping(body),
        client::PING => return Err(ProtocolError::Malformed { what: "PING" }),
        client::ACK if body.len() == 8 => ClientFrame::Ack(u64_at(body, "ACK")?),
        client::ACK => return Err(ProtocolError::Malformed { what: "ACK" }),
        client::PUBLISH => {
            let (&flags, rest) = body
                .split_first()
                .ok_or(ProtocolError::Malformed { what: "PUBLISH" })?;
            let (room, payload) = room_and_rest(rest, "PUBLISH")?;
            ClientFrame::Publish {
                flags,
                room,
                payload,
            }
        }
        other => return Err(ProtocolError::UnknownType(other)),
    })
}

/// Parses a server frame's payload (type byte and body).
///
/// # Errors
/// As [`parse_client`].
pub fn parse_server(frame: &[u8]) -> Result<ServerFrame<'_>, ProtocolError> {
    let (&ty, body) = frame.split_first().ok_or(ProtocolError::Empty)?;
    let malformed = |what| ProtocolError::Malformed { what };
    Ok(match ty {
        server::WELCOME => {
            let b: [u8; 6] = body.try_into().map_err(|_| malformed("WELCOME"))?;
            ServerFrame::Welcome {
                heartbeat_ms: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                window: u16::from_be_bytes([b[4], b[5]]),
            }
        }
        server::PONG => ServerFrame::Pong(body),
        server::PUSH => {
            let id = u64_at(body, "PUSH")?;
            let (room, payload) = room_and_rest(&body[8..], "PUSH")?;
            ServerFrame::Push { id, room, payload }
        }
        server::ERROR => {
            let (code, reason) = body.split_at_checked(2).ok_or(malformed("ERROR"))?;
            ServerFrame::Error {
                code: u16::from_be_bytes([code[0], code[1]]),
                reason,
            }
        }
        server::PUBLISHED => {
            let b: [u8; 12] = body.try_into().map_err(|_| malformed("PUBLISHED"))?;
            ServerFrame::Published {
                id: u64_at(&b, "PUBLISHED")?,
                members: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            }
        }
        other => return Err(ProtocolError::UnknownType(other)),
    })
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
    let field = u32::try_from(1 + body);
    match field {
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

/// A PUSH frame for message `id` (patched later with [`set_push_id`] when the id is only
/// known under the room's lock).
///
/// # Errors
/// [`ProtocolError::TooLarge`]; [`ProtocolError::BadName`] for a room over 255 bytes.
pub fn encode_push(
    id: u64,
    room: &[u8],
    payload: &[u8],
    max_frame: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let room_len = u8::try_from(room.len()).map_err(|_| ProtocolError::BadName {
        what: "room",
        len: room.len(),
        max: 255,
    })?;
    let mut out = Vec::new();
    encode(
        server::PUSH,
        &[&id.to_be_bytes(), &[room_len], room, payload],
        max_frame,
        &mut out,
    )?;
    Ok(out)
}

/// Offset of the id in an encoded PUSH frame.
const PUSH_ID_AT: usize = LEN_BYTES + 1;

/// Rewrites the id of a PUSH frame made by [`encode_push`].
pub fn set_push_id(frame: &mut [u8], id: u64) {
    if let Some(dst) = frame.get_mut(PUSH_ID_AT..PUSH_ID_AT + 8) {
        dst.copy_from_slice(&id.to_be_bytes());
    }
}

/// Appends a client frame to `out` (for clients: the load generator, the tests).
///
/// # Errors
/// [`ProtocolError::TooLarge`] beyond `max_frame`; [`ProtocolError::BadName`] for a PUBLISH
/// room over 255 bytes.
pub fn encode_client(
    frame: &ClientFrame<'_>,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    match *frame {
        ClientFrame::Hello(id) => encode(client::HELLO, &[id], max_frame, out),
        ClientFrame::Join(room) => encode(client::JOIN, &[room], max_frame, out),
        ClientFrame::Leave(room) => encode(client::LEAVE, &[room], max_frame, out),
        ClientFrame::Ping(b) => encode(client::PING, &[b], max_frame, out),
        ClientFrame::Ack(id) => encode(client::ACK, &[&id.to_be_bytes()], max_frame, out),
        ClientFrame::Publish {
            flags,
            room,
            payload,
        } => {
            let n = u8::try_from(room.len()).map_err(|_| ProtocolError::BadName {
                what: "room",
                len: room.len(),
                max: 255,
            })?;
            encode(
                client::PUBLISH,
                &[&[flags, n], room, payload],
                max_frame,
                out,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &[u8]) -> &[u8] {
        &frame[LEN_BYTES..]
    }

    #[test]
    fn client_frames_round_trip() {
        let frames = [
            ClientFrame::Hello(b"phone-1"),
            ClientFrame::Join(b"news"),
            ClientFrame::Leave(b"news"),
            ClientFrame::Ping(b"12345678"),
            ClientFrame::Ack(u64::MAX - 3),
            ClientFrame::Publish {
                flags: FLAG_UNACKED,
                room: b"r",
                payload: b"hi",
            },
        ];
        for f in frames {
            let mut out = Vec::new();
            encode_client(&f, 1024, &mut out).unwrap();
            assert_eq!(parse_client(body(&out)).unwrap(), f);
        }
    }

    #[test]
    fn push_frames_round_trip_and_ids_patch() {
        let mut f = encode_push(0, b"room", b"payload", 1024).unwrap();
        set_push_id(&mut f, 42);
        assert_eq!(
            parse_server(body(&f)).unwrap(),
            ServerFrame::Push {
                id: 42,
                room: b"room",
                payload: b"payload"
            }
        );
        assert!(matches!(
            encode_push(1, b"r", &[0; 100], 50),
            Err(ProtocolError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_frames_are_errors_never_panics() {
        assert_eq!(parse_client(b""), Err(ProtocolError::Empty));
        assert_eq!(parse_client(b"\x7f"), Err(ProtocolError::UnknownType(0x7f)));
        assert!(parse_client(b"\x05\x00\x01").is_err());
        assert!(parse_client(&[client::PING; 40]).is_err());
        assert!(parse_client(b"\x06\x00\x09ab").is_err());
        for len in 0..20 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0x80) as u8).collect();
            let _ = parse_client(&junk);
            let _ = parse_server(&junk);
        }
    }
}

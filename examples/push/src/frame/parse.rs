//! Parsing frames of either direction: borrowing, checked, never panicking.

use super::{ClientFrame, MAX_PING, ProtocolError, PushKind, ServerFrame, client, server};

fn u64_at(b: &[u8], what: &'static str) -> Result<u64, ProtocolError> {
    let arr: [u8; 8] = b
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or(ProtocolError::Malformed { what })?;
    Ok(u64::from_be_bytes(arr))
}

fn u32_at(b: &[u8], what: &'static str) -> Result<u32, ProtocolError> {
    let arr: [u8; 4] = b
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or(ProtocolError::Malformed { what })?;
    Ok(u32::from_be_bytes(arr))
}

/// `code: u16, reason`.
fn code_and_reason<'a>(b: &'a [u8], what: &'static str) -> Result<(u16, &'a [u8]), ProtocolError> {
    let (code, reason) = b
        .split_at_checked(2)
        .ok_or(ProtocolError::Malformed { what })?;
    Ok((u16::from_be_bytes([code[0], code[1]]), reason))
}

/// Parses a client frame's payload (type byte and body).
///
/// # Errors
/// [`ProtocolError::Empty`], [`UnknownType`](ProtocolError::UnknownType) or
/// [`Malformed`](ProtocolError::Malformed).
pub fn parse_client(frame: &[u8]) -> Result<ClientFrame<'_>, ProtocolError> {
    let (&ty, body) = frame.split_first().ok_or(ProtocolError::Empty)?;
    Ok(match ty {
        client::AUTH => ClientFrame::Auth {
            heartbeat_ms: u32_at(body, "AUTH")?,
            token: &body[4..],
        },
        client::JOIN => ClientFrame::Join(body),
        client::LEAVE => ClientFrame::Leave(body),
        client::PING if body.len() <= MAX_PING => ClientFrame::Ping(body),
        client::PING => return Err(ProtocolError::Malformed { what: "PING" }),
        client::ACK if body.len() == 8 => ClientFrame::Ack(u64_at(body, "ACK")?),
        client::ACK => return Err(ProtocolError::Malformed { what: "ACK" }),
        client::UP => ClientFrame::Up(body),
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
            let heartbeat_ms = u32_at(body, "WELCOME")?;
            let w = body.get(4..6).ok_or(malformed("WELCOME"))?;
            ServerFrame::Welcome {
                heartbeat_ms,
                window: u16::from_be_bytes([w[0], w[1]]),
                user: &body[6..],
            }
        }
        server::PONG => ServerFrame::Pong(body),
        server::PUSH => {
            let id = u64_at(body, "PUSH")?;
            let rest = &body[8..];
            let (&kind, rest) = rest.split_first().ok_or(malformed("PUSH"))?;
            let kind = PushKind::from_byte(kind).ok_or(malformed("PUSH"))?;
            let (&n, rest) = rest.split_first().ok_or(malformed("PUSH"))?;
            let (room, payload) = rest
                .split_at_checked(usize::from(n))
                .ok_or(malformed("PUSH"))?;
            // A room is named exactly when the kind is Room, as `envelope` writes it.
            if room.is_empty() == (kind == PushKind::Room) {
                return Err(malformed("PUSH"));
            }
            ServerFrame::Push {
                id,
                kind,
                room,
                payload,
            }
        }
        server::ERROR => {
            let (code, reason) = code_and_reason(body, "ERROR")?;
            ServerFrame::Error { code, reason }
        }
        server::KICK => {
            let (code, reason) = code_and_reason(body, "KICK")?;
            ServerFrame::Kick { code, reason }
        }
        other => return Err(ProtocolError::UnknownType(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{LEN_BYTES, encode, encode_client, encode_push, kick};
    use super::*;

    fn body(frame: &[u8]) -> &[u8] {
        &frame[LEN_BYTES..]
    }

    #[test]
    fn client_frames_round_trip() {
        let frames = [
            ClientFrame::Auth {
                heartbeat_ms: 30_000,
                token: b"a.b.c",
            },
            ClientFrame::Auth {
                heartbeat_ms: 0,
                token: b"",
            },
            ClientFrame::Join(b"news"),
            ClientFrame::Leave(b"news"),
            ClientFrame::Ping(b"12345678"),
            ClientFrame::Ack(u64::MAX - 3),
        ];
        for f in frames {
            let mut out = Vec::new();
            encode_client(&f, 1024, &mut out).unwrap();
            assert_eq!(parse_client(body(&out)).unwrap(), f);
        }
    }

    #[test]
    fn a_push_names_a_room_exactly_when_its_kind_is_room() {
        // Found by fuzz/push_frame: a user PUSH naming a room parsed, and could not be
        // encoded again.
        let user_with_room = [server::PUSH, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, b'r', b'x'];
        let bad = Err(ProtocolError::Malformed { what: "PUSH" });
        assert_eq!(parse_server(&user_with_room), bad);
        let room_without_name = [server::PUSH, 0, 0, 0, 0, 0, 0, 0, 7, 1, 0, b'x'];
        assert_eq!(parse_server(&room_without_name), bad);
        let user = [server::PUSH, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, b'x'];
        assert!(parse_server(&user).is_ok());
    }

    #[test]
    fn server_frames_round_trip() {
        let f = encode_push(42, PushKind::Room, b"room", b"payload", 1024).unwrap();
        assert_eq!(
            parse_server(body(&f)).unwrap(),
            ServerFrame::Push {
                id: 42,
                kind: PushKind::Room,
                room: b"room",
                payload: b"payload"
            }
        );
        let f = encode_push(0, PushKind::All, b"", b"", 1024).unwrap();
        assert!(matches!(
            parse_server(body(&f)),
            Ok(ServerFrame::Push {
                id: 0,
                kind: PushKind::All,
                room: b"",
                payload: b""
            })
        ));
        assert!(matches!(
            encode_push(1, PushKind::User, b"r", b"x", 1024),
            Err(ProtocolError::BadName { .. })
        ));
        assert!(matches!(
            encode_push(1, PushKind::Room, b"r", &[0; 100], 50),
            Err(ProtocolError::TooLarge { .. })
        ));
        let mut out = Vec::new();
        encode(
            server::KICK,
            &[&kick::REPLACED.to_be_bytes(), b"newer"],
            64,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            parse_server(body(&out)).unwrap(),
            ServerFrame::Kick {
                code: 1,
                reason: b"newer"
            }
        );
        out.clear();
        encode(
            server::WELCOME,
            &[&7u32.to_be_bytes(), &3u16.to_be_bytes(), b"u1"],
            64,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            parse_server(body(&out)).unwrap(),
            ServerFrame::Welcome {
                heartbeat_ms: 7,
                window: 3,
                user: b"u1"
            }
        );
    }

    #[test]
    fn malformed_frames_are_errors_never_panics() {
        assert_eq!(parse_client(b""), Err(ProtocolError::Empty));
        assert_eq!(parse_client(b"\x7f"), Err(ProtocolError::UnknownType(0x7f)));
        assert_eq!(
            parse_client(b"\x06\x00"),
            Err(ProtocolError::UnknownType(0x06))
        );
        assert!(parse_client(b"\x01\x00\x01").is_err());
        assert!(parse_client(b"\x05\x00\x01").is_err());
        assert!(parse_client(&[client::PING; 40]).is_err());
        for len in 0..24 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0x80) as u8).collect();
            let _ = parse_client(&junk);
            let _ = parse_server(&junk);
        }
    }
}

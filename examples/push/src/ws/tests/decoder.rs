//! The decoder on hand-made frames: one test per rule of RFC 6455 section 5 it enforces.

use super::super::{Control, TextPolicy, close};
use super::*;

const KEY: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

#[test]
fn idle_state_is_small_and_owns_nothing() {
    assert!(std::mem::size_of::<Decoder>() <= 16);
}

#[test]
fn single_frames_of_every_length_form() {
    let mut f = Feed::default();
    for len in [0, 1, 125, 126, 127, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        assert_eq!(
            f.push(&binary(&payload)),
            Ok(vec![Got::Binary(payload)]),
            "{len}"
        );
        assert!(f.inbound.is_empty());
    }
}

#[test]
fn nothing_is_consumed_until_the_frame_is_whole() {
    let mut f = Feed::default();
    let bytes = binary(&[9; 300]);
    for (i, b) in bytes.iter().enumerate() {
        let got = f.push(&[*b]).unwrap();
        if i + 1 < bytes.len() {
            assert!(got.is_empty());
            assert_eq!(f.inbound.len(), i + 1);
        } else {
            assert_eq!(got, vec![Got::Binary(vec![9; 300])]);
        }
    }
}

#[test]
fn many_frames_in_one_read() {
    let mut f = Feed::default();
    let mut bytes = Vec::new();
    for i in 0..50u8 {
        bytes.extend(binary(&[i; 10]));
    }
    let got = f.push(&bytes).unwrap();
    assert_eq!(got.len(), 50);
    assert_eq!(got[49], Got::Binary(vec![49; 10]));
}

#[test]
fn fragments_are_joined_and_control_frames_between_them_come_first() {
    let mut f = Feed::default();
    assert_eq!(
        f.push(&frame(OpCode::Binary, false, b"ab", KEY)),
        Ok(vec![])
    );
    assert!(f.decoder.in_message());
    assert_eq!(
        f.push(&frame(OpCode::Ping, true, b"p", KEY)),
        Ok(vec![Got::Ping(b"p".to_vec())])
    );
    // The first fragment and the ping are still unconsumed.
    assert_eq!(f.inbound.len(), 6 + 2 + 6 + 1);
    assert_eq!(
        f.push(&frame(OpCode::Continuation, false, b"", KEY)),
        Ok(vec![])
    );
    assert_eq!(
        f.push(&frame(OpCode::Continuation, true, b"cd", [9, 8, 7, 6])),
        Ok(vec![Got::Binary(b"abcd".to_vec())])
    );
    assert!(f.inbound.is_empty());
    assert!(!f.decoder.in_message());
}

#[test]
fn unmasked_client_frames_are_refused() {
    let mut f = Feed::default();
    let mut out = Vec::new();
    super::super::encode_binary(b"x", &mut out);
    assert_eq!(f.push(&out), Err(WsError::Unmasked));
    assert_eq!(WsError::Unmasked.close_code(), close::PROTOCOL_ERROR);
    // The decoder stays failed.
    assert_eq!(
        f.push(&binary(b"x")),
        Err(WsError::Failed(close::PROTOCOL_ERROR))
    );
}

#[test]
fn header_violations() {
    let cases: [(&[u8], WsError); 5] = [
        (&[0xC2, 0x80], WsError::ReservedBits(0b100)),
        (&[0x83, 0x80], WsError::ReservedOpcode(3)),
        (&[0x0A, 0x80], WsError::FragmentedControl),
        (&[0x89, 0xFE], WsError::ControlTooLong(126)),
        (&[0x80, 0x80, 0, 0, 0, 0], WsError::UnexpectedContinuation),
    ];
    for (bytes, want) in cases {
        let mut f = Feed::default();
        assert_eq!(f.push(bytes), Err(want), "{bytes:x?}");
        assert_eq!(want.close_code(), close::PROTOCOL_ERROR);
    }
    let mut f = Feed::default();
    f.push(&frame(OpCode::Binary, false, b"a", KEY)).unwrap();
    assert_eq!(
        f.push(&frame(OpCode::Binary, true, b"b", KEY)),
        Err(WsError::ExpectedContinuation)
    );
}

#[test]
fn text_is_refused_by_default_as_soon_as_its_header_is_in() {
    let mut f = Feed::default();
    let text = frame(OpCode::Text, true, b"hello", KEY);
    assert_eq!(f.push(&text[..6]), Err(WsError::TextRejected));
    assert_eq!(WsError::TextRejected.close_code(), close::UNSUPPORTED_DATA);
}

#[test]
fn text_is_checked_when_accepted() {
    let config = DecoderConfig {
        text: TextPolicy::Utf8,
        ..DecoderConfig::default()
    };
    let mut f = Feed::new(config);
    // "é" split across two fragments is fine once joined.
    f.push(&frame(OpCode::Text, false, &[b'h', 0xC3], KEY))
        .unwrap();
    assert_eq!(
        f.push(&frame(OpCode::Continuation, true, &[0xA9], KEY)),
        Ok(vec![Got::Text("hé".to_owned())])
    );
    assert_eq!(
        f.push(&frame(OpCode::Text, true, &[0xFF], KEY)),
        Err(WsError::InvalidUtf8)
    );
    assert_eq!(WsError::InvalidUtf8.close_code(), close::INVALID_PAYLOAD);
}

#[test]
fn too_big_is_refused_from_the_header() {
    let config = DecoderConfig {
        max_message: 1000,
        ..DecoderConfig::default()
    };
    let mut f = Feed::new(config);
    assert_eq!(f.push(&binary(&[0; 1000])).unwrap().len(), 1);
    let big = binary(&[0; 1001]);
    assert_eq!(
        f.push(&big[..8]),
        Err(WsError::MessageTooBig {
            len: 1001,
            max: 1000
        })
    );
    // Across fragments.
    let mut f = Feed::new(config);
    f.push(&frame(OpCode::Binary, false, &[0; 600], KEY))
        .unwrap();
    let next = frame(OpCode::Continuation, true, &[0; 401], KEY);
    let err = f.push(&next[..8]).unwrap_err();
    assert_eq!(
        err,
        WsError::MessageTooBig {
            len: 1001,
            max: 1000
        }
    );
    assert_eq!(err.close_code(), close::MESSAGE_TOO_BIG);
}

#[test]
fn too_many_frames_is_refused() {
    let config = DecoderConfig {
        max_frames: 3,
        ..DecoderConfig::default()
    };
    let mut f = Feed::new(config);
    f.push(&frame(OpCode::Binary, false, b"a", KEY)).unwrap();
    f.push(&frame(OpCode::Ping, true, b"", KEY)).unwrap();
    f.push(&frame(OpCode::Continuation, false, b"b", KEY))
        .unwrap();
    assert_eq!(
        f.push(&frame(OpCode::Continuation, true, b"c", KEY)),
        Err(WsError::TooManyFrames(3))
    );
    assert!(f.inbound.len() <= config.max_buffered());
}

#[test]
fn close_frames() {
    let mut f = Feed::default();
    assert_eq!(
        f.push(&frame(OpCode::Close, true, b"", KEY)),
        Ok(vec![Got::Close(None)])
    );
    // Nothing after a Close.
    assert_eq!(f.push(&binary(b"late")), Ok(vec![]));

    let mut body = 4000u16.to_be_bytes().to_vec();
    body.extend_from_slice("bye".as_bytes());
    let mut f = Feed::default();
    assert_eq!(
        f.push(&frame(OpCode::Close, true, &body, KEY)),
        Ok(vec![Got::Close(Some((4000, "bye".to_owned())))])
    );

    let bad: [(&[u8], WsError); 4] = [
        (&[0x03], WsError::InvalidClose(0)),
        (&[0x03, 0xED], WsError::InvalidClose(1005)),
        (&[0x00, 0x00], WsError::InvalidClose(0)),
        (&[0x03, 0xE8, 0xFF], WsError::InvalidUtf8),
    ];
    for (body, want) in bad {
        let mut f = Feed::default();
        assert_eq!(
            f.push(&frame(OpCode::Close, true, body, KEY)),
            Err(want),
            "{body:x?}"
        );
    }
}

#[test]
fn replies() {
    let ping = Message::Ping(b"x");
    assert_eq!(
        ping.reply().unwrap().as_bytes(),
        Control::pong(b"x").unwrap().as_bytes()
    );
    let close = Message::Close(Some(crate::ws::CloseFrame {
        code: 4001,
        reason: "r",
    }));
    assert_eq!(close.reply().unwrap().as_bytes(), [0x88, 2, 0x0F, 0xA1]);
    assert_eq!(Message::Close(None).reply().unwrap().as_bytes(), [0x88, 0]);
    assert!(Message::Binary(b"").reply().is_none());
    assert!(Message::Pong(b"").reply().is_none());
}

#[test]
fn a_caller_that_drops_walked_bytes_gets_desync() {
    let mut d = Decoder::default();
    let config = DecoderConfig::default();
    let mut scratch = Vec::new();
    let first = frame(OpCode::Binary, false, b"abc", KEY);
    assert_eq!(d.next(&config, &first, &mut scratch), Ok(None));
    assert_eq!(
        d.next(&config, &first[..2], &mut scratch),
        Err(WsError::Desync)
    );
    assert_eq!(WsError::Desync.close_code(), close::INTERNAL_ERROR);
}

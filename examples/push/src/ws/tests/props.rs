//! Properties: the decoder and the handshake parser never panic on any bytes split any
//! way; what the encoder writes (masked, fragmented, with pings between fragments) decodes to
//! the same messages however the stream is split into reads.

use proptest::prelude::*;
use proptest::sample::Index;

use super::super::{HandshakeConfig, TextPolicy, Upgrade};
use super::*;

/// `bytes` cut at `cuts` (indices into it), in order.
fn split<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

fn config(utf8: bool, max_message: u32, max_frames: u16) -> DecoderConfig {
    DecoderConfig {
        max_message,
        max_frames,
        text: if utf8 {
            TextPolicy::Utf8
        } else {
            TextPolicy::Reject
        },
    }
}

/// One message of the round trip: its payload, how it is fragmented, what comes between.
#[derive(Debug, Clone)]
struct Plan {
    text: bool,
    payload: Vec<u8>,
    cuts: Vec<Index>,
    pings: Vec<Option<Vec<u8>>>,
    key: [u8; 4],
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        any::<bool>(),
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..200),
            1 => prop::collection::vec(any::<u8>(), 60_000..70_000),
        ],
        prop::collection::vec(any::<Index>(), 0..4),
        prop::collection::vec(
            prop::option::of(prop::collection::vec(any::<u8>(), 0..=125)),
            4,
        ),
        any::<[u8; 4]>(),
    )
        .prop_map(|(text, payload, cuts, pings, key)| {
            let payload = if text {
                String::from_utf8_lossy(&payload).into_owned().into_bytes()
            } else {
                payload
            };
            Plan {
                text,
                payload,
                cuts,
                pings,
                key,
            }
        })
}

/// The wire bytes of `plans` and the messages they must decode to, in order.
fn wire(plans: &[Plan]) -> (Vec<u8>, Vec<Got>) {
    let mut bytes = Vec::new();
    let mut want = Vec::new();
    for p in plans {
        let parts = split(&p.payload, &p.cuts);
        for (i, part) in parts.iter().enumerate() {
            let op = match (i, p.text) {
                (0, true) => OpCode::Text,
                (0, false) => OpCode::Binary,
                _ => OpCode::Continuation,
            };
            let last = i + 1 == parts.len();
            bytes.extend(frame(op, last, part, p.key));
            if !last && let Some(Some(ping)) = p.pings.get(i) {
                bytes.extend(frame(OpCode::Ping, true, ping, p.key));
                want.push(Got::Ping(ping.clone()));
            }
        }
        want.push(if p.text {
            Got::Text(String::from_utf8(p.payload.clone()).unwrap_or_default())
        } else {
            Got::Binary(p.payload.clone())
        });
    }
    (bytes, want)
}

proptest! {
    #[test]
    fn decoder_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
        utf8 in any::<bool>(),
        max_message in 0u32..4096,
        max_frames in 0u16..8,
    ) {
        let mut f = Feed::new(config(utf8, max_message, max_frames));
        for chunk in split(&bytes, &cuts) {
            if f.push(chunk).is_err() {
                break;
            }
            prop_assert!(f.inbound.len() <= f.config.max_buffered() + chunk.len());
        }
    }

    #[test]
    fn masked_frames_never_panic(
        frames in prop::collection::vec(
            (0u8..16, any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)), 0..8),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        // Mostly well-formed headers, so the decoder gets past the first frame.
        let mut bytes = Vec::new();
        for (op, fin, payload) in &frames {
            let b0 = (u8::from(*fin) << 7) | op;
            let mut head = vec![b0];
            let mut rest = frame(OpCode::Binary, true, payload, [1, 2, 3, 4]);
            head.extend(rest.drain(1..));
            bytes.extend(head);
        }
        let mut f = Feed::new(config(true, 1000, 4));
        for chunk in split(&bytes, &cuts) {
            if f.push(chunk).is_err() {
                break;
            }
        }
    }

    #[test]
    fn round_trip_any_split(
        plans in prop::collection::vec(plan(), 0..6),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let (bytes, want) = wire(&plans);
        let mut f = Feed::new(config(true, 1 << 20, 16));
        let mut got = Vec::new();
        for chunk in split(&bytes, &cuts) {
            got.extend(f.push(chunk).map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
        prop_assert_eq!(got, want);
        prop_assert!(f.inbound.is_empty());
        prop_assert!(!f.decoder.in_message());
    }

    #[test]
    fn handshake_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = Upgrade::parse(&bytes, &HandshakeConfig::default());
    }

    #[test]
    fn handshake_header_soup_never_panics(
        lines in prop::collection::vec(
            (prop::sample::select(vec![
                "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                "Origin", "Sec-WebSocket-Protocol",
            ]), "[ -~]{0,40}"),
            0..12),
    ) {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for (name, value) in &lines {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        match Upgrade::parse(head.as_bytes(), &HandshakeConfig::default()) {
            Ok(Some((used, up))) => {
                prop_assert_eq!(used, head.len());
                prop_assert!(up.accept().starts_with(b"HTTP/1.1 101 "));
            }
            Ok(None) => prop_assert!(false, "a whole head was incomplete"),
            Err(e) => prop_assert!(e.response().starts_with(b"HTTP/1.1 4")),
        }
    }
}

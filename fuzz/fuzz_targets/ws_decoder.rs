//! The push gateway's WebSocket frame decoder (`loopwire_push::ws::Decoder`, RFC 6455
//! section 5), client frames to messages, fragments joined.
//!
//! Input: 4 configuration bytes (`max_message` 0..=4095, `max_frames` 1..=8, text policy,
//! read sizes seed), then the stream. Properties: no panic; every message consumes bytes
//! within the unread ones (0 for a control frame between fragments); no data message over
//! `max_message`, no control payload over 125 bytes; the messages and the error are the same
//! whatever the split into reads; round trip: the stream cut into payloads, each sent as a
//! masked binary message in 1 to 3 fragments with a ping between two of them, decodes to the
//! same payloads and pings, consuming everything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire_fuzz::{Input, read_ends};
use loopwire_push::ws::{
    Decoder, DecoderConfig, FrameHead, MAX_CONTROL_PAYLOAD, Message, OpCode, TextPolicy, WsError,
    encode_frame,
};

type Seen = (Vec<(usize, String)>, Option<WsError>);

fn run(stream: &[u8], ends: &[usize], config: &DecoderConfig) -> Seen {
    let (mut seen, mut decoder, mut scratch, mut at) =
        (Vec::new(), Decoder::default(), Vec::new(), 0);
    for &end in ends {
        loop {
            let buf = &stream[at..end];
            match decoder.next(config, buf, &mut scratch) {
                Ok(Some(d)) => {
                    assert!(d.consumed <= buf.len());
                    match d.message {
                        Message::Binary(b) => assert!(b.len() <= config.max_message as usize),
                        Message::Text(t) => assert!(t.len() <= config.max_message as usize),
                        Message::Ping(p) | Message::Pong(p) => {
                            assert!(p.len() <= MAX_CONTROL_PAYLOAD)
                        }
                        Message::Close(_) => {}
                    }
                    assert!(seen.len() <= stream.len(), "messages out of nothing");
                    seen.push((d.consumed, format!("{:?}", d.message)));
                    at += d.consumed;
                }
                Ok(None) => break,
                Err(e) => return (seen, Some(e)),
            }
        }
    }
    (seen, None)
}

fn frame(fin: bool, opcode: OpCode, key: [u8; 4], payload: &[u8], out: &mut Vec<u8>) {
    let head = FrameHead {
        fin,
        opcode,
        mask: Some(key),
        payload_len: 0,
    };
    encode_frame(head, payload, out);
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 4) else {
        return;
    };
    let config = DecoderConfig {
        max_message: u32::from(input.u16(0) % 4096),
        max_frames: u16::from(input.byte(2) % 8) + 1,
        text: if input.byte(2) & 0x80 == 0 {
            TextPolicy::Reject
        } else {
            TextPolicy::Utf8
        },
    };
    let stream = input.stream;
    let whole = run(stream, &[stream.len()], &config);
    let ends = read_ends(stream.len(), input.byte(3), 32);
    assert_eq!(
        whole,
        run(stream, &ends, &config),
        "reads ending at {ends:?}"
    );

    // Round trip, with the default limits (64 KiB, 128 frames).
    let (mut wire, mut want, mut from) = (Vec::new(), Vec::new(), 0);
    let key = [input.byte(0), input.byte(1), input.byte(2), input.byte(3)];
    for end in read_ends(stream.len(), input.byte(3).rotate_left(4), 48) {
        let payload = &stream[from..end];
        from = end;
        let cut = payload.len() / 3;
        let (a, rest) = payload.split_at(cut);
        let (b, c) = rest.split_at(cut);
        frame(false, OpCode::Binary, key, a, &mut wire);
        frame(false, OpCode::Continuation, key, b, &mut wire);
        frame(
            true,
            OpCode::Ping,
            key,
            &payload[..payload.len().min(8)],
            &mut wire,
        );
        want.push(format!(
            "{:?}",
            Message::Ping(&payload[..payload.len().min(8)])
        ));
        frame(true, OpCode::Continuation, key, c, &mut wire);
        want.push(format!("{:?}", Message::Binary(payload)));
    }
    let (got, end) = run(&wire, &[wire.len()], &DecoderConfig::default());
    assert_eq!(end, None);
    assert_eq!(got.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(), want);
    assert_eq!(got.iter().map(|(n, _)| n).sum::<usize>(), wire.len());
});

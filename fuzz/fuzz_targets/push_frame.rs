//! The push protocol's frames (`loopwire_push::frame`): the length-field codec
//! (`frame::codec`), then `parse_client` and `parse_server` on every frame.
//!
//! Input: 3 configuration bytes (`max_frame` 0..=511; values under 5 are refused by
//! `codec` and skipped; read sizes seed), then the stream. Properties: no panic; no frame
//! over `max_frame` is accepted; the same frames and error whatever the split into reads;
//! every frame either parse accepts encodes back (`encode_client`, `encode`, `encode_push`)
//! to exactly the frame's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire::codec::Frame;
use loopwire_fuzz::{Input, decode_in_reads, decode_whole, read_ends};
use loopwire_push::frame::{self, ServerFrame, parse_client, parse_server, server};

fn encode_server(f: &ServerFrame<'_>, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let r = match *f {
        ServerFrame::Welcome {
            heartbeat_ms,
            window,
            user,
        } => frame::encode(
            server::WELCOME,
            &[&heartbeat_ms.to_be_bytes(), &window.to_be_bytes(), user],
            max,
            &mut out,
        ),
        ServerFrame::Pong(b) => frame::encode(server::PONG, &[b], max, &mut out),
        ServerFrame::Push {
            id,
            kind,
            room,
            payload,
        } => frame::encode_push(id, kind, room, payload, max).map(|v| out = v),
        ServerFrame::Error { code, reason } => {
            frame::encode(server::ERROR, &[&code.to_be_bytes(), reason], max, &mut out)
        }
        ServerFrame::Kick { code, reason } => {
            frame::encode(server::KICK, &[&code.to_be_bytes(), reason], max, &mut out)
        }
    };
    r.unwrap_or_else(|e| panic!("{f:?} parsed but does not encode: {e}"));
    out
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 3) else {
        return;
    };
    let max = usize::from(input.u16(0) % 512);
    let Ok(codec) = frame::codec(max) else {
        return;
    };
    let stream = input.stream;
    let frame_ok = |f: &Frame, _: &[u8]| f.consumed <= max;
    let (frames, end) = decode_whole(codec.clone(), stream, &frame_ok);
    let ends = read_ends(stream.len(), input.byte(2), 16);
    assert_eq!((frames.clone(), end), decode_in_reads(codec, stream, &ends));
    let mut at = 0;
    for (consumed, payload) in frames {
        let bytes = &stream[at..at + consumed];
        at += consumed;
        if let Ok(f) = parse_client(&payload) {
            let mut out = Vec::new();
            frame::encode_client(&f, max, &mut out).expect("a parsed client frame encodes");
            assert_eq!(out, bytes, "{f:?}");
        }
        if let Ok(f) = parse_server(&payload) {
            assert_eq!(encode_server(&f, max), bytes, "{f:?}");
        }
    }
});

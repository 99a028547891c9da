//! `DelimiterCodec` (loopwire::codec), decoder and encoder.
//!
//! Input: 6 configuration bytes (maximum frame length 1..=300, strip flag, a preset list of
//! delimiters or one of 1 to 2 bytes taken from the input, read sizes seed), then the
//! stream. Properties (`loopwire_fuzz::check_codec`): no panic; every frame lies within the
//! input, ends with one of the delimiters and holds at most the maximum before it; the same
//! frames and error whatever the split into reads; encode then decode gives the payloads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire::codec::{DelimiterCodec, Frame};
use loopwire_fuzz::{Input, check_codec};

const PRESETS: [&[&[u8]]; 6] = [
    &[b"\n"],
    &[b"\r\n", b"\n"],
    &[b"\0"],
    &[b"END", b"E"],
    &[b"b", b"ab"],
    &[b"\r\n\r\n", b"\r\n"],
];

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 6) else {
        return;
    };
    let max = usize::from(input.u16(0) % 300) + 1;
    let strip = input.byte(2) & 1 == 0;
    let own = [input.byte(4), input.byte(5)];
    let delimiters: Vec<&[u8]> = match usize::from(input.byte(3)) {
        i if i < PRESETS.len() => PRESETS[i].to_vec(),
        i if i % 2 == 0 => vec![&own[..1]],
        _ => vec![&own[..]],
    };
    let Ok(codec) = DelimiterCodec::new(max, &delimiters) else {
        return;
    };
    let codec = codec.with_strip_delimiter(strip);
    let frame_ok = |f: &Frame, buf: &[u8]| {
        let frame = &buf[..f.consumed];
        delimiters.iter().any(|d| {
            frame
                .strip_suffix(*d)
                .is_some_and(|p| p.len() <= max && (!strip || buf[f.payload.clone()] == *p))
        })
    };
    let expect = |payload: &[u8], frame: &[u8]| {
        if strip {
            payload.to_vec()
        } else {
            frame.to_vec()
        }
    };
    check_codec(&codec, input.stream, input.byte(2) >> 1, &frame_ok, &expect);
});

//! `LineCodec` (loopwire::codec), decoder and encoder.
//!
//! Input: 4 configuration bytes (maximum line length 0..=299, strip flag, line ending, read
//! sizes seed), then the stream. Properties (`loopwire_fuzz::check_codec`): no panic; every
//! frame lies within the input and its line (without `\n` / `\r\n`) is at most the maximum;
//! the same frames and the same error whatever the split into reads; payloads encoded then
//! decoded come back as they were (the delimiter kept when not stripping).
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire::codec::{LineCodec, LineEnding};
use loopwire_fuzz::{Input, check_codec};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 4) else {
        return;
    };
    let max = usize::from(input.u16(0) % 300);
    let strip = input.byte(2) & 1 == 0;
    let ending = if input.byte(2) & 2 == 0 {
        LineEnding::Lf
    } else {
        LineEnding::CrLf
    };
    let codec = LineCodec::new(max)
        .with_strip_delimiter(strip)
        .with_line_ending(ending);
    let frame_ok = |f: &loopwire::codec::Frame, buf: &[u8]| {
        let frame = &buf[..f.consumed];
        let Some(line) = frame.strip_suffix(b"\n") else {
            return false;
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.len() <= max && (!strip || buf[f.payload.clone()] == *line)
    };
    let expect = |payload: &[u8], frame: &[u8]| {
        if strip {
            payload.to_vec()
        } else {
            frame.to_vec()
        }
    };
    check_codec(&codec, input.stream, input.byte(3), &frame_ok, &expect);
});

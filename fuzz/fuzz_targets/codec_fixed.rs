//! `FixedLengthCodec` (loopwire::codec), decoder and encoder.
//!
//! Input: 2 configuration bytes (frame length 1..=64, read sizes seed), then the stream.
//! Properties (`loopwire_fuzz::check_codec`): no panic; every frame is exactly the frame
//! length, payload the whole frame; the same frames whatever the split into reads; payloads
//! of the right length encode and decode back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire::codec::{FixedLengthCodec, Frame};
use loopwire_fuzz::{Input, check_codec};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 2) else {
        return;
    };
    let n = usize::from(input.byte(0) % 64) + 1;
    let Ok(codec) = FixedLengthCodec::new(n) else {
        return;
    };
    let frame_ok = |f: &Frame, _: &[u8]| f.consumed == n && f.payload == (0..n);
    let expect = |payload: &[u8], _: &[u8]| payload.to_vec();
    check_codec(&codec, input.stream, input.byte(1), &frame_ok, &expect);
});

//! `LengthFieldCodec` (loopwire::codec), decoder and encoder.
//!
//! Input: 7 configuration bytes (maximum frame length 0..=1023, field offset 0..=4, field
//! length 1, 2, 3, 4 or 8, length adjustment -128..=127, bytes to strip 0..=15, byte order,
//! read sizes seed), then the stream. Configurations the builder refuses are skipped.
//! Properties (`loopwire_fuzz::check_codec`): no panic; every frame lies within the input
//! and is at most the maximum frame length (a longer one is an error, never a frame); the
//! same frames and the same error whatever the split into reads; a payload encoded then
//! decoded is the encoded frame minus the stripped bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire::codec::{ByteOrder, Frame, LengthFieldCodec};
use loopwire_fuzz::{Input, check_codec};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 7) else {
        return;
    };
    let max = usize::from(input.u16(0) % 1024);
    let field_len = [1, 2, 3, 4, 8][usize::from(input.byte(3) % 5)];
    let strip = usize::from(input.byte(5) % 16);
    let order = if input.byte(6) & 1 == 0 {
        ByteOrder::BigEndian
    } else {
        ByteOrder::LittleEndian
    };
    let Ok(codec) = LengthFieldCodec::builder()
        .max_frame_length(max)
        .length_field_offset(usize::from(input.byte(2) % 5))
        .length_field_length(field_len)
        .length_adjustment(i64::from(input.byte(4) as i8))
        .initial_bytes_to_strip(strip)
        .byte_order(order)
        .build()
    else {
        return;
    };
    let frame_ok = |f: &Frame, _: &[u8]| f.consumed <= max && f.payload.start == strip;
    let expect = |_: &[u8], frame: &[u8]| frame[strip..].to_vec();
    check_codec(&codec, input.stream, input.byte(6) >> 1, &frame_ok, &expect);
});

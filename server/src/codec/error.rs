//! The codecs' error type.

use std::ops::Range;

/// Everything a codec reports: a peer breaking the framing (decoding), a payload the framing
/// cannot carry (encoding), a configuration a codec refuses (construction), or a [`Decoder`]
/// that broke its contract.
///
/// Decoding errors are final for the stream: the bytes that caused them stay unconsumed and
/// the decoder has forgotten its scan progress, so decoding the same bytes again gives the
/// same error. The stream cannot be trusted from there on; close the connection (see the
/// [module docs](crate::codec#errors-end-the-stream) for how this differs from Netty).
///
/// [`Decoder`]: crate::codec::Decoder
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A frame is, or is certain to become, longer than the codec's maximum.
    ///
    /// Decoding reports it as soon as the bytes received prove it, without waiting for the
    /// rest of the frame: for a line or delimiter codec once no delimiter can end the frame
    /// within the maximum, for a length-field codec once the length field has arrived.
    /// Encoding reports it for a payload the same codec would refuse to decode.
    #[error("frame too long: at least {at_least} bytes, the maximum is {max}")]
    FrameTooLong {
        /// A lower bound for the frame's length (exact when the frame's length is known, as
        /// from a length field): for line and delimiter codecs it counts the payload without
        /// the delimiter, for a length-field codec the whole frame with its header.
        at_least: u64,
        /// The codec's maximum, counted the same way.
        max: usize,
    },
    /// A length field, adjusted, gives a negative frame length: the peer sent a length
    /// smaller than `-length_adjustment - header`, or the codec's adjustment is wrong for
    /// the protocol. Netty reports this as "Adjusted frame length (..) is less than
    /// lengthFieldEndOffset".
    #[error("negative frame length {len} (length field {field}, adjustment {adjustment})")]
    NegativeFrameLength {
        /// The frame length: field + adjustment + header length.
        len: i64,
        /// The length field's value.
        field: u64,
        /// The codec's `length_adjustment`.
        adjustment: i64,
    },
    /// A length field, adjusted, gives a frame shorter than its own header (the bytes up to
    /// the end of the length field). Netty: "Adjusted frame length (..) is less than
    /// lengthFieldEndOffset: ..".
    #[error("adjusted frame length {len} is less than the header length {header}")]
    FrameShorterThanHeader {
        /// The frame length: field + adjustment + header length.
        len: u64,
        /// The header length, `length_field_offset + length_field_length`.
        header: usize,
    },
    /// A frame is shorter than the bytes the codec strips from its start. Netty: "Adjusted
    /// frame length (..) is less than initialBytesToStrip: ..". Encoding reports it for a
    /// payload whose frame its own decoder would refuse this way.
    #[error("frame length {len} is less than initial_bytes_to_strip {strip}")]
    FrameShorterThanStrip {
        /// The frame length.
        len: u64,
        /// The codec's `initial_bytes_to_strip`.
        strip: usize,
    },
    /// A length field plus the adjustment and header length does not fit in 64 bits: an
    /// 8-byte length field near `u64::MAX`, certainly not a frame this codec accepts.
    #[error("frame length overflows: length field {field} + adjustment {adjustment} + header")]
    LengthOverflow {
        /// The length field's value.
        field: u64,
        /// The codec's `length_adjustment`.
        adjustment: i64,
    },
    /// Encoding: the length to write is negative or does not fit in the length field
    /// (for example a 70 000-byte payload with a 2-byte field, or a payload shorter than a
    /// positive `length_adjustment`). Netty's `LengthFieldPrepender` throws
    /// `IllegalArgumentException` here.
    #[error("a {payload_len}-byte payload's length does not fit a {field_len}-byte length field")]
    LengthFieldOutOfRange {
        /// The payload's length.
        payload_len: usize,
        /// The length field's size in bytes.
        field_len: u8,
    },
    /// Encoding with a `length_field_offset`: the payload must start with the bytes that go
    /// before the length field, and is shorter than that.
    #[error("a {len}-byte payload is shorter than the length field offset {offset}")]
    PayloadShorterThanOffset {
        /// The payload's length.
        len: usize,
        /// The codec's `length_field_offset`.
        offset: usize,
    },
    /// Encoding: the payload contains a delimiter (or, with `LineEnding::Lf`, ends with `\r`),
    /// so the peer would read it as more than one frame or as a different one.
    #[error("the payload contains a delimiter at byte {at}")]
    DelimiterInPayload {
        /// Offset in the payload where the delimiter starts.
        at: usize,
    },
    /// Encoding with a fixed-length codec: the payload's length is not the frame length.
    #[error("a {len}-byte payload for {expected}-byte fixed-length frames")]
    WrongLength {
        /// The payload's length.
        len: usize,
        /// The codec's frame length.
        expected: usize,
    },
    /// A codec was configured with a value it cannot use.
    #[error("invalid codec option {option}: {reason}")]
    InvalidConfig {
        /// The option's name.
        option: &'static str,
        /// Why the value is refused.
        reason: &'static str,
    },
    /// A [`Decoder`](crate::codec::Decoder) returned a frame that consumes nothing, or
    /// whose ranges lie outside the bytes it was given: a bug in that decoder, reported
    /// instead of panicking or looping forever.
    #[error(
        "decoder returned an invalid frame (consumed {consumed}, payload {payload:?}) for {len} bytes"
    )]
    InvalidFrame {
        /// The frame's `consumed`.
        consumed: usize,
        /// The frame's `payload`.
        payload: Range<usize>,
        /// How many bytes the decoder was given.
        len: usize,
    },
}

//! WebSocket (RFC 6455), server side, sans I/O: what lets a browser connect to the gateway
//! directly and carry the push protocol's frames, one per binary message.
//!
//! Nothing here reads or writes a socket or keeps a buffer per connection: the handler
//! feeds these functions the connection's inbound bytes ([`Conn::inbound`]) and writes what
//! they produce ([`Conn::write`]).
//!
//! 1. **Opening handshake** (section 4): [`Upgrade::parse`] checks the HTTP/1.1 upgrade
//!    request against a [`HandshakeConfig`] (origin allow-list, subprotocol selection, head
//!    size limit) and [`Upgrade::write_accept`] writes the `101` response with its
//!    `Sec-WebSocket-Accept` ([`accept_key`]); a refused request gets
//!    [`HandshakeError::response`] (400, 403, 405, 426, 429 or 431), then the connection closes.
//! 2. **Frames** (section 5): a [`Decoder`] per connection (16 bytes, no heap) turns the
//!    client's masked frames into [`Message`]s, joining fragments and enforcing the limits
//!    of a [`DecoderConfig`]; its module docs say where the bytes stay. Pings and Closes are
//!    answered with [`Message::reply`]; violations end in a [`WsError`] whose
//!    [`close_frame`](WsError::close_frame) carries the status code (section 7.4).
//! 3. **Sending** (section 5): [`encode_binary`] and friends write unmasked, unfragmented
//!    server frames; [`FrameHead`] gives just a header, for a gathered write of a payload
//!    that is already in memory.
//! 4. **Closing** (section 7): after a [`Message::Close`] the handler sends the reply and
//!    closes the connection (the server closes TCP first, section 7.1.1); to close from the
//!    server side, send [`encode_close`] and close once the client's Close arrives (or a
//!    timeout passes).
//!
//! Text messages are refused with 1003 by default, the push protocol being binary;
//! [`TextPolicy::Utf8`] accepts them, checked to be UTF-8 (1007 if not). No extension
//! (permessage-deflate, ...) is negotiated.
//!
//! [`Conn::inbound`]: loopwire::Conn::inbound
//! [`Conn::write`]: loopwire::Conn::write
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | [`HandshakeConfig`], [`OriginPolicy`], [`DecoderConfig`], [`TextPolicy`] |
//! | `handshake.rs` | [`Upgrade`]: the request checked, the 101 response |
//! | `accept.rs` | [`accept_key`] |
//! | `reject.rs` | [`HandshakeError`] and its HTTP response |
//! | `header.rs` | [`FrameHead`], [`OpCode`], masking |
//! | `decoder.rs` | [`Decoder`] |
//! | `message.rs` | [`Message`], [`CloseFrame`], [`Decoded`] |
//! | `encode.rs` | [`encode_binary`], [`Control`], ... |
//! | `close.rs` | status codes |
//! | `error.rs` | [`WsError`] |

mod accept;
pub mod close;
mod config;
mod decoder;
mod encode;
mod error;
mod handshake;
mod header;
mod message;
mod reject;
#[cfg(test)]
mod tests;

pub use accept::{GUID, accept_key};
pub use config::{
    DecoderConfig, HandshakeConfig, MAX_MESSAGE_LIMIT, OriginPolicy, PROTOCOL, TextPolicy,
};
pub use decoder::Decoder;
pub use encode::{Control, encode_binary, encode_close, encode_frame, encode_text};
pub use error::WsError;
pub use handshake::Upgrade;
pub use header::{FrameHead, HeadBytes, MAX_CONTROL_PAYLOAD, MAX_HEAD, OpCode, apply_mask};
pub use message::{CloseFrame, Decoded, Message};
pub use reject::HandshakeError;

//! What the WebSocket side is configured with: [`HandshakeConfig`] for the opening handshake
//! (RFC 6455 section 4.2), [`DecoderConfig`] for the frames that follow (section 5). Both are
//! shared by every connection (the handler holds them); no connection carries a copy.

use super::header::{MAX_CONTROL_PAYLOAD, MAX_HEAD};

/// How the opening handshake is checked and answered.
#[derive(Debug, Clone)]
pub struct HandshakeConfig {
    /// Longest request head (request line and headers, up to the blank line) accepted;
    /// beyond it the answer is 431. Default 8 KiB.
    pub max_head: usize,
    /// Which `Origin`s may connect (section 4.2.2 step 4, and section 10.2).
    pub origin: OriginPolicy,
    /// Subprotocols this server speaks, most preferred first. The first of them the client
    /// offers in `Sec-WebSocket-Protocol` is selected (section 4.2.2 step 5.4). Default:
    /// [`PROTOCOL`] alone.
    pub protocols: Vec<String>,
    /// Refuse (400) a client that offers none of [`protocols`](Self::protocols), including
    /// one that offers no subprotocol at all. Default `false`: such a client is served
    /// without a subprotocol.
    pub require_protocol: bool,
}

/// The push protocol's subprotocol name: binary messages, each one push frame.
pub const PROTOCOL: &str = "loopwire-push.v1";

impl Default for HandshakeConfig {
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            origin: OriginPolicy::Any,
            protocols: vec![PROTOCOL.to_owned()],
            require_protocol: false,
        }
    }
}

/// Which values of the `Origin` header are allowed. Browsers always send it on WebSocket
/// requests and scripts cannot forge it, so it keeps other sites' pages from using a
/// visitor's browser (and its cookies) against this server. Non-browser clients may send
/// anything or nothing; it authenticates nobody.
#[derive(Debug, Clone, Default)]
pub enum OriginPolicy {
    /// Every origin, and none.
    #[default]
    Any,
    /// Only these origins (ASCII case-insensitive, e.g. `"https://app.example.com"`); a
    /// request without `Origin` (not from a browser) is allowed.
    AllowList(Vec<String>),
    /// The hook decides: it gets the `Origin` header's value, `None` when there is none.
    Check(fn(Option<&str>) -> bool),
}

impl OriginPolicy {
    /// Whether a request with this `Origin` (if any) may connect.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match (self, origin) {
            (Self::Any, _) | (Self::AllowList(_), None) => true,
            (Self::AllowList(list), Some(o)) => list.iter().any(|a| a.eq_ignore_ascii_case(o)),
            (Self::Check(hook), o) => hook(o),
        }
    }
}

/// What to do with text messages. The push protocol is binary, so the default refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextPolicy {
    /// Close with 1003 (unsupported data) at the first text frame, as soon as its header is
    /// in.
    #[default]
    Reject,
    /// Deliver text messages as [`Message::Text`](super::Message::Text) once the whole
    /// message is in and checked to be UTF-8; close with 1007 if it is not (section 8.1).
    Utf8,
}

/// Limits of the [`Decoder`](super::Decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Largest message (payload bytes, all fragments together); a frame that would make a
    /// message longer is refused with 1009 as soon as its header is in. Default 64 KiB; at
    /// most [`MAX_MESSAGE_LIMIT`] (larger values count as that).
    pub max_message: u32,
    /// Most frames one message may span, control frames between its fragments included;
    /// more is refused with 1009. Together with `max_message` it bounds the bytes a message
    /// keeps buffered ([`max_buffered`](Self::max_buffered)). Default 128.
    pub max_frames: u16,
    /// Text messages: refused (default) or checked and delivered.
    pub text: TextPolicy,
}

/// The largest [`DecoderConfig::max_message`] honoured: 1 GiB.
pub const MAX_MESSAGE_LIMIT: u32 = 1 << 30;

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            max_message: 64 * 1024,
            max_frames: 128,
            text: TextPolicy::Reject,
        }
    }
}

impl DecoderConfig {
    /// `max_message`, capped at [`MAX_MESSAGE_LIMIT`].
    pub fn message_limit(&self) -> u32 {
        self.max_message.min(MAX_MESSAGE_LIMIT)
    }

    /// The most inbound bytes the decoder may leave unconsumed: a message's payload, the
    /// headers of its frames and the control frames between them. The engine's
    /// `max_inbound` must be at least this (plus what may arrive after it in one read), or
    /// the engine closes a connection sending a message the decoder would accept.
    pub fn max_buffered(&self) -> usize {
        let per_frame = MAX_HEAD + MAX_CONTROL_PAYLOAD;
        self.message_limit() as usize + usize::from(self.max_frames.max(1)) * per_frame
    }
}

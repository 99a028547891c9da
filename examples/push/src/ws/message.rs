//! What the [`Decoder`](super::Decoder) yields: [`Message`]s (RFC 6455 sections 5.5 and 5.6)
//! and how many inbound bytes each used ([`Decoded`]), and the automatic answers to control
//! frames ([`Message::reply`]).

use super::encode::Control;

/// One message from the peer: a whole data message (its fragments joined) or a control frame.
/// Payloads are unmasked; they borrow the decoder's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A binary message: on this gateway, one push frame.
    Binary(&'a [u8]),
    /// A text message, checked to be UTF-8 (only with [`TextPolicy::Utf8`](super::TextPolicy)).
    Text(&'a str),
    /// A ping: answer with [`reply`](Self::reply) (a pong with the same payload).
    Ping(&'a [u8]),
    /// A pong (unsolicited ones are allowed, section 5.5.3).
    Pong(&'a [u8]),
    /// The peer started (or answered) the closing handshake (section 5.5.1). Send
    /// [`reply`](Self::reply) (unless this side sent its Close first), then close the TCP
    /// connection: the server closes first (section 7.1.1). The decoder yields nothing after
    /// it.
    Close(Option<CloseFrame<'a>>),
}

/// The body of a Close frame (section 5.5.1), checked: a code a peer may send, a UTF-8
/// reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code (section 7.4).
    pub code: u16,
    /// Why, for humans; may be empty.
    pub reason: &'a str,
}

impl Message<'_> {
    /// The frame to send back automatically: a pong for a ping, the echo of a Close (its
    /// status code, without the reason; an empty Close for an empty one), nothing for data
    /// messages and pongs.
    pub fn reply(&self) -> Option<Control> {
        match self {
            // The decoder only yields pings of at most 125 bytes, so `ok()` drops nothing.
            Message::Ping(payload) => Control::pong(payload).ok(),
            Message::Close(Some(c)) => Some(Control::close(c.code, "")),
            Message::Close(None) => Some(Control::close_empty()),
            Message::Binary(_) | Message::Text(_) | Message::Pong(_) => None,
        }
    }
}

/// A decoded message and the inbound bytes to discard for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Bytes to discard from the front of the inbound bytes before the next call. 0 for a
    /// control frame that arrived between the fragments of a message: those fragments stay
    /// in the inbound bytes until the message is whole.
    pub consumed: usize,
    /// The message.
    pub message: Message<'a>,
}

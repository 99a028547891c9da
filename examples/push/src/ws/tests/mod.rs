//! Unit and property tests of the WebSocket module; [`Feed`] plays the engine's inbound
//! buffer (unread bytes kept, new bytes appended, consumed bytes dropped).

mod decoder;
mod handshake;
mod props;

use super::{Decoder, DecoderConfig, FrameHead, Message, OpCode, WsError, encode_frame};

/// A message, owned, to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Binary(Vec<u8>),
    Text(String),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

impl From<Message<'_>> for Got {
    fn from(m: Message<'_>) -> Self {
        match m {
            Message::Binary(b) => Got::Binary(b.to_vec()),
            Message::Text(t) => Got::Text(t.to_owned()),
            Message::Ping(b) => Got::Ping(b.to_vec()),
            Message::Pong(b) => Got::Pong(b.to_vec()),
            Message::Close(c) => Got::Close(c.map(|c| (c.code, c.reason.to_owned()))),
        }
    }
}

/// A decoder fed the way the engine feeds a handler.
#[derive(Debug, Default)]
struct Feed {
    config: DecoderConfig,
    decoder: Decoder,
    inbound: Vec<u8>,
    scratch: Vec<u8>,
}

impl Feed {
    fn new(config: DecoderConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Appends `bytes` and decodes every message now whole.
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<Got>, WsError> {
        self.inbound.extend_from_slice(bytes);
        let mut got = Vec::new();
        while let Some(d) = self
            .decoder
            .next(&self.config, &self.inbound, &mut self.scratch)?
        {
            let consumed = d.consumed;
            got.push(Got::from(d.message));
            self.inbound.drain(..consumed);
        }
        Ok(got)
    }
}

/// A client frame: masked with `key`.
fn frame(op: OpCode, fin: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let head = FrameHead {
        fin,
        opcode: op,
        mask: Some(key),
        payload_len: 0,
    };
    encode_frame(head, payload, &mut out);
    out
}

/// A whole masked binary message in one frame.
fn binary(payload: &[u8]) -> Vec<u8> {
    frame(OpCode::Binary, true, payload, [0x11, 0x22, 0x33, 0x44])
}

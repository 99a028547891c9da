//! The WebSocket side of a gateway connection: recognising the WebSocket listener, the
//! opening handshake, and turning binary messages into the push frames the session handler
//! ([`handler`](super::handler)) takes, with pings and closes answered per RFC 6455.
//!
//! A connection accepted on [`Config::ws_addr`](super::Config::ws_addr) starts in
//! [`Transport::Handshake`]: its upgrade request is checked by [`Upgrade::parse`] against the
//! gateway's [`HandshakeConfig`](super::ws::HandshakeConfig) (origin allow-list, subprotocol
//! `loopwire-push.v1`); a refused request gets its HTTP error and is closed. The AUTH
//! deadline set in `on_open` covers the handshake too. Then each binary message must be
//! exactly one push frame, length field included (else ERROR 2); frames are handled as on
//! TCP, and every server frame goes out as one binary message
//! ([`transport`](super::transport)).
//!
//! Unmasking needs a copy: it goes to one scratch buffer per event-loop thread (a
//! `thread_local`), shared by the loop's connections, so an idle WebSocket session costs
//! only its 16-byte [`Decoder`](super::ws::Decoder) in its [`Session`].

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use loopwire::{Action, Conn, EngineHandle, Network};

use super::frame::{LEN_BYTES, ProtocolError};
use super::gateway::Gateway;
use super::session::Session;
use super::transport::Transport;
use super::ws::{Message, Upgrade};

/// A scratch buffer larger than this is given back after use (a large message passed).
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    /// Where this loop thread unmasks WebSocket payloads; shared by its connections.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

impl Gateway {
    /// At boot: the WebSocket listener is the engine's last bound address (see
    /// [`configure`](Gateway::configure)).
    pub(crate) fn learn_ws_listener(&self, engine: &EngineHandle) {
        let bound = self.config.ws_addr.and_then(|_| {
            engine
                .addrs()
                .last()
                .filter(|a| a.network == Network::Tcp)
                .and_then(|a| a.addr)
        });
        let _ = self.ws_listener.set(bound);
    }

    /// The WebSocket listener's address (with the port it got), if the gateway serves one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_listener.get().copied().flatten()
    }

    /// Whether `c` was accepted on the WebSocket listener (asks the OS for its local
    /// address, once per connection, only when there is such a listener).
    pub(crate) fn on_ws_listener(&self, c: &Conn<'_, Session>) -> bool {
        let Some(ws) = self.ws_addr() else {
            return false;
        };
        c.local_addr().is_some_and(|local| {
            local.port() == ws.port() && (ws.ip().is_unspecified() || local.ip() == ws.ip())
        })
    }

    /// `on_traffic` of a WebSocket connection: the handshake if pending, then every whole
    /// message. `Some(action)` ends the callback with it; `None`: go on and deliver.
    pub(crate) fn ws_traffic(&self, c: &mut Conn<'_, Session>) -> Option<Action> {
        if c.state().transport == Transport::Handshake {
            match Upgrade::parse(c.inbound(), &self.ws_handshake) {
                Ok(None) => return Some(Action::None),
                Ok(Some((used, upgrade))) => {
                    c.discard(used);
                    c.write(&upgrade.accept());
                    c.state_mut().transport = Transport::Ws(Default::default());
                    self.stats.ws_upgrades.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    tracing::debug!(peer = ?c.peer_addr(), error = %e, "websocket handshake refused");
                    self.stats.ws_handshake_failures.fetch_add(1, Relaxed);
                    c.write(&e.response());
                    c.state_mut().closing = true;
                    c.discard(usize::MAX);
                    return Some(Action::Close);
                }
            }
        }
        let mut scratch = SCRATCH.take();
        let done = self.ws_messages(c, &mut scratch);
        if scratch.capacity() > SCRATCH_KEEP {
            scratch = Vec::new();
        }
        SCRATCH.set(scratch);
        done
    }

    fn ws_messages(&self, c: &mut Conn<'_, Session>, scratch: &mut Vec<u8>) -> Option<Action> {
        loop {
            if !c.is_writable() {
                c.pause_reading();
                return None;
            }
            let Transport::Ws(mut decoder) = c.state().transport else {
                return Some(Action::Close);
            };
            let inbound = c.inbound();
            let next = decoder.next(&self.ws_decoder, inbound, scratch);
            c.state_mut().transport = Transport::Ws(decoder);
            let d = match next {
                Ok(Some(d)) => d,
                Ok(None) => return None,
                Err(e) => {
                    tracing::debug!(peer = ?c.peer_addr(), error = %e, "websocket violation");
                    self.stats.protocol_errors.fetch_add(1, Relaxed);
                    c.write(e.close_frame().as_bytes());
                    c.state_mut().closing = true;
                    c.discard(usize::MAX);
                    return Some(Action::Close);
                }
            };
            c.discard(d.consumed);
            if let Some(reply) = d.message.reply() {
                c.write(reply.as_bytes()); // a pong, or the echo of a Close
            }
            match d.message {
                Message::Binary(m) => {
                    let body = one_frame(m);
                    let done = match body {
                        Ok(body) => self.frame_in(c, body),
                        Err(e) => Some(self.fail(c, &e)),
                    };
                    if done.is_some() {
                        return done;
                    }
                }
                Message::Close(_) => {
                    c.state_mut().closing = true;
                    c.discard(usize::MAX);
                    return Some(Action::Close);
                }
                Message::Text(_) | Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    }
}

/// The frame a binary message carries: `len | type | body` with `len` the rest of the
/// message; returns `type | body`.
fn one_frame(m: &[u8]) -> Result<&[u8], ProtocolError> {
    let bad = ProtocolError::NotOneFrame { len: m.len() };
    let (len, rest) = m.split_at_checked(LEN_BYTES).ok_or(bad.clone())?;
    let field = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    if usize::try_from(field).ok() != Some(rest.len()) {
        return Err(bad);
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_be_exactly_one_frame() {
        assert_eq!(one_frame(&[0, 0, 0, 2, 4, 9]), Ok(&[4u8, 9][..]));
        assert_eq!(one_frame(&[0, 0, 0, 0]), Ok(&[][..]));
        for bad in [
            &[0u8, 0, 0][..],
            &[0, 0, 0, 3, 4, 9],
            &[0, 0, 0, 1, 4, 0, 0, 0, 1, 4],
        ] {
            assert_eq!(
                one_frame(bad),
                Err(ProtocolError::NotOneFrame { len: bad.len() })
            );
        }
    }
}

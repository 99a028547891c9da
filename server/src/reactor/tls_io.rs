//! The event loop's TLS paths (feature `tls`): the handshake before `on_open`, decrypting
//! into the shared read buffer, encrypting on the way out (see [`crate::tls`]).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use rustls::ServerConfig;

use super::{Call, EventLoop};
use crate::config::Config;
use crate::handler::{CloseReason, EventHandler};
use crate::tls::{ClientTls, TlsSession};
use crate::transport::Transport;

/// A loop's TLS configuration, its connections' sessions and its ciphertext buffers
/// (allocated only when TLS is on).
///
/// The sessions live here, by slot, rather than in the connection slots, so that a plain
/// connection's slot carries no TLS field at all (idle memory per connection is a goal), and
/// a plain connection costs no lookup while no connection of the loop runs TLS.
#[derive(Debug)]
pub(super) struct LoopTls {
    config: Option<Arc<ServerConfig>>,
    sessions: HashMap<usize, Box<TlsSession>>,
    /// Ciphertext read from a socket, before the session takes it.
    input: Vec<u8>,
    /// Ciphertext the session produced, on its way to the outbound path.
    output: Vec<u8>,
}

impl LoopTls {
    pub(super) fn new(cfg: &Config) -> Self {
        let config = cfg.tls.clone();
        let input = if config.is_some() {
            vec![0; cfg.read_buffer]
        } else {
            Vec::new()
        };
        Self {
            config,
            sessions: HashMap::new(),
            input,
            output: Vec::new(),
        }
    }

    /// Whether connection `key` runs TLS.
    pub(super) fn has(&self, key: usize) -> bool {
        !self.sessions.is_empty() && self.sessions.contains_key(&key)
    }

    /// Connection `key`'s session.
    pub(super) fn get(&self, key: usize) -> Option<&TlsSession> {
        if self.sessions.is_empty() {
            return None;
        }
        self.sessions.get(&key).map(|b| &**b)
    }

    fn get_mut(&mut self, key: usize) -> Option<&mut TlsSession> {
        self.sessions.get_mut(&key).map(|b| &mut **b)
    }

    /// Ends connection `key`'s session, if it has one: its `close_notify` (after any alert
    /// still queued) goes out on `stream` through `transport`, best effort, one non-blocking
    /// write, before the socket closes.
    pub(super) fn close_notify<T: Transport>(
        &mut self,
        transport: &mut T,
        key: usize,
        stream: &T::Stream,
    ) {
        if self.sessions.is_empty() {
            return;
        }
        if let Some(mut tls) = self.sessions.remove(&key) {
            let mut out = Vec::new();
            tls.close(&mut out);
            let _ = transport.send(key, stream, &out);
        }
    }
}

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    /// Starts a TLS session on the new connection `key` if the engine serves TLS; `on_open`
    /// then waits for the handshake, which must finish within the connect timeout. Returns
    /// whether it did.
    pub(super) fn tls_accept(&mut self, key: usize) -> bool {
        let Some(config) = self.tls.config.as_ref() else {
            return false;
        };
        let session = match TlsSession::new(config) {
            Ok(s) => s,
            Err(e) => {
                self.close_now(key, CloseReason::Error(e));
                return true;
            }
        };
        self.start_session(key, session);
        true
    }

    /// Gives connection `key` its session and the handshake's deadline (the connect timeout
    /// from now), with `on_open` held back until the handshake is done.
    fn start_session(&mut self, key: usize, session: Box<TlsSession>) {
        if self.conns.contains(key) {
            self.tls.sessions.insert(key, session);
            self.start_handshake_clock(key);
        }
    }

    /// Sets connection `key`'s handshake deadline: the connect timeout from now. The read
    /// deadline carries it; `tls_open` clears it when it hands the connection to the handler.
    fn start_handshake_clock(&mut self, key: usize) {
        let now = self.now;
        let limit = self.cfg.connect_timeout;
        if let Some(slot) = self.conns.get_mut(key) {
            slot.deadlines.set_read(Some(now.saturating_add(limit)));
        }
        self.arm(key);
    }

    /// Starts the client session of a TLS dial on connection `key`: the ClientHello goes out
    /// once the TCP connect is done (at once if it already is); `on_open` waits for the
    /// handshake, which must finish within the connect timeout.
    pub(super) fn tls_dial(&mut self, key: usize, client: &ClientTls, connecting: bool) {
        let session = match TlsSession::client(client) {
            Ok(s) => s,
            Err(e) => {
                self.close_now(key, CloseReason::ConnectFailed(e));
                return;
            }
        };
        self.start_session(key, session);
        if !connecting {
            self.tls_connected(key);
        }
    }

    /// The TCP connect of a TLS dial finished: send the ClientHello and wait for the
    /// handshake (within the connect timeout, counted again from now).
    pub(super) fn tls_connected(&mut self, key: usize) {
        self.start_handshake_clock(key);
        self.update_interest(key);
        self.tls_send(key, &[]);
    }

    /// A TLS connection is readable: one `recv` of ciphertext, then as many rounds of "the
    /// session takes what it can, the handler gets the plaintext" as that needs.
    pub(super) fn tls_readable(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let input = self.tls.input.as_ptr();
        let n = match self.transport.recv(key, &slot.stream, &mut self.tls.input) {
            Ok([]) => {
                self.peer_closed(key);
                return;
            }
            Ok(got) => {
                // A transport with its own receive buffers hands out bytes elsewhere: the
                // session reads them from `input`.
                let n = got.len();
                if got.as_ptr() != input {
                    let got = got.to_vec();
                    self.tls.input[..n].copy_from_slice(&got);
                }
                n
            }
            Err(e) if crate::reactor::outbound::is_transient(&e) => return,
            Err(e) => {
                self.close_now(key, CloseReason::Error(e));
                return;
            }
        };
        slot.deadlines.active(self.now);
        let mut pos = 0;
        loop {
            let LoopTls {
                sessions, input, ..
            } = &mut self.tls;
            let Some(tls) = sessions.get_mut(&key) else {
                return;
            };
            let taken = match tls.feed(&input[pos..n]) {
                Ok(taken) => taken,
                Err(e) => {
                    // `close_now` sends the alert the session queued, with its close_notify.
                    self.close_now(key, CloseReason::Error(e));
                    return;
                }
            };
            pos += taken;
            if !self.tls_send(key, &[]) || !self.tls_open(key) {
                return;
            }
            let mut delivered = false;
            loop {
                let Self { tls, read_buf, .. } = self;
                let Some(tls) = tls.get_mut(key) else {
                    return;
                };
                let m = match tls.read_plain(read_buf) {
                    Ok(m) => m,
                    Err(e) => {
                        self.close_now(key, CloseReason::Error(e));
                        return;
                    }
                };
                if m == 0 {
                    break;
                }
                delivered = true;
                self.callback(key, Some(m), Call::Traffic);
            }
            if pos >= n {
                return;
            }
            if taken == 0 && !delivered {
                let stuck = io::Error::other("TLS session took no input and gave no output");
                self.close_now(key, CloseReason::Error(stuck));
                return;
            }
        }
    }

    /// Runs `on_open` once the handshake of connection `key` is done (once). Returns false
    /// when the connection is gone.
    fn tls_open(&mut self, key: usize) -> bool {
        if !self.conns.contains(key) {
            return false;
        }
        let Some(tls) = self.tls.get_mut(key) else {
            return true;
        };
        if tls.is_handshaking() || tls.is_opened() {
            // Still shaking hands, or open already: the handler's own read deadline, if it
            // set one, is its business from here on.
            return true;
        }
        tls.mark_opened();
        if let Some(slot) = self.conns.get_mut(key) {
            // The handshake deadline is over.
            slot.deadlines.set_read(None);
        }
        let tag = self.dialing.remove(&key).map(|d| d.0);
        self.arm(key);
        self.callback(key, None, Call::Open(tag));
        self.conns.contains(key)
    }

    /// Encrypts `data` for connection `key` and sends the records, with whatever else the
    /// session has pending (handshake records, alerts); with no `data`, sends just that.
    /// Returns false when the connection is gone or was closed in the attempt.
    pub(super) fn tls_send(&mut self, key: usize, data: &[u8]) -> bool {
        let LoopTls {
            sessions, output, ..
        } = &mut self.tls;
        let Some(tls) = sessions.get_mut(&key) else {
            return self.conns.contains(key);
        };
        let mut out = std::mem::take(output);
        out.clear();
        let made = if data.is_empty() {
            tls.output(&mut out)
        } else {
            tls.encrypt(data, &mut out)
        };
        let alive = match made {
            Ok(()) if out.is_empty() => true,
            Ok(()) => self.send_raw(key, &out),
            Err(e) => {
                self.close_now(key, CloseReason::Error(e));
                false
            }
        };
        self.tls.output = out;
        alive
    }
}

//! TLS inside the event loop (feature `tls`): one sans-I/O `rustls` session per connection,
//! between the socket and the handler.
//!
//! The loop reads ciphertext into its TLS input buffer and feeds it to the session; the
//! plaintext that comes out is decrypted into the loop's shared read buffer, so the handler
//! sees it exactly as it sees a plain connection's bytes (in place, leftovers kept). Whatever
//! the handler writes is encrypted on its way to the connection's outbound path, which then
//! counts ciphertext against the watermarks and `max_outbound`. Handshake records the session
//! produces go out the same way. `on_open` runs once the handshake is complete, so the first
//! bytes a handler writes are already protected; a handshake that does not finish within
//! `connect_timeout` closes the connection (`TimedOut`), and a protocol error closes it after
//! the alert is sent, with `CloseReason::Error` holding an `InvalidData` error whose source
//! is the `rustls::Error`.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

/// What a dialed connection needs to start its client session.
#[derive(Debug, Clone)]
pub(crate) struct ClientTls {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) name: ServerName<'static>,
}

/// One connection's TLS state: a server session (accepted) or a client one (dialed).
#[derive(Debug)]
pub(crate) struct TlsSession {
    conn: Connection,
    /// `on_open` ran: the handshake finished and the connection was handed to the handler.
    opened: bool,
}

impl TlsSession {
    /// A server session for a newly accepted connection.
    pub(crate) fn new(config: &Arc<ServerConfig>) -> io::Result<Box<Self>> {
        let conn = ServerConnection::new(Arc::clone(config)).map_err(invalid)?;
        Ok(Box::new(Self {
            conn: conn.into(),
            opened: false,
        }))
    }

    /// A client session for a dialed connection; its first output is the ClientHello.
    pub(crate) fn client(tls: &ClientTls) -> io::Result<Box<Self>> {
        let conn =
            ClientConnection::new(Arc::clone(&tls.config), tls.name.clone()).map_err(invalid)?;
        Ok(Box::new(Self {
            conn: conn.into(),
            opened: false,
        }))
    }

    /// Takes ciphertext from the front of `input` and processes it; returns how much it took
    /// (possibly less than all of it when its buffers are full: read the plaintext out and
    /// call again).
    ///
    /// # Errors
    /// A TLS protocol error (as `InvalidData`); the alert to send is then queued as output.
    pub(crate) fn feed(&mut self, input: &[u8]) -> io::Result<usize> {
        let mut rd = input;
        let taken = match self.conn.read_tls(&mut rd) {
            Ok(n) => n,
            // Its buffers are full: the caller reads plaintext out first.
            Err(e) if e.kind() == io::ErrorKind::Other && !input.is_empty() => 0,
            Err(e) => return Err(e),
        };
        self.conn.process_new_packets().map_err(invalid)?;
        Ok(taken)
    }

    /// Moves decrypted bytes into `buf`; returns how many (0 when none are ready).
    ///
    /// # Errors
    /// The peer's close without `close_notify` shows as `UnexpectedEof`.
    pub(crate) fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.conn.reader().read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Encrypts `plain` and appends the records (and any pending handshake output) to `out`.
    ///
    /// # Errors
    /// `WriteZero` when the session cannot take the bytes (its plaintext buffer is full
    /// during the handshake).
    pub(crate) fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.conn.writer().write_all(plain)?;
        self.output(out)
    }

    /// Appends whatever the session wants to send (handshake records, alerts) to `out`.
    ///
    /// # Errors
    /// Only if writing to a `Vec` failed, which it does not.
    pub(crate) fn output(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(out)?;
        }
        Ok(())
    }

    /// Whether the handshake is still going on.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the connection was handed to the handler (`on_open` ran).
    pub(crate) fn is_opened(&self) -> bool {
        self.opened
    }

    /// Notes that `on_open` runs now.
    pub(crate) fn mark_opened(&mut self) {
        self.opened = true;
    }

    /// Queues a `close_notify` alert and appends it to `out`.
    pub(crate) fn close(&mut self, out: &mut Vec<u8>) {
        self.conn.send_close_notify();
        let _ = self.output(out);
    }
}

fn invalid(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

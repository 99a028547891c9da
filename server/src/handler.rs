//! The user's side of the engine: the [`EventHandler`] trait and what its callbacks return.

use std::io;
use std::time::Duration;

use crate::conn::Conn;
use crate::engine::EngineHandle;

/// What the engine does after a callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Carry on.
    #[default]
    None,
    /// Close this connection once everything written to it has been sent.
    Close,
    /// Stop the whole engine gracefully (every connection is closed, then `on_shutdown`).
    Shutdown,
}

/// Why a connection closed, as [`EventHandler::on_close`] is told.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side (read returned end of stream) and everything written was sent.
    PeerClosed,
    /// The handler asked for it: [`Action::Close`], [`Conn::close`] or
    /// [`EngineHandle::close`].
    Handler,
    /// The engine is shutting down.
    Shutdown,
    /// No traffic for longer than the idle timeout.
    IdleTimeout,
    /// A callback of the handler panicked while serving this connection. The loop caught
    /// the panic (the panic hook reported it as usual), dropped what that callback wrote, and
    /// closed the connection; the loop and its other connections go on.
    Panicked,
    /// A dialed connection could not be established (refused, unreachable, or not within
    /// the connect timeout: `ErrorKind::TimedOut`). `on_open` never ran for it.
    ConnectFailed(io::Error),
    /// The read deadline the handler set ([`Conn::set_read_deadline`]) passed.
    ReadTimeout,
    /// Unsent bytes waited longer than the write timeout with the peer taking none
    /// ([`EngineBuilder::write_timeout`](crate::EngineBuilder::write_timeout)).
    WriteTimeout,
    /// The peer sent more than the inbound limit without the handler consuming it.
    InboundOverflow,
    /// More was written than the outbound limit allows while the peer was not reading.
    OutboundOverflow,
    /// A socket error (reset by peer, broken pipe, ...).
    Error(io::Error),
}

/// Which of a connection's deadlines passed, as [`EventHandler::on_timeout`] is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// The read deadline the handler set ([`Conn::set_read_deadline`]).
    Read,
    /// The idle timeout ([`EngineBuilder::idle_timeout`](crate::EngineBuilder::idle_timeout)):
    /// nothing arrived for that long.
    Idle,
}

impl Timeout {
    /// The reason `on_close` is given when the connection closes for this timeout.
    pub fn close_reason(self) -> CloseReason {
        match self {
            Self::Read => CloseReason::ReadTimeout,
            Self::Idle => CloseReason::IdleTimeout,
        }
    }
}

/// Callbacks of the engine, run on the event-loop threads.
///
/// One handler value serves every loop, so it is `Sync`; per-connection data lives in
/// [`State`](EventHandler::State), stored inline in the connection's slot (no box per
/// connection) and reached through [`Conn::state`] / [`Conn::state_mut`].
///
/// Callbacks must not block: a loop serves thousands of connections on one thread. Hand
/// blocking work to another thread and answer through an [`EngineHandle`].
///
/// # Examples
/// An echo server:
/// ```no_run
/// use loopwire::{Action, Conn, Engine, EventHandler};
///
/// struct Echo;
/// impl EventHandler for Echo {
///     type State = ();
///     fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
///         let data = c.next(usize::MAX);
///         c.write(data);
///         Action::None
///     }
/// }
///
/// Engine::builder().addr("tcp://127.0.0.1:9000").run(Echo).unwrap();
/// ```
pub trait EventHandler: Send + Sync + 'static {
    /// Per-connection state, created with `Default` before [`on_open`](Self::on_open).
    type State: Default + Send + 'static;

    /// Once, after every address is bound and before any connection is served.
    fn on_boot(&self, engine: &EngineHandle) -> Action {
        let _ = engine;
        Action::None
    }

    /// A connection was accepted, enrolled ([`EngineHandle::enroll`]) or dialed and is now
    /// connected ([`EngineHandle::dial`]; [`Conn::tag`] tells those apart); it may write a
    /// greeting. (Datagram sockets have no connections: each datagram is one `on_traffic`.)
    fn on_open(&self, conn: &mut Conn<'_, Self::State>) -> Action {
        let _ = conn;
        Action::None
    }

    /// Bytes arrived (or [`EngineHandle::wake`] was called). What the handler leaves unread stays
    /// buffered and is shown again, with what arrives next, at the next call.
    fn on_traffic(&self, conn: &mut Conn<'_, Self::State>) -> Action;

    /// The connection's writability changed ([`Conn::is_writable`]): `false` once its unsent
    /// bytes rose above the high watermark, `true` once they drained to the low one
    /// ([`EngineBuilder::write_watermarks`](crate::EngineBuilder::write_watermarks)).
    ///
    /// Called after the operation that caused the change (never from inside another
    /// callback), and only when the state differs from the one last announced, so calls
    /// alternate `false`, `true`, `false`, ... The connection's inbound bytes are not shown
    /// here (they are at the next `on_traffic`). The usual reaction is
    /// [`Conn::pause_reading`] on `false` and [`Conn::resume_reading`] on `true`, so a peer
    /// that does not read cannot make the server buffer without bound.
    fn on_writability_changed(&self, conn: &mut Conn<'_, Self::State>, writable: bool) -> Action {
        let _ = (conn, writable);
        Action::None
    }

    /// The connection's read deadline or idle timeout passed. The connection is still open:
    /// what the callback writes (an HTTP `408`, a protocol's error frame) goes out before it
    /// closes, as far as the socket takes it at once (the peer that timed out is not waited
    /// for). Returning [`Action::Close`] (the default) closes it with
    /// [`CloseReason::ReadTimeout`] or [`CloseReason::IdleTimeout`]; [`Action::None`] keeps it
    /// open with that deadline gone (the read deadline cleared, unless the callback sets a
    /// new one; the idle timeout counted again from now). Not called for a write timeout
    /// (the peer takes no bytes), nor for a connection still connecting or in its TLS
    /// handshake. Inbound bytes are not shown here.
    fn on_timeout(&self, conn: &mut Conn<'_, Self::State>, timeout: Timeout) -> Action {
        let _ = (conn, timeout);
        Action::Close
    }

    /// The engine is stopping and this open connection with it: the last chance to write a
    /// goodbye (a WebSocket Close 1001 "going away", a protocol's BYE). What the callback
    /// writes is sent after what is already queued, as far as the socket takes it at once (a
    /// peer that does not read is not waited for); then the connection closes with
    /// [`CloseReason::Shutdown`]. Called only for connections `on_open` ran for (not for a
    /// dial still connecting or a TLS handshake in progress), and not for a connection
    /// already closing. Inbound bytes are not shown here.
    fn on_stopping(&self, conn: &mut Conn<'_, Self::State>) {
        let _ = conn;
    }

    /// The connection is closing; writes are no longer possible. Called exactly once per
    /// connection the engine took on: after `on_open`, or without it for a dialed connection
    /// that never connected ([`CloseReason::ConnectFailed`], or `Shutdown` if the engine
    /// stopped first; [`Conn::tag`] says which dial it was) and for a TLS connection whose
    /// handshake failed or timed out (feature `tls`).
    fn on_close(&self, conn: &mut Conn<'_, Self::State>, reason: CloseReason) -> Action {
        let _ = (conn, reason);
        Action::None
    }

    /// The ticker (enabled with [`EngineBuilder::ticker`](crate::EngineBuilder::ticker)) fired;
    /// return the delay until the next tick.
    fn on_tick(&self, engine: &EngineHandle) -> (Duration, Action) {
        let _ = engine;
        (Duration::from_secs(1), Action::None)
    }

    /// Once, after every loop has closed its connections and exited.
    fn on_shutdown(&self, engine: &EngineHandle) {
        let _ = engine;
    }
}

/// A shared handler: lets the code that started the engine keep an `Arc` to the handler (to
/// read its counters, say) while the engine runs it.
impl<H: EventHandler> EventHandler for std::sync::Arc<H> {
    type State = H::State;

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        (**self).on_boot(engine)
    }

    fn on_open(&self, conn: &mut Conn<'_, Self::State>) -> Action {
        (**self).on_open(conn)
    }

    fn on_traffic(&self, conn: &mut Conn<'_, Self::State>) -> Action {
        (**self).on_traffic(conn)
    }

    fn on_writability_changed(&self, conn: &mut Conn<'_, Self::State>, writable: bool) -> Action {
        (**self).on_writability_changed(conn, writable)
    }

    fn on_timeout(&self, conn: &mut Conn<'_, Self::State>, timeout: Timeout) -> Action {
        (**self).on_timeout(conn, timeout)
    }

    fn on_stopping(&self, conn: &mut Conn<'_, Self::State>) {
        (**self).on_stopping(conn)
    }

    fn on_close(&self, conn: &mut Conn<'_, Self::State>, reason: CloseReason) -> Action {
        (**self).on_close(conn, reason)
    }

    fn on_tick(&self, engine: &EngineHandle) -> (Duration, Action) {
        (**self).on_tick(engine)
    }

    fn on_shutdown(&self, engine: &EngineHandle) {
        (**self).on_shutdown(engine)
    }
}

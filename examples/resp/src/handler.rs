//! [`Resp`]: the RESP server as an [`EventHandler`]: parse what arrived, run each complete
//! command, stop when the peer falls behind.
//!
//! Each `on_traffic` parses as many complete commands as the unread bytes hold (a pipeline),
//! replies to each in order and consumes exactly their bytes; a partial command is left
//! unread, shown again with the bytes that follow, and its parse resumes where it stopped.
//!
//! Backpressure: before each command the handler asks [`Conn::is_writable`]. Once the replies
//! waiting for the peer pass the engine's high watermark it stops, leaves the remaining
//! commands unread and pauses reading, so a client that pipelines without reading is slowed
//! down by TCP instead of growing the server's buffers; `on_writability_changed(true)`
//! resumes reading, and the engine shows the commands left unread again.
//!
//! Expiry: commands read the time from [`Conn::now`] (the engine's clock, a
//! [`TestClock`](loopwire::TestClock) in tests); [`Resp::configure`] turns the engine's ticker
//! on, and each tick ([`EventHandler::on_tick`], on loop 0) sweeps up to [`SWEEP_BUDGET`]
//! expired keys from the shared store, every [`SWEEP_EVERY`] (Redis: 10 times a second), or
//! sooner while due keys remain.

use std::io::Write;
use std::time::Duration;

use loopwire::{Action, Conn, EngineBuilder, EngineHandle, EventHandler};

use crate::command::{Ctx, Next, Session, execute};
use crate::parse::{Limits, Parsed, Progress, parse};
use crate::store::Store;

/// Time between two expiry sweeps when the last one finished its work.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Time between two expiry sweeps while due keys remain.
pub const SWEEP_AGAIN: Duration = Duration::from_millis(1);

/// Most expired keys one sweep removes (bounds the time a tick takes from loop 0's
/// connections).
pub const SWEEP_BUDGET: usize = 4096;

/// Per-connection state: how far the parse of a partial command got, and the session
/// (`CLIENT SETNAME`).
#[derive(Debug, Default)]
pub struct ConnState {
    progress: Progress,
    session: Session,
}

/// The RESP key-value server. One value serves every loop; the [`Store`] inside is shared.
#[derive(Debug, Default)]
pub struct Resp {
    store: Store,
    limits: Limits,
}

impl Resp {
    /// A server with an empty store and these request limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            store: Store::new(),
            limits,
        }
    }

    /// The store, shared by every connection.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Sets the engine's per-connection buffer caps to fit these limits: one request with a
    /// bulk string of [`Limits::max_bulk`] must fit unread, and its `GET` reply unsent, with
    /// 1 MiB to spare. A request or a single reply larger than that closes the connection
    /// (`InboundOverflow` / `OutboundOverflow`).
    pub fn configure<'b>(&self, builder: &'b mut EngineBuilder) -> &'b mut EngineBuilder {
        let cap = self.limits.max_bulk.saturating_add(1 << 20);
        builder.max_inbound(cap).max_outbound(cap).ticker(true)
    }

    /// Parses and runs the commands the unread bytes hold, with `session` taken out of the
    /// connection's state for the time (the replies go to the connection itself).
    fn serve(&self, c: &mut Conn<'_, ConnState>, session: &mut Session) -> Action {
        let now = u64::try_from(c.now().as_millis()).unwrap_or(u64::MAX);
        loop {
            if !c.is_writable() {
                // The peer is behind: leave the rest unread until it catches up.
                c.pause_reading();
                return Action::None;
            }
            let buf = c.inbound();
            match parse(buf, &mut c.state_mut().progress, &self.limits) {
                Ok(Parsed::Command(cmd, len)) => {
                    c.discard(len);
                    let mut ctx = Ctx {
                        store: &self.store,
                        now,
                        session,
                    };
                    if execute(cmd, &mut ctx, c) == Next::Close {
                        return Action::Close;
                    }
                }
                Ok(Parsed::Empty(len)) => {
                    c.discard(len);
                }
                Ok(Parsed::Incomplete) => return Action::None,
                Err(e) => {
                    // Formatted straight into the outbound bytes (`Conn` is `io::Write`, which
                    // cannot fail); then close, as Redis does.
                    let _ = write!(c, "-ERR Protocol error: {e}\r\n");
                    c.discard(usize::MAX);
                    return Action::Close;
                }
            }
        }
    }
}

impl EventHandler for Resp {
    type State = ConnState;

    fn on_traffic(&self, c: &mut Conn<'_, ConnState>) -> Action {
        let mut session = std::mem::take(&mut c.state_mut().session);
        let action = self.serve(c, &mut session);
        c.state_mut().session = session;
        action
    }

    fn on_tick(&self, engine: &EngineHandle) -> (Duration, Action) {
        let now = u64::try_from(engine.now().as_millis()).unwrap_or(u64::MAX);
        let sweep = self.store.sweep(now, SWEEP_BUDGET);
        let next = if sweep.more { SWEEP_AGAIN } else { SWEEP_EVERY };
        (next, Action::None)
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, ConnState>, writable: bool) -> Action {
        if writable {
            c.resume_reading();
        } else {
            c.pause_reading();
        }
        Action::None
    }
}

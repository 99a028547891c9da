//! [`Resp`]: the RESP server as an [`EventHandler`]: parse what arrived, run each complete
//! command, stop when the peer falls behind.
//!
//! The parsing, the commands and the expiry sweep are [`serve`](crate::serve)'s, which other
//! I/O layers drive too; this file is the engine's side. Each `on_traffic` parses as many
//! complete commands as the unread bytes hold (a pipeline),
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
//! on, and each tick ([`EventHandler::on_tick`], on loop 0) sweeps up to
//! [`SWEEP_BUDGET`](crate::serve::SWEEP_BUDGET) expired keys from the shared store, every
//! [`SWEEP_EVERY`](crate::serve::SWEEP_EVERY) (Redis: 10 times a second), or sooner while due
//! keys remain.

use std::time::Duration;

use loopwire::{Action, Conn, EngineBuilder, EngineHandle, EventHandler};

use crate::parse::Limits;
use crate::serve::{ConnState, Stop, max_buffered, serve, sweep};
use crate::store::Store;

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
        let cap = max_buffered(&self.limits);
        builder.max_inbound(cap).max_outbound(cap).ticker(true)
    }
}

impl EventHandler for Resp {
    type State = ConnState;

    fn on_traffic(&self, c: &mut Conn<'_, ConnState>) -> Action {
        let now = u64::try_from(c.now().as_millis()).unwrap_or(u64::MAX);
        // The state is taken out for the time: the replies go to the connection itself.
        let mut state = std::mem::take(c.state_mut());
        let input = c.inbound();
        let served = serve(&self.store, &self.limits, now, &mut state, input, c, |c| {
            c.is_writable()
        });
        *c.state_mut() = state;
        c.discard(served.consumed);
        match served.stop {
            Stop::Incomplete => Action::None,
            Stop::Full => {
                // The peer is behind: leave the rest unread until it catches up.
                c.pause_reading();
                Action::None
            }
            Stop::Close => Action::Close,
        }
    }

    fn on_tick(&self, engine: &EngineHandle) -> (Duration, Action) {
        let now = u64::try_from(engine.now().as_millis()).unwrap_or(u64::MAX);
        (sweep(&self.store, now), Action::None)
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

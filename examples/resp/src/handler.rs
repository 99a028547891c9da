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

use std::io::Write;

use loopwire::{Action, Conn, EngineBuilder, EventHandler};

use super::command::{Next, execute};
use super::parse::{Limits, Parsed, Progress, parse};
use super::store::Store;

/// Per-connection state: how far the parse of a partial command got.
#[derive(Debug, Default)]
pub struct ConnState {
    progress: Progress,
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
        builder.max_inbound(cap).max_outbound(cap)
    }
}

impl EventHandler for Resp {
    type State = ConnState;

    fn on_traffic(&self, c: &mut Conn<'_, ConnState>) -> Action {
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
                    if execute(cmd, &self.store, c) == Next::Close {
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

    fn on_writability_changed(&self, c: &mut Conn<'_, ConnState>, writable: bool) -> Action {
        if writable {
            c.resume_reading();
        } else {
            c.pause_reading();
        }
        Action::None
    }
}

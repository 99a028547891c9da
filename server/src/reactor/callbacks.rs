//! Running the handler's data callbacks (`on_open`, `on_traffic`, `on_writability_changed`)
//! on a connection and applying what they asked for: their writes, a close, a pause or resume
//! of reading, a read deadline, an engine shutdown; and the work owed to connections after a
//! batch of events (see [`Deferred`]).

use std::os::fd::AsFd;
use std::time::Duration;

use loopwire_ringbuf::BufferPool;

use super::EventLoop;
use crate::config::Config;
use crate::conn::{Conn, Flow};
use crate::flow::Watermarks;
use crate::handler::{Action, CloseReason, EventHandler, Timeout};
use crate::reactor::guard::guard;
use crate::reactor::inbound;
use crate::reactor::slot::Slot;
use crate::transport::Transport;

/// Work owed to a connection once the current batch of events and tasks is done.
#[derive(Debug, Clone, Copy)]
pub(super) enum Deferred {
    /// Tell the handler the connection's writability changed.
    Announce,
    /// Show bytes left unread before a pause, now that reading resumed.
    Redeliver,
}

/// Which data callback [`EventLoop::callback`] runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Call {
    /// `on_open`, showing the tag of a dialed or enrolled connection.
    Open(Option<u64>),
    /// `on_traffic`.
    Traffic,
}

/// What a handler callback asked for, applied once it returned.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    action: Action,
    close_requested: bool,
    pause_request: Option<bool>,
    read_deadline: Option<Option<Duration>>,
    saw_writable: Option<bool>,
    /// The callback panicked: what it wrote is dropped and the connection closed.
    panicked: bool,
}

impl Outcome {
    fn of<S>(action: Action, conn: &Conn<'_, S>) -> Self {
        Self {
            action,
            close_requested: conn.close_requested(),
            pause_request: conn.pause_request(),
            read_deadline: conn.read_deadline_request(),
            saw_writable: conn.saw_writable(),
            panicked: false,
        }
    }

    /// A callback that panicked.
    pub(super) fn panicked() -> Self {
        Self {
            panicked: true,
            ..Self::default()
        }
    }
}

/// The flow-control view a callback on `slot` starts from.
fn slot_flow<S, St>(slot: &Slot<S, St>, marks: Watermarks) -> Flow {
    Flow {
        open: true,
        writable: slot.writability.is_writable(),
        high: marks.high(),
        paused: slot.paused,
    }
}

/// The parts of a loop that running a data callback takes, borrowed apart from the connection
/// table and the transport (whose receive buffer may hold the bytes shown).
pub(super) struct Parts<'a, H> {
    pub(super) handler: &'a H,
    pub(super) write_buf: &'a mut Vec<u8>,
    pub(super) pool: &'a mut BufferPool,
    pub(super) cfg: &'a Config,
    pub(super) id: usize,
    pub(super) now: u64,
}

/// Runs `on_open` (`call`) or `on_traffic` for connection `key` in `slot`, showing `fresh`
/// bytes after the connection's leftovers or, when `None`, the leftovers alone. Returns what
/// it asked for and whether keeping its unread bytes overflowed, for
/// [`EventLoop::finish`]; `None` when the connection is already closing.
#[inline(always)]
pub(super) fn run<H: EventHandler, St: AsFd>(
    parts: Parts<'_, H>,
    key: usize,
    slot: &mut Slot<H::State, St>,
    fresh: Option<&[u8]>,
    call: Call,
) -> Option<(Outcome, bool)> {
    let Parts {
        handler,
        write_buf,
        pool,
        cfg,
        id,
        now,
    } = parts;
    if slot.closing.is_some() {
        return None;
    }
    let flow = slot_flow(slot, cfg.marks);
    let meta = slot.meta(id, key);
    let Slot {
        inbound,
        outbound,
        state,
        stream,
        ..
    } = slot;
    let (queued, fd) = (outbound.len(), stream.as_fd());
    let mut outcome = Outcome::default();
    let run = |bytes: &[u8]| {
        let tag = match call {
            Call::Open(tag) => tag,
            Call::Traffic => None,
        };
        let mut conn = Conn::new(bytes, write_buf, queued, state, (meta, fd), flow)
            .with_tag(tag)
            .with_now(now);
        let action = guard("on_open/on_traffic", || match call {
            Call::Open(_) => handler.on_open(&mut conn),
            Call::Traffic => handler.on_traffic(&mut conn),
        });
        match action {
            Some(action) => {
                outcome = Outcome::of(action, &conn);
                conn.consumed()
            }
            None => {
                outcome = Outcome::panicked();
                0
            }
        }
    };
    let overflow = match fresh {
        Some(bytes) => inbound::deliver(inbound, pool, bytes, cfg.max_inbound, run).is_err(),
        None => {
            inbound::redeliver(inbound, pool, run);
            false
        }
    };
    Some((outcome, overflow))
}

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    /// Runs `on_open` (`open`) or `on_traffic` for connection `key`, showing `fresh` bytes of the
    /// read buffer after the connection's leftovers or, when `None`, the leftovers alone; then
    /// applies what it did.
    pub(super) fn callback(&mut self, key: usize, fresh: Option<usize>, call: Call) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let parts = Parts {
            handler: &*self.handler,
            write_buf: &mut self.write_buf,
            pool: &mut self.pool,
            cfg: &self.cfg,
            id: self.id,
            now: self.now,
        };
        let fresh = fresh.map(|n| &self.read_buf[..n]);
        if let Some((outcome, overflow)) = run(parts, key, slot, fresh, call) {
            self.finish(key, outcome, overflow);
        }
    }

    /// Applies what a callback on connection `key` did: sends its writes, then closes,
    /// pauses or resumes reading, stops the engine, as it asked; `overflow` closes instead.
    pub(super) fn finish(&mut self, key: usize, outcome: Outcome, overflow: bool) {
        if outcome.panicked {
            self.write_buf.clear();
            self.close_now(key, CloseReason::Panicked);
            return;
        }
        if let Some(seen) = outcome.saw_writable
            && let Some(slot) = self.conns.get_mut(key)
        {
            slot.writability.saw(seen);
            if slot.writability.is_owed() && self.write_buf.is_empty() {
                // The flush below would notice; without one, note it here.
                self.deferred
                    .push((slot.handle(self.id, key), Deferred::Announce));
            }
        }
        if !self.flush(key) {
            return;
        }
        if overflow {
            self.close_now(key, CloseReason::InboundOverflow);
        } else if outcome.close_requested || outcome.action == Action::Close {
            self.begin_close(key);
        } else {
            if let Some(paused) = outcome.pause_request {
                self.set_paused(key, paused);
            }
            if let Some(after) = outcome.read_deadline {
                self.set_read_deadline(key, after);
            }
        }
        if outcome.action == Action::Shutdown {
            self.engine.signal_stop();
        }
    }

    /// Runs the callback `f` (`what`, for a panic's report) on connection `key` with no
    /// inbound bytes shown, and returns what it asked for; `None` if the connection is gone.
    fn run_quiet(
        &mut self,
        key: usize,
        what: &'static str,
        f: impl FnOnce(&H, &mut Conn<'_, H::State>) -> Action,
    ) -> Option<Outcome> {
        let Self {
            conns,
            handler,
            write_buf,
            cfg,
            id,
            now,
            ..
        } = self;
        let slot = conns.get_mut(key)?;
        let meta = slot.meta(*id, key);
        let flow = slot_flow(slot, cfg.marks);
        let queued = slot.outbound.len();
        let mut conn = Conn::new(
            &[],
            write_buf,
            queued,
            &mut slot.state,
            (meta, slot.stream.as_fd()),
            flow,
        )
        .with_now(*now);
        Some(match guard(what, || f(handler, &mut conn)) {
            Some(action) => Outcome::of(action, &conn),
            None => Outcome::panicked(),
        })
    }

    /// Tells the handler that connection `key`'s writability changed, if it still differs
    /// from what the handler was last told.
    pub(super) fn announce(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.closing.is_some() {
            return;
        }
        let Some(writable) = slot.writability.take_owed() else {
            return;
        };
        let Some(outcome) = self.run_quiet(key, "on_writability_changed", |h, c| {
            h.on_writability_changed(c, writable)
        }) else {
            return;
        };
        self.finish(key, outcome, false);
    }

    /// Connection `key`'s read deadline or idle timeout passed: runs `on_timeout`, sends what
    /// it wrote as far as the socket takes it at once, then closes the connection or, if the
    /// handler keeps it, drops that deadline and applies what the callback asked for.
    pub(super) fn timed_out(&mut self, key: usize, timeout: Timeout) {
        let Some(slot) = self.conns.get(key) else {
            return;
        };
        if slot.closing.is_some() {
            // Already on its way out (draining a backlog): the timeout ends the wait.
            self.close_now(key, timeout.close_reason());
            return;
        }
        let Some(outcome) = self.run_quiet(key, "on_timeout", |h, c| h.on_timeout(c, timeout))
        else {
            return;
        };
        if outcome.panicked {
            self.write_buf.clear();
            self.close_now(key, CloseReason::Panicked);
            return;
        }
        if !self.flush(key) {
            return;
        }
        if outcome.close_requested || outcome.action == Action::Close {
            // What the socket does not take at once is dropped with the connection.
            self.close_sending_last(key, timeout.close_reason());
            return;
        }
        let now = self.now;
        if let Some(slot) = self.conns.get_mut(key) {
            match timeout {
                Timeout::Read => slot.deadlines.set_read(None),
                Timeout::Idle => slot.deadlines.active(now),
            }
        }
        self.finish(key, outcome, false);
        self.arm(key);
    }

    /// The engine stops: runs `on_stopping` on connection `key` if it is open (handed to the
    /// handler and not closing) and sends what it wrote after the queued bytes; the caller
    /// closes the connection. A panic drops what the callback wrote.
    pub(super) fn say_goodbye(&mut self, key: usize) {
        let Some(slot) = self.conns.get(key) else {
            return;
        };
        if slot.connecting || slot.closing.is_some() {
            return;
        }
        #[cfg(feature = "tls")]
        if self.tls.get(key).is_some_and(|t| !t.is_opened()) {
            return;
        }
        let Some(outcome) = self.run_quiet(key, "on_stopping", |h, c| {
            h.on_stopping(c);
            Action::None
        }) else {
            return;
        };
        if outcome.panicked {
            self.write_buf.clear();
            return;
        }
        self.flush(key);
    }

    /// Pauses or resumes reading connection `key` (see [`Conn::pause_reading`]).
    pub(super) fn set_paused(&mut self, key: usize, paused: bool) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.paused == paused {
            return;
        }
        slot.paused = paused;
        if !paused && !slot.inbound.is_empty() {
            self.deferred
                .push((slot.handle(self.id, key), Deferred::Redeliver));
        }
        self.update_interest(key);
    }

    /// Does the work owed to connections after the last batch (see [`Deferred`]). What that
    /// work owes in turn waits for the next turn of the loop, which then does not block.
    pub(super) fn run_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let mut deferred = std::mem::take(&mut self.deferred);
        for (h, what) in deferred.drain(..) {
            if !self.live(h) {
                continue;
            }
            match what {
                Deferred::Announce => self.announce(h.slot()),
                Deferred::Redeliver => {
                    if self
                        .conns
                        .get(h.slot())
                        .is_some_and(|s| !s.paused && !s.inbound.is_empty())
                    {
                        self.callback(h.slot(), None, Call::Traffic);
                    }
                }
            }
        }
        if self.deferred.is_empty() {
            // Keep the allocation; nothing was added meanwhile.
            self.deferred = deferred;
        }
    }
}

//! The loop's timer wheel: the ticker, each connection's one deadline timer (idle timeout,
//! read deadline, write stall; see [`crate::reactor::deadline`]) and the accept back-off.
//!
//! Times are milliseconds on the engine's clock, read once per loop turn.

use std::io;
use std::time::Duration;

use loopwire_timer::{TimerKey, TimerWheel};

use super::EventLoop;
use crate::handler::{Action, CloseReason, EventHandler, Timeout};
use crate::reactor::deadline::{Expiry, duration_millis};
use crate::reactor::guard::guard;
use crate::transport::Transport;

/// What the loop's timer wheel holds.
#[derive(Debug)]
pub(super) enum TimerEvent {
    Tick,
    /// A connection's deadline timer (see [`crate::reactor::deadline`]).
    Conn {
        slot: usize,
        generation: u64,
    },
    ResumeAccept(usize),
}

/// A loop's timer wheel, counting in milliseconds on the engine's clock (1 ms ticks).
pub(super) fn wheel() -> TimerWheel<TimerEvent> {
    TimerWheel::new_ticks()
}

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    /// Adds a timer due at `at` (ms on the engine's clock).
    pub(super) fn insert_timer(&mut self, at: u64, event: TimerEvent) -> TimerKey {
        self.timers.insert_at(at, event)
    }

    /// When the next timer is due (ms on the engine's clock), if any.
    pub(super) fn next_timer(&self) -> Option<u64> {
        self.timers.next_due_tick()
    }

    /// Fires what is due at the time read after the last poll (timers may run a little late,
    /// never early; one clock read per loop iteration).
    pub(super) fn fire_timers(&mut self) {
        let now = self.now;
        let mut expired = std::mem::take(&mut self.expired);
        expired.extend(self.timers.advance_to(now).map(|(_, ev)| ev));
        for ev in expired.drain(..) {
            match ev {
                TimerEvent::Tick => {
                    let (delay, action) = guard("on_tick", || self.handler.on_tick(&self.engine))
                        .unwrap_or((Duration::from_secs(1), Action::None));
                    self.insert_timer(now.saturating_add(duration_millis(delay)), TimerEvent::Tick);
                    if action == Action::Shutdown {
                        self.engine.signal_stop();
                    }
                }
                TimerEvent::Conn { slot, generation } => self.conn_timer(slot, generation),
                TimerEvent::ResumeAccept(i) => {
                    if let Some((l, _)) = self.listeners.get(i)
                        && let Err(e) = self.transport.listen(i, l)
                    {
                        tracing::error!(error = %e, "resuming accepts failed");
                    }
                }
            }
        }
        self.expired = expired;
    }

    /// Connection `key`'s deadline timer fired: close it if a deadline passed, or set the
    /// timer for the earliest one left (traffic and progress move deadlines later without
    /// touching the wheel).
    pub(super) fn conn_timer(&mut self, key: usize, generation: u64) {
        let now = self.now;
        let timeouts = self.timeouts;
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        slot.timer = None;
        #[cfg(feature = "tls")]
        let handshaking = self.tls.get(key).is_some_and(|t| t.is_handshaking());
        #[cfg(not(feature = "tls"))]
        let handshaking = false;
        match slot.deadlines.expired(now, timeouts) {
            // Still connecting (a dial's TCP connect or TLS handshake): whichever deadline
            // passed, the connection was not established in time.
            Some(_) if slot.connecting || (handshaking && self.dialing.contains_key(&key)) => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                self.close_now(key, CloseReason::ConnectFailed(timed_out));
            }
            Some(_) if handshaking => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out");
                self.close_now(key, CloseReason::Error(timed_out));
            }
            Some(Expiry::Read) => self.timed_out(key, Timeout::Read),
            Some(Expiry::Write) => self.close_now(key, CloseReason::WriteTimeout),
            Some(Expiry::Idle) => self.timed_out(key, Timeout::Idle),
            None => self.arm(key),
        }
    }

    /// Sets or clears connection `key`'s read deadline, `after` from now.
    pub(super) fn set_read_deadline(&mut self, key: usize, after: Option<Duration>) {
        let now = self.now;
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let had = slot.deadlines.has_read();
        slot.deadlines
            .set_read(after.map(|d| now.saturating_add(duration_millis(d))));
        if after.is_some() || had {
            self.arm(key);
        }
    }

    /// Makes connection `key`'s timer due no later than its earliest deadline: inserts it,
    /// moves it earlier, or cancels it when no deadline is left. A timer due earlier than
    /// needed is left alone; it re-arms when it fires.
    pub(super) fn arm(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let due = slot.deadlines.next(self.timeouts);
        match (due, slot.timer) {
            (None, None) => {}
            (None, Some(t)) => {
                self.timers.cancel(t);
                slot.timer = None;
            }
            (Some(at), Some(t)) => {
                if self.timers.deadline_tick(t).is_none_or(|d| d > at) {
                    self.timers.reset_at(t, at);
                }
            }
            (Some(at), None) => {
                let event = TimerEvent::Conn {
                    slot: key,
                    generation: slot.generation,
                };
                slot.timer = Some(self.timers.insert_at(at, event));
            }
        }
    }
}

//! Deadlines that answer before they close: 408 for a request that did not arrive in time,
//! 504 for a backend that did not reply in time.
//!
//! The engine's read deadline ([`Conn::set_read_deadline`](loopwire::Conn::set_read_deadline))
//! closes a connection without a callback that could still write, so the API keeps its own
//! deadlines here, on the engine's clock, and the engine's ticker
//! ([`EventHandler::on_tick`](loopwire::EventHandler::on_tick), on loop 0) drives them:
//! each tick wakes the connections whose deadline has come ([`EngineHandle::wake_many`]),
//! and their `on_traffic` answers and closes. The read deadline is still set, [`BACKSTOP`]
//! later, in case no ticker runs (an engine shared with a handler that does not forward
//! ticks): such a connection is closed without an answer.
//!
//! Exactness: a tick returns the delay to the earliest deadline, capped at the period
//! (the shortest timeout, at most 1 s). Every deadline is set at least one timeout after
//! the turn that sets it, so it is never earlier than the next tick, and the tick before
//! it lands on it: on a [`TestClock`](loopwire::TestClock) the answer comes on the turn
//! whose reading is the deadline, not a tick later. (With several loops on the system
//! clock, a loop's reading may lag loop 0's by a turn; a connection woken before its
//! deadline by that lag registers again.) One mutex, taken when a request starts
//! arriving slowly or waits for a late reply, and per tick.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use loopwire::{ConnHandle, EngineHandle};

/// How long after an answered deadline the engine's read deadline closes the connection
/// anyway.
pub(crate) const BACKSTOP: Duration = Duration::from_secs(1);

/// Milliseconds of `d`, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The connections with a pending deadline, by due time (ms on the engine's clock).
#[derive(Debug)]
pub(crate) struct Deadlines {
    due: Mutex<BTreeMap<u64, BTreeSet<ConnHandle>>>,
    period: Duration,
}

impl Deadlines {
    /// Deadlines ticked at least every `period` (at most the shortest timeout).
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            due: Mutex::new(BTreeMap::new()),
            period: period.max(Duration::from_millis(1)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, BTreeSet<ConnHandle>>> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connection `h` is due at `at` (again: inserting twice is harmless).
    pub(crate) fn insert(&self, at: u64, h: ConnHandle) {
        self.lock().entry(at).or_default().insert(h);
    }

    /// Connection `h` is no longer due at `at`.
    pub(crate) fn remove(&self, at: u64, h: ConnHandle) {
        let mut due = self.lock();
        if let Some(hs) = due.get_mut(&at) {
            hs.remove(&h);
            if hs.is_empty() {
                due.remove(&at);
            }
        }
    }

    /// Wakes the connections due by the engine's time now; returns the delay until the next
    /// tick.
    pub(crate) fn tick(&self, engine: &EngineHandle) -> Duration {
        let now = millis(engine.now());
        let (woken, next) = {
            let mut due = self.lock();
            let later = due.split_off(&now.saturating_add(1));
            let woken = std::mem::replace(&mut *due, later);
            (woken, due.keys().next().copied())
        };
        if !woken.is_empty() {
            // `Err` only while the engine stops, when every connection closes anyway.
            let _ = engine.wake_many(woken.into_values().flatten());
        }
        match next {
            Some(at) => Duration::from_millis(at - now).min(self.period),
            None => self.period,
        }
    }
}

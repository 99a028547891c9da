//! [`Reply`]: how a [`Backend`](super::Backend) answers a request, now or later, from any
//! thread.
//!
//! Each connection has one `ReplySlot`, shared with the `Reply` of its request in flight
//! (there is at most one: the handler stops reading a connection while its request is with
//! the backend). Sending renders the response on the sender's thread and leaves it in the
//! slot; then:
//!
//! - if the backend's method has not returned yet (a synchronous backend, on the loop's
//!   thread), nothing else happens: the handler finds the response in the slot as soon as
//!   the method returns and writes it in the same callback;
//! - otherwise the sender wakes the connection ([`EngineHandle::wake`]), and the loop's
//!   `on_traffic` writes the response, resumes reading and goes on with any pipelined
//!   request.
//!
//! So every response is written by the connection's own loop, in request order, and the
//! handler keeps the whole story (status counters, `Connection: close`, deadlines) in one
//! place. The slot's mutex is taken twice per request, uncontended but for the one moment
//! a late reply meets the loop.
//!
//! A response is accepted only for the request it was made for (a sequence number per
//! connection), so a reply arriving after its request timed out (504) or its connection
//! closed is dropped, and a `Reply` dropped unsent answers 500.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use loopwire::{ConnHandle, EngineHandle};

use super::backend::BackendError;
use super::http::Response;
use super::json;
use super::metrics::ApiMetrics;

/// Answers one request, exactly once: [`send`](Self::send) (or [`ok`](Self::ok) /
/// [`err`](Self::err)). `Send`: keep it and answer from another thread when the result is
/// known. Dropping it unsent answers 500 (`internal`).
pub struct Reply<T> {
    target: Option<Target>,
    render: fn(&ApiMetrics, T) -> Response,
}

/// Where a reply goes.
struct Target {
    slot: Arc<ReplySlot>,
    seq: u64,
    engine: EngineHandle,
    conn: ConnHandle,
    metrics: Arc<ApiMetrics>,
}

impl<T> Reply<T> {
    /// A reply to request `seq` of the connection `conn`, whose slot is `slot`; a success is
    /// rendered by `render`.
    pub(crate) fn new(
        (slot, seq): (Arc<ReplySlot>, u64),
        engine: EngineHandle,
        conn: ConnHandle,
        metrics: Arc<ApiMetrics>,
        render: fn(&ApiMetrics, T) -> Response,
    ) -> Self {
        Self {
            target: Some(Target {
                slot,
                seq,
                engine,
                conn,
                metrics,
            }),
            render,
        }
    }

    /// Answers the request with `result`: `Ok` as the endpoint's JSON (or text), `Err` as
    /// its status and a JSON error body.
    pub fn send(mut self, result: Result<T, BackendError>) {
        if let Some(t) = self.target.take() {
            let response = match result {
                Ok(v) => (self.render)(&t.metrics, v),
                Err(e) => json::error(e.status(), e.code(), &e.to_string()),
            };
            t.deliver(response);
        }
    }

    /// `send(Ok(value))`.
    pub fn ok(self, value: T) {
        self.send(Ok(value));
    }

    /// `send(Err(error))`.
    pub fn err(self, error: BackendError) {
        self.send(Err(error));
    }
}

impl Target {
    fn deliver(self, response: Response) {
        if self.slot.fill(self.seq, response) {
            // The handler is not in the backend call: wake the connection so its loop
            // writes the response. `Err(Closed)`: it closed meanwhile, nothing to answer.
            let _ = self.engine.wake(self.conn);
        }
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(t) = self.target.take() {
            let e = BackendError::Internal("the backend dropped the reply unsent".into());
            t.deliver(json::error(e.status(), e.code(), &e.to_string()));
        }
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Reply");
        if let Some(t) = &self.target {
            d.field("conn", &t.conn).field("seq", &t.seq);
        }
        d.finish_non_exhaustive()
    }
}

/// A connection's meeting point with its request's [`Reply`].
#[derive(Debug, Default)]
pub(crate) struct ReplySlot(Mutex<SlotState>);

#[derive(Debug, Default)]
enum SlotState {
    /// No request is with the backend.
    #[default]
    Idle,
    /// Request `seq` is with the backend; `in_call` while its method has not returned.
    Waiting { seq: u64, in_call: bool },
    /// Request `seq`'s response, not written yet.
    Ready { seq: u64, response: Response },
    /// The connection closed or gave up on the request: every reply is dropped.
    Closed,
}

impl ReplySlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // A panic while holding the lock leaves a consistent state (every transition is one
        // assignment), so a poisoned lock is used as is.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Request `seq` goes to the backend (whose method is about to be called).
    pub(crate) fn arm(&self, seq: u64) {
        *self.lock() = SlotState::Waiting { seq, in_call: true };
    }

    /// Leaves request `seq`'s response; whether the connection must be woken to write it
    /// (the backend's method has returned). A response for another request is dropped.
    fn fill(&self, seq: u64, response: Response) -> bool {
        let mut st = self.lock();
        match *st {
            SlotState::Waiting { seq: s, in_call } if s == seq => {
                *st = SlotState::Ready { seq, response };
                !in_call
            }
            _ => false,
        }
    }

    /// The backend's method for request `seq` returned: its response if it was sent
    /// meanwhile, else `None` (and a later reply will wake the connection).
    pub(crate) fn end_call(&self, seq: u64) -> Option<Response> {
        let mut st = self.lock();
        if let SlotState::Waiting { seq: s, in_call } = &mut *st
            && *s == seq
        {
            *in_call = false;
            return None;
        }
        self.take_locked(&mut st, seq)
    }

    /// Request `seq`'s response, if it arrived.
    pub(crate) fn take(&self, seq: u64) -> Option<Response> {
        let mut st = self.lock();
        self.take_locked(&mut st, seq)
    }

    /// Whether the reply to call `seq` is waiting to be taken.
    pub(crate) fn ready(&self, seq: u64) -> bool {
        matches!(*self.lock(), SlotState::Ready { seq: s, .. } if s == seq)
    }

    fn take_locked(&self, st: &mut SlotState, seq: u64) -> Option<Response> {
        match std::mem::take(st) {
            SlotState::Ready { seq: s, response } if s == seq => Some(response),
            other => {
                *st = other;
                None
            }
        }
    }

    /// No reply is wanted any more (the connection closes): later ones are dropped.
    pub(crate) fn close(&self) {
        *self.lock() = SlotState::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16) -> Response {
        json::error(status, "x", "y")
    }

    #[test]
    fn a_reply_inside_the_call_needs_no_wake() {
        let slot = ReplySlot::default();
        slot.arm(1);
        assert!(!slot.fill(1, resp(200)));
        assert_eq!(slot.end_call(1).map(|r| r.status), Some(200));
        assert!(slot.take(1).is_none());
    }

    #[test]
    fn a_late_reply_wakes_and_is_taken_once() {
        let slot = ReplySlot::default();
        slot.arm(7);
        assert!(slot.end_call(7).is_none());
        assert!(slot.take(7).is_none());
        assert!(slot.fill(7, resp(503)));
        assert_eq!(slot.take(7).map(|r| r.status), Some(503));
        assert!(slot.take(7).is_none());
    }

    #[test]
    fn stale_and_closed_replies_are_dropped() {
        let slot = ReplySlot::default();
        slot.arm(2);
        assert!(!slot.fill(1, resp(200)), "another request's reply");
        assert!(slot.end_call(2).is_none());
        slot.close();
        assert!(!slot.fill(2, resp(200)));
        assert!(slot.take(2).is_none());
    }
}

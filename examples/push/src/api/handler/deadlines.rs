//! The API's two deadlines, both on the engine's read deadline
//! ([`Conn::set_read_deadline`]) and answered in
//! [`EventHandler::on_timeout`](loopwire::EventHandler::on_timeout), which runs with the
//! connection still open, so the answer goes out before the close:
//!
//! - **408**: a request whose head or body is incomplete when a callback ends must be
//!   complete within [`ApiConfig::request_timeout`](crate::api::ApiConfig::request_timeout).
//!   Set once, in the turn the request is first seen incomplete; reads do not move a read
//!   deadline, so a trickling body still misses it. Cleared when the request is whole.
//! - **504**: a request with the backend must be replied to within
//!   [`ApiConfig::reply_timeout`](crate::api::ApiConfig::reply_timeout). Reading is paused
//!   meanwhile (one request with the backend per connection), so the connection's read
//!   deadline is free to carry this one; it passes while paused as well. A reply found
//!   waiting when it passes (it came in the same turn) is served instead.
//!
//! Exactness: the engine calls back at the deadline's clock reading (on a
//! [`TestClock`](loopwire::TestClock), the turn whose reading is the deadline), with no
//! timer of the API's own, no ticker and no lock. The idle timeout of the engine closes an
//! idle keep-alive connection without a response.

use loopwire::{Action, Conn, Timeout};

use super::super::backend::Backend;
use super::super::json;
use super::{ApiConn, ApiHandler, NO_ROUTE, Phase, apply_pause};

/// What a connection's read deadline stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeadlineKind {
    /// The request must be complete by then (408).
    Request,
    /// The backend must have replied by then (504).
    Reply,
}

impl<B: Backend> ApiHandler<B> {
    /// `on_timeout` of an API connection: its read deadline passed (408 or 504, then close)
    /// or it was idle (close).
    pub fn timeout<S>(
        &self,
        c: &mut Conn<'_, S>,
        state: fn(&mut S) -> &mut ApiConn,
        timeout: Timeout,
    ) -> Action {
        let mut s = std::mem::take(state(c.state_mut()));
        let action = self.expire(c, &mut s, timeout);
        if action != Action::None {
            s.closing = true;
            c.discard(usize::MAX);
        } else {
            apply_pause(c, &mut s);
        }
        *state(c.state_mut()) = s;
        action
    }

    fn expire<S>(&self, c: &mut Conn<'_, S>, s: &mut ApiConn, timeout: Timeout) -> Action {
        if s.closing || timeout != Timeout::Read {
            return Action::Close;
        }
        let (endpoint, response) = match (s.deadline, &s.phase) {
            (Some(DeadlineKind::Reply), Phase::Waiting { endpoint, .. }) => {
                if s.slot.as_ref().is_some_and(|slot| slot.ready(s.seq)) {
                    // The reply came in this very turn: serve it (and what follows).
                    return self.serve(c, s);
                }
                let e = json::error(504, "timeout", "the backend did not reply in time");
                (*endpoint, e)
            }
            (Some(DeadlineKind::Request), phase) => {
                let endpoint = match phase {
                    Phase::Body { route, .. } => route.name(),
                    _ => NO_ROUTE,
                };
                let e = json::error(408, "request_timeout", "the request did not arrive in time");
                (endpoint, e)
            }
            // No deadline of ours: nothing to say.
            _ => return Action::Close,
        };
        self.respond(c, endpoint, &response, false);
        Action::Close
    }

    /// The read deadline for `kind` from now; counted (`requests_partial`,
    /// `backend_pending`) until cleared or the connection closes.
    pub(super) fn set_deadline<S>(&self, c: &mut Conn<'_, S>, s: &mut ApiConn, kind: DeadlineKind) {
        self.clear_deadline(c, s);
        let after = match kind {
            DeadlineKind::Request => self.config.request_timeout,
            DeadlineKind::Reply => self.config.reply_timeout,
        };
        s.deadline = Some(kind);
        c.set_read_deadline(Some(after));
        self.count_deadline(kind, true);
    }

    /// Clears the pending deadline, if any.
    pub(super) fn clear_deadline<S>(&self, c: &mut Conn<'_, S>, s: &mut ApiConn) {
        if let Some(kind) = s.deadline.take() {
            c.set_read_deadline(None);
            self.count_deadline(kind, false);
        }
    }

    pub(super) fn count_deadline(&self, kind: DeadlineKind, up: bool) {
        match kind {
            DeadlineKind::Request => self.metrics.partial(up),
            DeadlineKind::Reply => self.metrics.pending(up),
        }
    }
}

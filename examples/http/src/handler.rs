//! [`Http`]: the server as an [`EventHandler`]: parse every complete request that
//! arrived, answer each in order, guard against slow and greedy peers.
//!
//! Pipelining: each `on_traffic` parses as many complete requests as the unread bytes hold,
//! writes their responses in order and consumes exactly their bytes; a partial request is
//! left unread, shown again with the bytes that follow, and its head's scan resumes where it
//! stopped. A request's body (`Content-Length`, up to [`Limits::max_body`]) is discarded as it
//! arrives, and its response is written once the body is complete, so responses never
//! overtake requests. `POST /echo` is the exception: its response head (with the body's
//! length) is written as soon as its request head is parsed, then the body is forwarded into
//! the response as it arrives, never held whole; the next request is parsed after it.
//!
//! Errors: a head that cannot be parsed is answered with its status (400, 411, 413, 431, 501, 505;
//! see [`ParseError`](super::parse::ParseError)) and `Connection: close`, and the connection
//! closes once that is sent: after a bad head there is no telling where the next request
//! would start.
//!
//! Slow-loris guard: when a callback ends inside a request (its head or its body incomplete),
//! a read deadline of [`Limits::request_timeout`] is set, once per request: bytes trickling
//! in do not move it, so the whole request must arrive in time or the engine closes the
//! connection (`CloseReason::ReadTimeout`). It is cleared as soon as no request is pending,
//! so an idle keep-alive connection is not closed by it.
//!
//! Backpressure: before each request the handler asks [`Conn::is_writable`]. Once the
//! responses waiting for the peer pass the engine's high watermark it stops, leaves the
//! remaining requests unread and pauses reading, so a client that pipelines without reading
//! is slowed down by TCP instead of growing the server's buffers;
//! `on_writability_changed(true)` resumes reading, and the engine shows the requests left
//! unread again.
//!
//! Nothing is allocated per request: the parser borrows the inbound bytes, responses are
//! static bytes plus the cached `Date` ([`date::current`], read once per callback).

use loopwire::{Action, Conn, EventHandler};

use super::date;
use super::parse::{Limits, Progress, parse};
use super::response::Response;
use super::route::route;

/// Per-connection state: where the current request stands.
#[derive(Debug, Default)]
pub struct ConnState {
    /// How far the scan of a partial head got.
    progress: Progress,
    /// Bytes of the current request's body still to discard (or forward).
    skip: u64,
    /// Whether those bytes are forwarded into the response (`POST /echo`) or discarded.
    forward: bool,
    /// The current request's response, written once its body has been discarded.
    pending: Option<Response>,
    /// Whether a read deadline is set (a request is incomplete).
    deadline_set: bool,
}

/// The HTTP/1.1 server (plaintext, JSON, echo). One value serves every loop.
#[derive(Debug, Default)]
pub struct Http {
    limits: Limits,
}

impl Http {
    /// A server with these request limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// The request limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl EventHandler for Http {
    type State = ConnState;

    fn on_traffic(&self, c: &mut Conn<'_, ConnState>) -> Action {
        // Read the clock at most once per callback, and only if something is answered.
        let mut now: Option<[u8; date::LEN]> = None;
        let mut answered = false;
        let incomplete = loop {
            let skip = c.state().skip;
            if skip > 0 {
                let want = usize::try_from(skip).unwrap_or(usize::MAX);
                let n = if c.state().forward {
                    let body = c.next(want);
                    c.write(body);
                    body.len()
                } else {
                    c.discard(want)
                };
                // `n <= skip`: `discard` takes at most what it was asked for.
                let left = skip.saturating_sub(n as u64);
                c.state_mut().skip = left;
                if left > 0 {
                    break true;
                }
            }
            if let Some(response) = c.state_mut().pending.take() {
                c.state_mut().forward = false;
                if !response.forwards_body() {
                    response.write(c, now.get_or_insert_with(date::current));
                }
                answered = true;
                if response.closes() {
                    c.discard(usize::MAX);
                    return Action::Close;
                }
            }
            if c.inbound_len() == 0 {
                break false;
            }
            if !c.is_writable() {
                // The peer is behind: leave the rest unread until it catches up.
                c.pause_reading();
                break false;
            }
            let buf = c.inbound();
            match parse(buf, &mut c.state_mut().progress, &self.limits) {
                Ok(Some(req)) => {
                    let (head_len, content_length) = (req.head_len, req.content_length);
                    let response = route(&req);
                    c.discard(head_len);
                    if response.forwards_body() {
                        // The head now, the body as it arrives.
                        response.write(c, now.get_or_insert_with(date::current));
                    }
                    let st = c.state_mut();
                    st.skip = content_length;
                    st.forward = response.forwards_body();
                    st.pending = Some(response);
                }
                Ok(None) => break true,
                Err(e) => {
                    tracing::debug!(peer = ?c.peer_addr(), error = %e, "bad request");
                    Response::error(e).write(c, now.get_or_insert_with(date::current));
                    c.discard(usize::MAX);
                    return Action::Close;
                }
            }
        };

        let st = c.state_mut();
        if incomplete && (!st.deadline_set || answered) {
            // A request began since the deadline was last set (or none was): it must be
            // complete within the timeout from now.
            st.deadline_set = true;
            c.set_read_deadline(Some(self.limits.request_timeout));
        } else if !incomplete && st.deadline_set {
            st.deadline_set = false;
            c.set_read_deadline(None);
        }
        Action::None
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

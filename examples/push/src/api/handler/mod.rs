//! [`ApiHandler`]: the API as an [`EventHandler`]: requests parsed in order, handed to the
//! [`Backend`] one at a time per connection, answered in order; limits and deadlines.
//!
//! One connection's life:
//!
//! 1. **Head.** Empty lines before a request are skipped. The head is looked for
//!    resumably (`http::find_head`); once complete it is parsed and judged: the token
//!    (except `/health`), the route (404, 405), the body's length (411 for a `POST`
//!    without `Content-Length`, 413 above the limit). A refusal of a request that has a
//!    body closes the connection (the body is not read); one without keeps it open.
//!    A head that cannot be parsed (400, 431, 501, 505) closes it.
//! 2. **Body.** Waited for until `Content-Length` bytes are in (`Expect: 100-continue` gets
//!    its interim `100 Continue` first), then parsed as JSON in place.
//! 3. **Backend.** The request goes to the backend with a [`Reply`](super::Reply); reading
//!    pauses ([`Conn::pause_reading`]) until the response is written, so pipelined requests
//!    wait in the socket, are answered in order, and a client never has two requests with
//!    the backend. A reply sent before the backend's method returns is written in the same
//!    callback; a later one wakes the connection ([`reply`](super::reply)).
//! 4. **Next.** Reading resumes and the next request, if already buffered, is served at
//!    once.
//!
//! Deadlines (`deadlines`, on the engine's read deadline, answered in `on_timeout`): a
//! request whose head or body is incomplete when a callback ends must be complete within
//! [`ApiConfig::request_timeout`] of the turn it was first seen incomplete in (bytes
//! trickling in do not move it), else 408 and close; a backend must reply within
//! [`ApiConfig::reply_timeout`], else 504 and close. An idle keep-alive connection has no
//! deadline but the engine's idle timeout (closed without a response, as HTTP servers do).
//!
//! Backpressure: a new request is started only while the connection
//! [`is_writable`](Conn::is_writable); otherwise reading pauses until the peer takes its
//! responses.

use std::sync::{Arc, OnceLock};

use loopwire::{Action, CloseReason, Conn, EngineBuilder, EngineHandle, EventHandler, Timeout};

use super::backend::Backend;
use super::config::{ApiConfig, ApiConfigError};
use super::http::{self, CONTINUE, Head, HeadError, Method, Response};
use super::json;
use super::metrics::{ApiMetrics, ApiStats};
use super::reply::ReplySlot;
use super::routes::{self, Replies, Route, RouteError, Served};
use super::token::{Auth, Token};

mod deadlines;

use deadlines::DeadlineKind;

/// The `endpoint` label of responses to requests without a route.
const NO_ROUTE: &str = "none";

/// Per-connection state. Opaque; [`Default`] for a new connection.
#[derive(Debug, Default)]
pub struct ApiConn {
    /// How far the current head has been scanned.
    scanned: usize,
    phase: Phase,
    /// Where this connection's replies meet it (made at its first backend call).
    slot: Option<Arc<ReplySlot>>,
    /// The number of this connection's latest backend call.
    seq: u64,
    /// The pending deadline, if any (the engine's read deadline is set to it).
    deadline: Option<DeadlineKind>,
    /// Whether reading is paused (as last asked).
    paused: bool,
    /// Whether the peer is behind on its responses.
    backpressured: bool,
    /// The connection closes after what was written.
    closing: bool,
}

#[derive(Debug, Default)]
enum Phase {
    /// Between requests, or reading a head.
    #[default]
    Idle,
    /// Reading the body of an accepted request.
    Body {
        route: Route,
        len: usize,
        keep_alive: bool,
    },
    /// The request is with the backend.
    Waiting {
        endpoint: &'static str,
        keep_alive: bool,
    },
}

/// How a judged head goes on.
enum Admit {
    /// Read a body of this length, then serve the route.
    Body(Route, usize),
    /// Answer this; `true`: and close.
    Refuse(&'static str, Response, bool),
}

/// The HTTP API of the push service over a [`Backend`].
///
/// Run it on its own engine (one loop is plenty), [`configure`](Self::configure)d:
///
/// ```no_run
/// # use std::sync::Arc;
/// # fn f<B: loopwire_push::api::Backend>(backend: B) -> Result<(), Box<dyn std::error::Error>> {
/// use loopwire_push::api::{ApiConfig, ApiHandler};
/// let api = Arc::new(ApiHandler::new(ApiConfig::new("s3cret"), backend)?);
/// let mut b = loopwire::Engine::builder();
/// b.addr("tcp://127.0.0.1:8080").loops(1);
/// api.configure(&mut b);
/// let engine = b.start(Arc::clone(&api))?;
/// # Ok(()) }
/// ```
///
/// or on an engine it shares: the sharing handler keeps an [`ApiConn`] in its connection
/// state for connections on the API's listener, forwards their callbacks to
/// [`open`](Self::open), [`traffic`](Self::traffic),
/// [`writability_changed`](Self::writability_changed), [`timeout`](Self::timeout) and
/// [`close`](Self::close) (with a function from its state to the `ApiConn`), calls
/// [`boot`](Self::boot) from `on_boot`, and sets the engine options of
/// [`configure`](Self::configure) that it can. The API uses its connections' read
/// deadlines; the sharing handler must leave them alone.
#[derive(Debug)]
pub struct ApiHandler<B: Backend> {
    config: ApiConfig,
    token: Token,
    backend: B,
    metrics: Arc<ApiMetrics>,
    engine: OnceLock<EngineHandle>,
}

impl<B: Backend> ApiHandler<B> {
    /// The API over `backend`.
    ///
    /// # Errors
    /// [`ApiConfigError`] when `config` does not [`validate`](ApiConfig::validate).
    pub fn new(config: ApiConfig, backend: B) -> Result<Self, ApiConfigError> {
        config.validate()?;
        Ok(Self {
            token: Token::new(&config.token),
            config,
            backend,
            metrics: Arc::default(),
            engine: OnceLock::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The API's counters now (what `/metrics` shows as `push_api_*`).
    pub fn stats(&self) -> ApiStats {
        self.metrics.snapshot()
    }

    /// Sets the engine options the API relies on: the idle timeout, and an inbound cap of
    /// one request at its largest plus a read.
    pub fn configure<'b>(&self, builder: &'b mut EngineBuilder) -> &'b mut EngineBuilder {
        builder
            .idle_timeout(Some(self.config.idle_timeout))
            .max_inbound(
                self.config.max_head + self.config.max_body + loopwire::DEFAULT_READ_BUFFER,
            )
    }

    /// `on_boot`: keeps the engine's handle, through which late replies wake connections.
    pub fn boot(&self, engine: &EngineHandle) {
        let _ = self.engine.set(engine.clone());
    }

    /// `on_open` of an API connection.
    pub fn open<S>(&self, c: &mut Conn<'_, S>, state: fn(&mut S) -> &mut ApiConn) -> Action {
        *state(c.state_mut()) = ApiConn::default();
        self.metrics.opened();
        Action::None
    }

    /// `on_close` of an API connection.
    pub fn close<S>(&self, c: &mut Conn<'_, S>, state: fn(&mut S) -> &mut ApiConn) {
        let s = state(c.state_mut());
        if let Some(slot) = &s.slot {
            slot.close();
        }
        if let Some(kind) = s.deadline.take() {
            self.count_deadline(kind, false);
        }
        self.metrics.closed();
    }

    /// `on_writability_changed` of an API connection.
    pub fn writability_changed<S>(
        &self,
        c: &mut Conn<'_, S>,
        state: fn(&mut S) -> &mut ApiConn,
        writable: bool,
    ) -> Action {
        let mut s = std::mem::take(state(c.state_mut()));
        s.backpressured = !writable;
        apply_pause(c, &mut s);
        *state(c.state_mut()) = s;
        Action::None
    }

    /// `on_traffic` of an API connection (also run when a late reply wakes it).
    pub fn traffic<S>(&self, c: &mut Conn<'_, S>, state: fn(&mut S) -> &mut ApiConn) -> Action {
        let mut s = std::mem::take(state(c.state_mut()));
        let action = self.serve(c, &mut s);
        if action != Action::None {
            s.closing = true;
            c.discard(usize::MAX);
        } else {
            apply_pause(c, &mut s);
        }
        *state(c.state_mut()) = s;
        action
    }

    fn serve<S>(&self, c: &mut Conn<'_, S>, s: &mut ApiConn) -> Action {
        if s.closing {
            return Action::Close;
        }
        if let Phase::Waiting {
            endpoint,
            keep_alive,
        } = s.phase
        {
            let Some(response) = s.slot.as_ref().and_then(|slot| slot.take(s.seq)) else {
                return Action::None;
            };
            self.clear_deadline(c, s);
            s.phase = Phase::Idle;
            if !self.respond(c, endpoint, &response, keep_alive) {
                return Action::Close;
            }
        }

        loop {
            match std::mem::take(&mut s.phase) {
                Phase::Idle => {
                    skip_empty_lines(c);
                    if c.inbound_len() == 0 || c.inbound() == b"\r" {
                        // Nothing, or maybe the start of one more empty line: wait.
                        break;
                    }
                    if !c.is_writable() {
                        s.backpressured = true;
                        break;
                    }
                    let buf = c.inbound();
                    let head = match http::find_head(buf, &mut s.scanned, self.config.max_head) {
                        Ok(None) => break,
                        Ok(Some(n)) => {
                            c.discard(n);
                            http::parse_head(&buf[..n], self.config.max_headers, &self.token)
                        }
                        Err(e) => Err(e),
                    };
                    let head = match head {
                        Ok(head) => head,
                        Err(e) => return self.refuse_head(c, e),
                    };
                    match self.admit(&head) {
                        Admit::Refuse(endpoint, response, close) => {
                            self.request_done(c, s);
                            let close = close || !head.keep_alive;
                            if !self.respond(c, endpoint, &response, !close) {
                                return Action::Close;
                            }
                        }
                        Admit::Body(route, len) => {
                            if head.expect_continue && len > 0 && c.inbound_len() < len {
                                c.write(CONTINUE);
                            }
                            s.phase = Phase::Body {
                                route,
                                len,
                                keep_alive: head.keep_alive,
                            };
                        }
                    }
                }
                Phase::Body {
                    route,
                    len,
                    keep_alive,
                } => {
                    if c.inbound_len() < len {
                        s.phase = Phase::Body {
                            route,
                            len,
                            keep_alive,
                        };
                        break;
                    }
                    let body = c.next(len);
                    self.request_done(c, s);
                    let endpoint = route.name();
                    match self.dispatch(c, s, route, body) {
                        Some(response) => {
                            if !self.respond(c, endpoint, &response, keep_alive) {
                                return Action::Close;
                            }
                        }
                        None => {
                            s.phase = Phase::Waiting {
                                endpoint,
                                keep_alive,
                            };
                            self.set_deadline(c, s, DeadlineKind::Reply);
                            break;
                        }
                    }
                }
                waiting @ Phase::Waiting { .. } => {
                    // Not reached: serving stops at a request sent to the backend.
                    s.phase = waiting;
                    break;
                }
            }
        }

        let receiving = match s.phase {
            Phase::Body { .. } => true,
            Phase::Idle => c.inbound_len() > 0 && !s.backpressured,
            Phase::Waiting { .. } => false,
        };
        if receiving && s.deadline.is_none() {
            self.set_deadline(c, s, DeadlineKind::Request);
        }
        Action::None
    }

    /// Judges a complete head: what to read next, or how to answer.
    fn admit(&self, head: &Head) -> Admit {
        let routed = routes::route_query(head.method, &head.path, &head.query);
        let public = routed.as_ref().is_ok_and(Route::is_public);
        let has_body = head.content_length.is_some_and(|n| n > 0);
        let refuse = |endpoint, response| Admit::Refuse(endpoint, response, has_body);
        if !public && head.auth != Auth::Ok {
            let message = match head.auth {
                Auth::Missing => "missing Authorization: Bearer <token>",
                _ => "wrong token",
            };
            return refuse(NO_ROUTE, json::error(401, "unauthorized", message));
        }
        let route = match routed {
            Ok(route) => route,
            Err(RouteError::NotFound) => {
                let message = format!("no endpoint at {}", head.path);
                return refuse(NO_ROUTE, json::error(404, "not_found", &message));
            }
            Err(RouteError::Method(allow)) => {
                let mut r = json::error(405, "method_not_allowed", &format!("use {allow}"));
                r.allow = Some(allow);
                return refuse(NO_ROUTE, r);
            }
            Err(RouteError::BadPath) => {
                let message = "the path is not percent-encoded UTF-8";
                return refuse(NO_ROUTE, json::error(400, "bad_path", message));
            }
        };
        let len = match (head.method, head.content_length) {
            (Method::Post, None) => {
                let message = "a POST needs Content-Length (chunked bodies are not supported)";
                return refuse(route.name(), json::error(411, "length_required", message));
            }
            (_, len) => len.unwrap_or(0),
        };
        match usize::try_from(len) {
            Ok(len) if len <= self.config.max_body => Admit::Body(route, len),
            _ => {
                let message = format!("bodies are at most {} bytes", self.config.max_body);
                Admit::Refuse(
                    route.name(),
                    json::error(413, "body_too_large", &message),
                    true,
                )
            }
        }
    }

    /// Serves a complete request: `Some(response)` to write now, `None` while the backend
    /// has it.
    fn dispatch<S>(
        &self,
        c: &mut Conn<'_, S>,
        s: &mut ApiConn,
        route: Route,
        body: &[u8],
    ) -> Option<Response> {
        let Some(engine) = self.engine.get() else {
            tracing::error!("ApiHandler::boot was not called: no engine to reply through");
            return Some(json::error(500, "internal", "the API is not booted"));
        };
        s.seq += 1;
        let slot = Arc::clone(s.slot.get_or_insert_with(Arc::default));
        let replies = Replies {
            slot: Arc::clone(&slot),
            seq: s.seq,
            engine: engine.clone(),
            conn: c.handle(),
            metrics: Arc::clone(&self.metrics),
        };
        match routes::serve(route, body, &self.config, &self.backend, replies) {
            Served::Now(response) => Some(response),
            Served::Called => slot.end_call(s.seq),
        }
    }

    /// Writes `response`, counts it; whether the connection stays open (`keep_alive`).
    fn respond<S>(
        &self,
        c: &mut Conn<'_, S>,
        endpoint: &'static str,
        response: &Response,
        keep_alive: bool,
    ) -> bool {
        c.write(response.head(!keep_alive).as_bytes());
        c.write(&response.body);
        self.metrics.answered(endpoint, response.status);
        keep_alive
    }

    fn refuse_head<S>(&self, c: &mut Conn<'_, S>, e: HeadError) -> Action {
        tracing::debug!(peer = ?c.peer_addr(), error = ?e, "bad request head");
        let (status, code, message) = e.answer();
        self.respond(c, NO_ROUTE, &json::error(status, code, message), false);
        Action::Close
    }

    /// The current request arrived whole: its deadline no longer applies.
    fn request_done<S>(&self, c: &mut Conn<'_, S>, s: &mut ApiConn) {
        s.scanned = 0;
        if s.deadline == Some(DeadlineKind::Request) {
            self.clear_deadline(c, s);
        }
    }
}

/// Consumes empty lines before a request line (RFC 9112 §2.2).
fn skip_empty_lines<S>(c: &mut Conn<'_, S>) {
    loop {
        match c.peek(2) {
            [b'\r', b'\n'] => c.discard(2),
            [b'\n', ..] => c.discard(1),
            _ => return,
        };
    }
}

/// Pauses reading while a request is with the backend or the peer is behind; resumes
/// otherwise.
fn apply_pause<S>(c: &mut Conn<'_, S>, s: &mut ApiConn) {
    let want = matches!(s.phase, Phase::Waiting { .. }) || s.backpressured;
    if want != s.paused {
        s.paused = want;
        if want {
            c.pause_reading();
        } else {
            c.resume_reading();
        }
    }
}

fn same(s: &mut ApiConn) -> &mut ApiConn {
    s
}

impl<B: Backend> EventHandler for ApiHandler<B> {
    type State = ApiConn;

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        self.boot(engine);
        Action::None
    }

    fn on_open(&self, c: &mut Conn<'_, ApiConn>) -> Action {
        self.open(c, same)
    }

    fn on_traffic(&self, c: &mut Conn<'_, ApiConn>) -> Action {
        self.traffic(c, same)
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, ApiConn>, writable: bool) -> Action {
        self.writability_changed(c, same, writable)
    }

    fn on_close(&self, c: &mut Conn<'_, ApiConn>, _: CloseReason) -> Action {
        self.close(c, same);
        Action::None
    }

    fn on_timeout(&self, c: &mut Conn<'_, ApiConn>, timeout: Timeout) -> Action {
        self.timeout(c, same, timeout)
    }
}

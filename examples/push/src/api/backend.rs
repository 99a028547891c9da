//! The seam between the HTTP API and the push gateway: the [`Backend`] trait, the validated
//! requests it is given, the results it replies with and its [`BackendError`].
//!
//! Every method gets a [`Reply`] and must use it exactly once, now or later, from any
//! thread: a backend that has the answer at hand (the in-process gateway) replies before
//! returning; one that asks a store (Redis, off the event loops) keeps the `Reply` and
//! sends it when the store answers. A `Reply` dropped unsent answers 500, so a request is
//! never left hanging by a lost reply; one not sent within
//! [`ApiConfig::reply_timeout`](super::ApiConfig::reply_timeout) gets 504.
//!
//! Methods are called on an event-loop thread and must not block.

use std::fmt;
use std::time::Duration;

use loopwire::Bytes;

use super::metrics::Metric;
use super::reply::Reply;

/// A user or room name: 1 to [`ApiConfig::max_name`](super::ApiConfig::max_name) bytes of
/// UTF-8 (the gateway treats names as opaque bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// `s` as a name, if it is 1 to `max` bytes long.
    pub fn new(s: String, max: usize) -> Option<Self> {
        (!s.is_empty() && s.len() <= max).then_some(Self(s))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes, as the gateway's protocol carries them.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a message is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    /// `"qos": 0`: fire and forget (the gateway's unacknowledged PUSH, id 0): sent to the
    /// sessions online now, never retransmitted or kept.
    AtMostOnce,
    /// `"qos": 1` (the default): acknowledged delivery, retransmitted until the client ACKs
    /// it and kept for a reconnect.
    AtLeastOnce,
}

/// A message to push, as validated from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The payload bytes (from `payload` as UTF-8, or decoded from `payload_base64`).
    pub payload: Bytes,
    /// The delivery guarantee.
    pub qos: Qos,
    /// How long the message may wait for a user who is offline or reconnecting; `None`: the
    /// gateway's default.
    pub ttl: Option<Duration>,
}

/// `POST /v1/push/user`: one message to every session of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUser {
    /// The user.
    pub user: Name,
    /// The message.
    pub message: Message,
}

/// `POST /v1/push/users`: one message to every session of each user (no duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUsers {
    /// The users, in request order, 1 to [`ApiConfig::max_users`](super::ApiConfig::max_users).
    pub users: Vec<Name>,
    /// The message.
    pub message: Message,
}

/// `POST /v1/push/room`: one message to every member of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRoom {
    /// The room.
    pub room: Name,
    /// The message.
    pub message: Message,
}

/// `POST /v1/push/all`: one message to every session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAll {
    /// The message.
    pub message: Message,
}

/// `POST /v1/kick`: close every session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kick {
    /// The user.
    pub user: Name,
    /// Why, for the ERROR frame the sessions get (at most
    /// [`ApiConfig::max_reason`](super::ApiConfig::max_reason) bytes; may be empty).
    pub reason: String,
}

/// `POST /v1/online`: which of these users are online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Online {
    /// The users, in request order (no duplicates).
    pub users: Vec<Name>,
}

/// `GET /v1/rooms/{room}/count`: a room's member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCount {
    /// The room.
    pub room: Name,
}

/// `POST /v1/rooms/{room}/members`: assign a room to users, or withdraw it. Assigned rooms
/// are kept by the gateway (in Redis in cluster mode) and joined by the server at each login
/// of the user, besides the rooms the client JOINs under its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignRoom {
    /// The room.
    pub room: Name,
    /// Users who get the room (their sessions online now join it).
    pub add: Vec<Name>,
    /// Users who lose it (their sessions online now leave it).
    pub remove: Vec<Name>,
}

/// What an assignment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assigned {
    /// Sessions online now that were told to join or leave.
    pub sessions: u64,
}

/// `GET /dispatch?uid=...`: where a user should connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// The user.
    pub uid: Name,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pushed {
    /// Sessions the message was handed to (queued for delivery).
    pub sessions: u64,
}

/// What a kick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kicked {
    /// Sessions closed.
    pub sessions: u64,
}

/// One user's presence, in an [`Online`] reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOnline {
    /// The user.
    pub user: Name,
    /// Open sessions of the user (0: offline).
    pub sessions: u64,
}

/// A room's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoomMembers {
    /// Sessions in the room.
    pub members: u64,
}

/// Why the backend could not do what was asked; decides the response's status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The request is well-formed but the gateway refuses it (400, code `invalid`).
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (404, code `not_found`).
    #[error("{0}")]
    NotFound(String),
    /// The gateway cannot serve now: its store is down, it is shutting down (503, code
    /// `unavailable`).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500, code `internal`), including a [`Reply`] dropped unsent.
    #[error("{0}")]
    Internal(String),
}

impl BackendError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            BackendError::Invalid(_) => 400,
            BackendError::NotFound(_) => 404,
            BackendError::Unavailable(_) => 503,
            BackendError::Internal(_) => 500,
        }
    }

    /// The `code` of the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            BackendError::Invalid(_) => "invalid",
            BackendError::NotFound(_) => "not_found",
            BackendError::Unavailable(_) => "unavailable",
            BackendError::Internal(_) => "internal",
        }
    }
}

/// The gateway as the HTTP API sees it. Each method gets a validated request and a
/// [`Reply`] to answer through, exactly once, now or later and from any thread (see the
/// [module docs](self)). Methods run on an event-loop thread: they must not block.
pub trait Backend: Send + Sync + 'static {
    /// Pushes a message to every session of one user.
    fn push_user(&self, req: PushUser, reply: Reply<Pushed>);
    /// Pushes a message to every session of each user.
    fn push_users(&self, req: PushUsers, reply: Reply<Pushed>);
    /// Pushes a message to every member of a room.
    fn push_room(&self, req: PushRoom, reply: Reply<Pushed>);
    /// Pushes a message to every session.
    fn push_all(&self, req: PushAll, reply: Reply<Pushed>);
    /// Closes every session of a user.
    fn kick(&self, req: Kick, reply: Reply<Kicked>);
    /// Tells each user's session count, one entry per requested user, in request order.
    fn online(&self, req: Online, reply: Reply<Vec<UserOnline>>);
    /// Tells a room's member count.
    fn room_count(&self, req: RoomCount, reply: Reply<RoomMembers>);
    /// The gateway's counters and gauges, for `/v1/stats` and `/metrics` (next to the API's
    /// own).
    fn stats(&self, reply: Reply<Vec<Metric>>);
    /// Assigns a room to users or withdraws it. By default: 404, not supported.
    fn assign_room(&self, req: AssignRoom, reply: Reply<Assigned>) {
        let _ = req;
        reply.err(BackendError::NotFound(
            "room assignment is not supported".into(),
        ));
    }
    /// The ordered gateway addresses a user should connect to. By default: 404 (only a
    /// cluster has a dispatcher).
    fn dispatch(&self, req: Dispatch, reply: Reply<Vec<String>>) {
        let _ = req;
        reply.err(BackendError::NotFound(
            "no dispatcher: not in cluster mode".into(),
        ));
    }
}

/// A shared backend: the code that starts the API can keep an `Arc` to it.
impl<B: Backend> Backend for std::sync::Arc<B> {
    fn push_user(&self, req: PushUser, reply: Reply<Pushed>) {
        (**self).push_user(req, reply)
    }
    fn push_users(&self, req: PushUsers, reply: Reply<Pushed>) {
        (**self).push_users(req, reply)
    }
    fn push_room(&self, req: PushRoom, reply: Reply<Pushed>) {
        (**self).push_room(req, reply)
    }
    fn push_all(&self, req: PushAll, reply: Reply<Pushed>) {
        (**self).push_all(req, reply)
    }
    fn kick(&self, req: Kick, reply: Reply<Kicked>) {
        (**self).kick(req, reply)
    }
    fn online(&self, req: Online, reply: Reply<Vec<UserOnline>>) {
        (**self).online(req, reply)
    }
    fn room_count(&self, req: RoomCount, reply: Reply<RoomMembers>) {
        (**self).room_count(req, reply)
    }
    fn stats(&self, reply: Reply<Vec<Metric>>) {
        (**self).stats(reply)
    }
    fn assign_room(&self, req: AssignRoom, reply: Reply<Assigned>) {
        (**self).assign_room(req, reply)
    }
    fn dispatch(&self, req: Dispatch, reply: Reply<Vec<String>>) {
        (**self).dispatch(req, reply)
    }
}

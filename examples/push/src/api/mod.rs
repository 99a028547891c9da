//! The push service's HTTP API for backends: push to users, rooms or everyone, kick users,
//! ask who is online and how large a room is, read counters. Served by [`ApiHandler`] on a
//! listener of its own, over a [`Backend`] (the gateway, wired in later).
//!
//! # Reference
//!
//! HTTP/1.1 with keep-alive and pipelining (HTTP/1.0 too). Bodies are JSON, framed by
//! `Content-Length` (chunked bodies are refused with 501, see below); `Content-Type` is not
//! checked. Every response is JSON except `/metrics`.
//!
//! **Authentication**: every endpoint but `/health` needs `Authorization: Bearer <token>`
//! ([`ApiConfig::token`]), compared in constant time. Missing or wrong: `401` with
//! `WWW-Authenticate: Bearer`, before the path is even looked at (so unknown paths are 401
//! too). `/health` is open so that load balancers and orchestrators can probe it without
//! the secret; it tells nothing but that the process serves.
//!
//! In the examples, `$API` is the API's address and `$TOKEN` the token:
//! ```text
//! export API=http://127.0.0.1:8080 AUTH="Authorization: Bearer $TOKEN"
//! ```
//!
//! ## Messages
//!
//! The four push endpoints take the same message fields:
//!
//! | field | type | |
//! |---|---|---|
//! | `payload` | string | the payload as UTF-8 text, **or** |
//! | `payload_base64` | string | the payload as standard base64 (with padding), for binary data: exactly one of the two |
//! | `qos` | 0 or 1 | 0: fire and forget, to the sessions online now; 1 (default): acknowledged, retransmitted, kept for a reconnect |
//! | `ttl_secs` | integer | optional: how long the message may wait for an offline user, 1 to [`ApiConfig::max_ttl`] (one day) |
//!
//! The decoded payload is at most [`ApiConfig::max_payload`] bytes (8 KiB). They answer
//! `200 {"sessions": n}`: the sessions the message was handed to.
//!
//! ## Endpoints
//!
//! **`POST /v1/push/user`** `{"user": "u1", <message>}`: to every session of one user.
//! ```text
//! curl -H "$AUTH" -d '{"user":"u1","payload":"hello"}' $API/v1/push/user
//! {"sessions":2}
//! ```
//!
//! **`POST /v1/push/users`** `{"users": ["u1", "u2"], <message>}`: to each of 1 to
//! [`ApiConfig::max_users`] (1000) distinct users.
//! ```text
//! curl -H "$AUTH" -d '{"users":["u1","u2"],"payload_base64":"AAEC","qos":0}' $API/v1/push/users
//! ```
//!
//! **`POST /v1/push/room`** `{"room": "r1", <message>}`: to every member of a room.
//! ```text
//! curl -H "$AUTH" -d '{"room":"news","payload":"breaking","ttl_secs":60}' $API/v1/push/room
//! ```
//!
//! **`POST /v1/push/all`** `{<message>}`: to every session.
//! ```text
//! curl -H "$AUTH" -d '{"payload":"maintenance at 02:00","qos":0}' $API/v1/push/all
//! ```
//!
//! **`POST /v1/kick`** `{"user": "u1", "reason": "..."}`: closes every session of a user;
//! `reason` (optional, at most [`ApiConfig::max_reason`] bytes) goes in their ERROR frame.
//! Answers `{"sessions": n}`, the sessions closed.
//! ```text
//! curl -H "$AUTH" -d '{"user":"u1","reason":"password changed"}' $API/v1/kick
//! ```
//!
//! **`POST /v1/online`** `{"users": [...]}` (1 to 1000 distinct): each user's sessions, in
//! request order.
//! ```text
//! curl -H "$AUTH" -d '{"users":["u1","u2"]}' $API/v1/online
//! {"users":[{"user":"u1","online":true,"sessions":2},{"user":"u2","online":false,"sessions":0}]}
//! ```
//!
//! **`GET /v1/rooms/{room}/count`**: a room's member count; the room is percent-encoded in
//! the path (`%2F` for a `/` in its name).
//! ```text
//! curl -H "$AUTH" $API/v1/rooms/news/count
//! {"members":1520}
//! ```
//!
//! **`POST /v1/rooms/{room}/members`** `{"add": [...], "remove": [...]}` (each 0 to
//! [`ApiConfig::max_users`] distinct users, at least one in all, none in both): assigns the
//! room to users or withdraws it. Assignments are kept by the gateway (in Redis in cluster
//! mode: `lw:ur:{user}`), so they outlive connections: at every login the server joins the
//! user's session to its assigned rooms, whatever the token grants (a JOIN of an assigned
//! room is then a no-op); the user's sessions online now join or leave at once. A room the
//! client joins under its token is not remembered (it JOINs again after a reconnect).
//! Answers `{"sessions": n}`: the sessions online now told to join or leave (in cluster
//! mode, those of the node that took the call; the others' are told through Redis).
//! ```text
//! curl -H "$AUTH" -d '{"add":["u1","u2"],"remove":["u3"]}' $API/v1/rooms/vip/members
//! {"sessions":2}
//! ```
//!
//! **`GET /dispatch?uid=u1`** (no token: clients ask it before they connect; cluster mode
//! only, else 404): the gateway addresses the user should try, best first, from the nodes
//! alive in Redis (see `loopwire_push::cluster::dispatch`: Maglev, then bounded load). 503
//! when no node is alive; 400 `bad_name` without a `uid`.
//! ```text
//! curl "$API/dispatch?uid=u1"
//! {"gateways":["10.0.0.7:7000","10.0.0.9:7000","10.0.0.8:7000"]}
//! ```
//!
//! **`GET /v1/stats`**: the API's counters and the gateway's, as JSON:
//! `{"api": {"connections": .., "connections_total": .., "requests_partial": ..,
//! "backend_pending": .., "requests": {"push_user": {"200": 3}}}, "gateway": {"name": value}}`.
//! ```text
//! curl -H "$AUTH" $API/v1/stats
//! ```
//!
//! **`GET /metrics`**: the same in Prometheus' text format (`# HELP` and `# TYPE` lines,
//! then samples); see [`metrics`] for the names. Scrape it with the token
//! (`authorization: {credentials: ...}` in the scrape config).
//! ```text
//! curl -H "$AUTH" $API/metrics
//! ```
//!
//! **`GET /health`** (no token): `{"ok":true}`.
//! ```text
//! curl $API/health
//! ```
//!
//! Names are 1 to [`ApiConfig::max_name`] (64) bytes of UTF-8.
//!
//! ## Cluster mode
//!
//! With `push --redis ... --node-id ...` (see the `cluster` module) every node's API
//! reaches every user: a push to a user goes to the nodes the session registry names, a room
//! or everyone push to every node. Then `sessions` counts, for a user push or a kick, the
//! local sessions plus those the registry lists on other nodes; for a room or everyone push,
//! only this node's (the others deliver on their own); `/v1/rooms/{room}/count` counts this
//! node's members. While Redis is unreachable a QoS0 push reaches this node's sessions
//! (answered with their count) and every call that needs Redis (QoS1, kick, online,
//! assignments) answers `503 unavailable`.
//!
//! ## Errors
//!
//! Every error response has a JSON body `{"error": {"code": "...", "message": "..."}}`:
//!
//! | status | code | when | connection |
//! |---|---|---|---|
//! | 400 | `bad_request` | malformed request line or header, bad `Content-Length` | closed |
//! | 400 | `bad_json` | body not JSON, unknown or repeated field, missing field, wrong type | kept |
//! | 400 | `bad_name`, `bad_users`, `bad_payload`, `payload_too_large`, `bad_qos`, `bad_ttl`, `bad_reason` | a value out of bounds | kept |
//! | 400 | `bad_path` | a room in the path that is not percent-encoded UTF-8 | kept |
//! | 401 | `unauthorized` | missing or wrong token | kept* |
//! | 404 | `not_found` | no such path | kept* |
//! | 405 | `method_not_allowed` | wrong method (`Allow` says the right one) | kept* |
//! | 408 | `request_timeout` | head or body not complete within [`ApiConfig::request_timeout`] | closed |
//! | 411 | `length_required` | a `POST` without `Content-Length` | kept |
//! | 413 | `body_too_large` | `Content-Length` above [`ApiConfig::max_body`] | closed |
//! | 431 | `head_too_large`, `too_many_headers` | head above [`ApiConfig::max_head`], or more than [`ApiConfig::max_headers`] lines | closed |
//! | 501 | `not_implemented` | `Transfer-Encoding` (chunked) body | closed |
//! | 505 | `version_not_supported` | not HTTP/1.0 or 1.1 | closed |
//! | 504 | `timeout` | the backend did not reply within [`ApiConfig::reply_timeout`] | closed |
//! | 400, 404, 503, 500 | `invalid`, `not_found`, `unavailable`, `internal` | the backend's [`BackendError`] | kept |
//!
//! \* closed instead when the request has a body: it is not read.
//!
//! Chunked request bodies are refused rather than supported: backends send small JSON
//! bodies whose length they know, and every HTTP client sets `Content-Length` for them.
//!
//! # Design
//!
//! - [`backend`]: the [`Backend`] trait and its request and result types.
//! - [`reply`]: [`Reply`], how a backend answers, at once or later from another thread.
//! - [`handler`]: [`ApiHandler`], the connection's life (head, body, backend, next) and its
//!   deadlines (408, 504: the engine's read deadline, answered in `on_timeout` before the
//!   close); one request with the backend per connection, reading paused meanwhile.
//! - `http`: request heads (httparse) and limits; response heads.
//! - `routes`: paths and methods to endpoints, and serving them.
//! - `json`: request bodies (serde, unknown fields refused) and their validation; response
//!   bodies.
//! - `token`: the bearer token, compared in constant time.
//! - [`metrics`]: the API's counters, `/metrics` and `/v1/stats`.
//! - [`config`] holds [`ApiConfig`].

pub mod backend;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
mod http;
mod json;
pub mod metrics;
pub mod reply;
mod routes;
mod token;

pub use backend::{
    AssignRoom, Assigned, Backend, BackendError, Dispatch, Kick, Kicked, Message, Name, Online,
    PushAll, PushRoom, PushUser, PushUsers, Pushed, Qos, RoomCount, RoomMembers, UserOnline,
};
pub use config::{ApiConfig, ApiConfigError, DEVELOPMENT_TOKEN};
pub use handler::{ApiConn, ApiHandler};
pub use metrics::{ApiMetrics, ApiStats, Metric, MetricKind};
pub use reply::Reply;

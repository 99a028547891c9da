//! A long-connection push service on loopwire: tens of thousands of mostly idle clients
//! (phones) authenticated by tokens, heartbeats, rooms, QoS0 and QoS1 (stored, acknowledged)
//! delivery, and an HTTP API through which backends push, kick and ask who is online. The
//! program is `src/bin/push.rs`, its load client `src/bin/pushload/`, a small client
//! `src/bin/push-client.rs` (on [`client`]), the scale run
//! `examples/bench/push.sh`.
//!
//! # Protocol
//!
//! **The specification is [`PROTOCOL.md`](https://github.com/loopwire/loopwire/blob/main/examples/push/PROTOCOL.md)**
//! (`examples/push/PROTOCOL.md`): frames, session states, error and kick codes, delivery
//! semantics. In short (v2): `len: u32 BE | type: u8 | body` frames; the client's first
//! frame is AUTH with a JWT ([`auth`]) and the heartbeat it wants; WELCOME answers with the
//! negotiated heartbeat, the window and the user; JOIN only rooms the token grants; PUSH
//! carries id (0 for QoS0), kind (user, room, all) and room; ACK each QoS1 id; ERROR or KICK
//! precede a close by the server. Backends publish through the HTTP API ([`api`]) only.
//! Browsers speak the same protocol over WebSocket on a second listener of the same engine
//! ([`Config::ws_addr`]): one frame, length field included, per binary message.
//!
//! # Roles (goim's comet / logic / job, as modules)
//!
//! - Connections ("comet"): [`handler`] (the [`EventHandler`](loopwire::EventHandler)),
//!   [`login`] (AUTH, session policy), [`delivery`] (mailbox, store pulls, window,
//!   retransmission, ACK, KICK), [`session`] (per-connection state), [`mailbox`],
//!   [`frame`] (frames and [`ProtocolError`]), [`transport`] (TCP or WebSocket: how a
//!   frame goes on the wire), [`ws_conn`] (the WebSocket listener, handshake and messages).
//! - Logic: [`gateway`] ([`Gateway`], the shared state and the clocks), [`users`] (user →
//!   sessions, sharded), [`registry`] (rooms), [`publish`] (QoS0 / QoS1 fan-out),
//!   [`backend`] (the gateway as the API's [`Backend`](api::Backend)), [`auth`] (tokens).
//! - Cluster: [`cluster`] (N gateways over Redis: session registry, routing between
//!   nodes, the QoS1 store, room assignments, the dispatcher), off the event loops.
//! - Storage: [`store`] (the QoS1 [`Store`](store::Store) seam and its memory
//!   implementation).
//! - [`client`]: the client library (a sans-I/O [`ClientSession`](client::ClientSession)
//!   and a blocking [`Client`](client::Client) that reconnects).
//! - [`api`]: the HTTP API for backends; [`ws`]: the WebSocket server side (sans I/O).
//! - Upstream: [`up`] (UP frames, their rate limit, presence events), [`upstream`] (the
//!   bounded queue, its worker threads, the [`Sink`](upstream::Sink) trait and the webhook).
//! - [`config`] ([`Config`], [`Policy`]), [`admission`] (allow / deny networks, connections
//!   per IP), [`stats`] ([`StatsSnapshot`]), [`tls`] (TLS from PEM files: the engine serves
//!   TLS on the TCP listener and `wss` on the WebSocket one).

pub mod admission;
pub mod api;
pub mod auth;
pub mod backend;
pub mod client;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod frame;
pub mod gateway;
pub mod handler;
pub mod login;
pub mod mailbox;
pub mod publish;
pub mod registry;
pub mod session;
pub mod stats;
pub mod store;
pub mod tls;
pub mod transport;
pub mod up;
pub mod upstream;
pub mod users;
pub mod ws;
pub mod ws_conn;

pub use config::{Config, ConfigError, Policy};
pub use frame::{ClientFrame, ProtocolError, PushKind, ServerFrame};
pub use gateway::Gateway;
pub use publish::{Outgoing, PushError};
pub use session::Session;
pub use stats::StatsSnapshot;

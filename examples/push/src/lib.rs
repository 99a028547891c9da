//! A long-connection push gateway on loopwire: tens of thousands of mostly idle clients
//! (phones), heartbeats, rooms, acknowledged delivery. The program is `src/bin/push.rs`,
//! its load and behaviour client `src/bin/pushload.rs`, the scale run `examples/bench/push.sh`.
//!
//! # Protocol
//!
//! Every frame is `len: u32 BE | type: u8 | body`, where `len` counts the type byte and the
//! body; whole frames are at most [`Config::max_frame`] bytes (16 KiB by default), length
//! included. Integers are big-endian; names (client ids, rooms) are 1 to
//! [`Config::max_name`] (64) opaque bytes.
//!
//! | dir | type | frame | body |
//! |---|---|---|---|
//! | → | 0x01 | HELLO | client id |
//! | → | 0x02 | JOIN | room |
//! | → | 0x03 | LEAVE | room |
//! | → | 0x04 | PING | 0–16 opaque bytes |
//! | → | 0x05 | ACK | message id `u64` |
//! | → | 0x06 | PUBLISH (admin) | flags `u8` (bit 0: unacknowledged), room length `u8`, room, payload |
//! | ← | 0x81 | WELCOME | heartbeat interval ms `u32`, window `u16` |
//! | ← | 0x82 | PONG | the PING's bytes |
//! | ← | 0x83 | PUSH | message id `u64` (0: no ACK wanted), room length `u8`, room, payload |
//! | ← | 0x84 | ERROR | code `u16` ([`ProtocolError::code`]), reason (UTF-8); then the server closes |
//! | ← | 0x85 | PUBLISHED | message id `u64`, members `u32` |
//!
//! - A session starts with HELLO; anything else first, a second HELLO, an unknown type, a
//!   malformed body, a bad name, a frame over the maximum or more than
//!   [`Config::max_rooms`] rooms is a violation: ERROR, then close. Other sessions are not
//!   affected.
//! - Frames are handled in order, so a PONG also confirms that every earlier JOIN and
//!   LEAVE has taken effect (no separate JOINED frame).
//! - **Heartbeats**: the client sends something at least every WELCOME's interval
//!   ([`Config::heartbeat`]); the engine's idle timeout ([`Config::idle_timeout`], 1.5 ×
//!   the interval) closes a session that did not. No timer is touched per frame.
//! - **Delivery**: a message published to a room reaches each member once, in the room's
//!   publish order, with an id unique in the gateway. The client ACKs each id; the gateway
//!   keeps at most [`Config::window`] (64) sent-and-unacknowledged messages per session and
//!   holds further ones in its mailbox (at most [`Config::mailbox`], 256; beyond that a
//!   publish is dropped for that session and counted in [`StatsSnapshot::dropped`]).
//! - **Retransmission**: when the client is next heard from (any frame, usually its PING),
//!   every unacknowledged message last sent at least [`Config::retransmit_after`] ago (one
//!   heartbeat interval) is sent again with the same id. So a live client gets a lost
//!   message again within about two heartbeats, without a timer per message; clients drop
//!   duplicate ids. On close, what the session still owed (window, then mailbox; at most a
//!   window's worth) is parked under its client id, and a HELLO with that id within
//!   [`Config::parked_ttl`] gets it again first ([`parked`]).
//! - **Time** is the engine's clock ([`Conn::now`](loopwire::Conn::now)), which the idle
//!   and write timeouts also run on; the gateway reads no clock of its own, so with
//!   [`Config::clock`] set to a [`TestClock`](loopwire::TestClock) every timing above
//!   happens at the clock readings a test sets.
//! - **Backpressure**: the gateway writes only while the connection
//!   [`is_writable`](loopwire::Conn::is_writable); a client that stops reading has its
//!   messages wait in its mailbox (bounded) and its reading paused, and is closed once it
//!   took no byte for the idle timeout (the engine's write timeout).
//!
//! # Pieces
//!
//! - [`frame`]: frames and [`ProtocolError`], both directions.
//! - [`config`] holds [`Config`] (limits, timings, the clock).
//! - [`session`]: the per-connection state and its window.
//! - [`mailbox`]: messages waiting for one session, left by any thread.
//! - [`registry`]: rooms and their members (its docs explain the locking and its
//!   contention).
//! - [`parked`]: messages kept for reconnects.
//! - [`gateway`]: [`Gateway`], the publishing API (its docs compare per-member delivery with
//!   [`EngineHandle::broadcast_filtered`](loopwire::EngineHandle::broadcast_filtered)).
//! - [`handler`]: the [`EventHandler`](loopwire::EventHandler).
//! - [`stats`] holds the counters.

pub mod api;
pub mod auth;
pub mod config;
pub mod frame;
pub mod gateway;
pub mod handler;
pub mod mailbox;
pub mod parked;
pub mod registry;
pub mod session;
pub mod stats;
pub mod store;
pub mod ws;

pub use config::Config;
pub use frame::{ClientFrame, ProtocolError, ServerFrame};
pub use gateway::{Gateway, PublishError, Published};
pub use session::Session;
pub use stats::StatsSnapshot;

//! The push protocol's client side, for applications, tests and the load client.
//!
//! - [`ClientSession`] (`session`): the protocol without I/O. Feed it received bytes, take
//!   [`Event`]s and the bytes to send, call [`poll_timers`](ClientSession::poll_timers) for
//!   the heartbeat. It ACKs QoS1 messages (automatically, or on
//!   [`ack`](ClientSession::ack)) and drops duplicate ids ([`Dedupe`], the rule is in
//!   `dedupe`'s docs), across reconnects of the same object.
//! - [`Client`] (`blocking`): a blocking client over `std::net::TcpStream`; heartbeats are
//!   kept up inside [`recv`](Client::recv); it reconnects on the [`Backoff`] schedule,
//!   re-authenticates and re-joins its rooms.
//! - [`Sources`] (`source`): source addresses to bind connections to, and a connect from
//!   one ([`connect_from`], [`connect_nonblocking`]), for load clients.
//! - [`Backoff`] (`backoff`): jittered exponential delays, deterministic for a seed.
//! - [`ClientError`] (`error`), [`Event`] (`event`).
//!
//! ```no_run
//! use loopwire_push::client::{Client, ClientOptions, Event};
//! # fn main() -> Result<(), loopwire_push::client::ClientError> {
//! let opts = ClientOptions { rooms: vec!["news".into()], ..ClientOptions::default() };
//! let mut c = Client::connect("127.0.0.1:7000", "<a JWT for u1>", opts)?;
//! loop {
//!     if let Event::Push { payload, .. } = c.recv()? {
//!         println!("{}", String::from_utf8_lossy(&payload));
//!     }
//! }
//! # }
//! ```

mod api;
mod backoff;
mod blocking;
mod dedupe;
mod error;
mod event;
mod session;
mod source;

pub use api::ApiClient;
pub use backoff::{Backoff, BackoffConfig};
pub use blocking::{Client, ClientOptions, SleepFn};
pub use dedupe::{Dedupe, Seen};
pub use error::ClientError;
pub use event::Event;
pub use session::{ClientSession, HEARTBEAT_PING, SessionOptions, SessionState};
pub use source::{MAX_RANGE, SourceError, Sources, connect_from, connect_nonblocking};

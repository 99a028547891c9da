//! A RESP2 key-value server (a small Redis) on loopwire, driven by `redis-benchmark` and
//! `redis-cli`; the program is `src/bin/resp.rs`, the benchmark `examples/bench/resp.sh`.
//!
//! - [`parse`]: requests (multibulk and inline) parsed in place, with limits.
//! - [`command`]: the commands, a module per family, and their replies.
//! - [`reply`]: RESP replies written without allocating.
//! - [`store`]: the sharded key space every loop shares: values, expiry.
//! - [`serve`]: the server without its I/O: a connection's unread bytes in, the replies out;
//!   the expiry sweep's tick. Any I/O layer can drive it.
//! - [`handler`]: the [`EventHandler`](loopwire::EventHandler) driving [`serve`] on loopwire,
//!   with backpressure and the expiry sweep on the engine's ticker.

pub mod command;
pub mod handler;
pub mod parse;
pub mod reply;
pub mod serve;
pub mod store;

pub use handler::Resp;
pub use parse::{Limits, ProtocolError};
pub use serve::ConnState;
pub use store::Store;

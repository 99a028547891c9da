//! A RESP2 key-value server (a small Redis) on loopwire, driven by `redis-benchmark`; the
//! program is `src/bin/resp.rs`, the benchmark `examples/bench/resp.sh`.
//!
//! - [`parse`]: requests (multibulk and inline) parsed in place, with limits.
//! - [`command`]: the commands and their replies.
//! - [`reply`]: RESP replies written without allocating.
//! - [`store`]: the sharded map every loop shares.
//! - [`handler`]: the [`EventHandler`](loopwire::EventHandler) tying them together, with
//!   backpressure.

pub mod command;
pub mod handler;
pub mod parse;
pub mod reply;
pub mod store;

pub use handler::{ConnState, Resp};
pub use parse::{Limits, ProtocolError};
pub use store::Store;

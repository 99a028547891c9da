//! A RESP2 key-value server (a small Redis) on loopwire, driven by `redis-benchmark` and
//! `redis-cli`; the program is `src/bin/resp.rs`, the benchmark `examples/bench/resp.sh`.
//!
//! - [`parse`]: requests (multibulk and inline) parsed in place, with limits.
//! - [`command`]: the commands, a module per family, and their replies.
//! - [`reply`]: RESP replies written without allocating.
//! - [`store`]: the sharded key space every loop shares: values, expiry.
//! - [`handler`]: the [`EventHandler`](loopwire::EventHandler) tying them together, with
//!   backpressure and the expiry sweep.

pub mod command;
pub mod handler;
pub mod parse;
pub mod reply;
pub mod store;

pub use handler::{ConnState, Resp};
pub use parse::{Limits, ProtocolError};
pub use store::Store;

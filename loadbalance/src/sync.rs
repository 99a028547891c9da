//! The one place the balancers take their cross-thread counters from.
//!
//! Under `--cfg loom` these are loom's model-checked atomics, so the loom models in
//! `loopwire-verify` (`tests/loom_least_conn.rs`) run the balancers' real code; otherwise they
//! are the standard library's, with no cost. A balancer built under `--cfg loom` must be built
//! and used inside `loom::model`.
//!
//! Only [`LeastConnections`](crate::LeastConnections) takes them from here so far: its
//! counters are the state that several threads (the acceptor, every loop) update.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

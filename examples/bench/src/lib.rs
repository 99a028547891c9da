//! The benchmark harness behind `cargo run --release -p loopwire-bench --bin bench -- all`:
//! loopwire and its peers under the same loads, in one run, rounds interleaved, reported as a
//! Markdown table and an SVG chart. The crate's other programs (`src/bin/`) are the load
//! generator `loadgen` and the peers it runs (`tokio_echo`, `mio_echo`, `epoll_echo`,
//! `tokio_http`, `hyper_http`, `mio_http`, `may_http`, `tokio_resp`, `mio_resp`); loopwire's
//! own servers are the example crates' binaries.
//!
//! - [`parse`]: what wrk, redis-benchmark and loadgen print, turned into numbers.
//! - [`procfs`]: a server's CPU time and memory, from `/proc`.
//! - [`server`]: starting a server, waiting for it to be ready, stopping it (bounded).
//! - [`tools`]: finding the release binaries and the external tools (installing wrk or
//!   redis with apt-get when missing), the wrk pipelining script.
//! - [`rounds`]: the interleaved rounds and the samples they collect.
//! - [`loads`]: the loads: echo, HTTP plaintext, RESP, idle memory.
//! - [`peer`]: the HTTP and RESP peers' protocols (loopwire-http's and loopwire-resp's, without
//!   their I/O) and the two I/O layers that serve them, tokio and hand-written mio.
//! - [`report`]: medians, ratios and the Markdown tables.
//! - [`chart`]: the SVG chart (plotters).

pub mod chart;
pub mod loads;
pub mod parse;
pub mod peer;
pub mod procfs;
pub mod report;
pub mod rounds;
pub mod server;
pub mod tools;

use std::fmt;

/// Why the harness stopped: one line for stderr.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    /// An error saying `msg`.
    pub fn msg(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// `what` failed with the I/O error `e`.
    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Self {
        Self(format!("{what}: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

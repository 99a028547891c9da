//! The loads the harness runs, each with its servers and its cases:
//!
//! | load | tool | servers | cases |
//! |---|---|---|---|
//! | [`echo`] | `loadgen` (512 B ping-pong) | loopwire on each backend, tokio, mio | pipeline 1, 16 |
//! | [`http`] | `wrk` on `GET /plaintext` | loopwire, tokio_http, may_minihttp | pipeline 1, 16 |
//! | [`resp`] | `redis-benchmark` SET, GET | loopwire 1 and 2 loops, redis-server | `-P` 1, 16 |
//! | [`idle`] | `loadgen --idle` | loopwire per backend, tokio, mio | RSS growth per connection (median of the rounds) |
//!
//! `--peer` servers join a load's servers after the built-in ones.

pub mod echo;
pub mod http;
pub mod idle;
pub mod resp;

use std::path::PathBuf;
use std::time::Duration;

use crate::server::Spec;

/// What every load needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the release binaries are.
    pub bin: PathBuf,
    /// Seconds of measured load per case (RESP: requests sized from it).
    pub secs: u64,
    /// Rounds (medians over them).
    pub rounds: usize,
    /// Server threads / loops.
    pub threads: usize,
    /// Idle connections for the memory load.
    pub idle_conns: usize,
    /// Extra servers for this load (`--peer`).
    pub peers: Vec<Spec>,
}

impl Settings {
    /// The path of release binary `name`, as a string for a command line.
    pub fn bin(&self, name: &str) -> String {
        self.bin.join(name).to_string_lossy().into_owned()
    }

    /// The measured duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.secs)
    }
}

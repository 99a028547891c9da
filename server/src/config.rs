//! [`Config`]: an engine's settings, validated and resolved once when it starts.
//!
//! The builder is what users set; this is what the engine runs with: every option checked,
//! defaults filled in (the loop count, the write watermarks), durations turned into the
//! milliseconds the loops count in. The loops, the acceptor and the launch code receive a
//! `Config`; they never see the builder.

use std::time::Duration;

use loopwire_loadbalance::LoadBalance;

use crate::backend::Backend;
use crate::flow::Watermarks;
use crate::sys::StreamOptions;
use crate::time::Clock;

/// An engine's validated settings (made by `EngineBuilder`'s `config`).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The URLs to serve (parsed when binding).
    pub(crate) addrs: Vec<String>,
    /// Number of event loops, at least one.
    pub(crate) loops: usize,
    pub(crate) load_balance: LoadBalance,
    pub(crate) reuse_port: bool,
    pub(crate) backend: Backend,
    /// Bytes in each loop's shared read buffer.
    pub(crate) read_buffer: usize,
    /// Drained connection buffers each loop keeps for reuse.
    pub(crate) pooled_buffers: usize,
    pub(crate) stream: StreamOptions,
    /// Whether loop 0 runs `on_tick`.
    pub(crate) ticker: bool,
    pub(crate) pin_cores: bool,
    pub(crate) backlog: i32,
    /// Most open connections per loop.
    pub(crate) max_connections: usize,
    pub(crate) max_inbound: usize,
    pub(crate) max_outbound: usize,
    pub(crate) marks: Watermarks,
    /// Idle timeout in ms.
    pub(crate) idle_timeout: Option<u64>,
    /// Write stall timeout in ms.
    pub(crate) write_timeout: Option<u64>,
    /// Most dials in flight per engine.
    pub(crate) max_pending_dials: usize,
    /// How long a dial (and a TLS handshake) may take, in ms.
    pub(crate) connect_timeout: u64,
    /// How long a loop polls without blocking after it last saw an event.
    pub(crate) busy_poll: Duration,
    pub(crate) clock: Clock,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

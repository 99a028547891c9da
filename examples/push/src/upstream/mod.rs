//! Upstream: what clients send up (UP frames) and their presence (online / offline), handed
//! to a [`Sink`] **off the event loops**.
//!
//! The loops only [`offer`](Upstream::offer) an [`Event`] to a bounded queue
//! ([`Config::upstream_queue`](super::Config::upstream_queue)); a full queue drops the
//! event and counts it (`upstream_dropped`), it never blocks a loop. A few worker threads
//! (std threads: the sink is blocking I/O, not loop work) take events in order and call
//! [`Sink::deliver`]; a failed delivery is counted (`upstream_failed`) and logged, not
//! retried. With one worker (the default), events reach the sink in the order they were
//! queued: a user's `online` before its `up`s before its `offline`.
//!
//! [`webhook::Webhook`] POSTs each event as JSON to an `http://` URL.

pub mod event;
pub mod webhook;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use event::{Event, EventKind};

/// Where upstream events go. Called on the upstream worker threads; may block.
pub trait Sink: Send + Sync + 'static {
    /// Delivers one event.
    ///
    /// # Errors
    /// A [`SinkError`] when it could not (counted and logged by the caller).
    fn deliver(&self, event: &Event) -> Result<(), SinkError>;
}

/// A failed delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Connecting, writing or reading failed (or timed out).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The receiver answered with something other than 2xx, or not HTTP.
    #[error("bad answer: {0}")]
    Answer(String),
}

/// Counters of the upstream path.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    /// Events queued.
    pub queued: AtomicU64,
    /// Events dropped: the queue was full.
    pub dropped: AtomicU64,
    /// Events delivered.
    pub delivered: AtomicU64,
    /// Deliveries that failed.
    pub failed: AtomicU64,
}

/// The queue and its workers. Dropping it closes the queue and joins the workers once they
/// have delivered what was queued.
#[derive(Debug)]
pub struct Upstream {
    tx: Option<SyncSender<Event>>,
    workers: Vec<JoinHandle<()>>,
    stats: Arc<UpstreamStats>,
}

impl Upstream {
    /// A queue of `capacity` events (at least 1) consumed by `workers` threads (at least 1)
    /// calling `sink`.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn start(sink: Arc<dyn Sink>, capacity: usize, workers: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(UpstreamStats::default());
        let mut handles = Vec::new();
        for i in 0..workers.max(1) {
            let (rx, sink, stats) = (Arc::clone(&rx), Arc::clone(&sink), Arc::clone(&stats));
            let h = std::thread::Builder::new()
                .name(format!("upstream-{i}"))
                .spawn(move || work(&rx, sink.as_ref(), &stats))?;
            handles.push(h);
        }
        Ok(Self {
            tx: Some(tx),
            workers: handles,
            stats,
        })
    }

    /// Queues `event` without blocking; false (and counted) if the queue is full.
    pub fn offer(&self, event: Event) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        match tx.try_send(event) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Relaxed);
                false
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> &UpstreamStats {
        &self.stats
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn work(rx: &Mutex<Receiver<Event>>, sink: &dyn Sink, stats: &UpstreamStats) {
    loop {
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(event) = next else {
            return; // the queue was closed and drained
        };
        match sink.deliver(&event) {
            Ok(()) => stats.delivered.fetch_add(1, Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "upstream delivery failed");
                stats.failed.fetch_add(1, Relaxed)
            }
        };
    }
}

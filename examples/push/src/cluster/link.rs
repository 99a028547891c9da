//! [`Link`]: the cluster's command connection to Redis, owned by one worker thread. Event
//! loops and the API never call Redis: they hand a [`Job`] to the worker through a bounded
//! queue (`try_send`, never blocking; a full queue is refused and counted) and the job
//! answers through what it captured (an API [`Reply`](crate::api::Reply), a mailbox and a
//! wake of the session's loop).
//!
//! One thread keeps jobs in submission order: a session's login (registry, then queue load)
//! and its logout reach Redis in the order the loop saw them. The worker reconnects with
//! exponential backoff (50 ms doubling to 2 s); while Redis is unreachable every job runs
//! at once with no connection and answers "unavailable" (HTTP 503) instead of waiting.
//! Each reconnection bumps [`Link::generation`], from which the refresher learns to
//! re-register every local user (the registry is rebuilt after Redis returns).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Work for the worker: given the connection (`None` while Redis is down), does its
/// commands and answers; an error it returns tells the worker whether the connection broke.
pub(crate) type Job =
    Box<dyn FnOnce(Option<&mut redis::Connection>) -> redis::RedisResult<()> + Send>;

/// The first reconnect delay; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest reconnect delay.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Connect, read and write timeout of a command: a hung Redis cannot hold the worker longer.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(1);

/// The submitting side of the worker.
#[derive(Debug)]
pub(crate) struct Link {
    tx: SyncSender<Job>,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
    refused: AtomicU64,
}

impl Link {
    /// Starts the worker on `client` with a queue of `queue` jobs; it ends when `stop` is set
    /// (or every sender is gone).
    pub(crate) fn start(
        client: redis::Client,
        queue: usize,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let up = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let (up2, gen2) = (Arc::clone(&up), Arc::clone(&generation));
        let handle = thread::Builder::new()
            .name("push-redis".into())
            .spawn(move || {
                let mut conn: Option<redis::Connection> = None;
                let mut backoff = MIN_BACKOFF;
                let mut next_try = Instant::now();
                while !stop.load(Relaxed) {
                    if conn.is_none() && Instant::now() >= next_try {
                        match connect(&client) {
                            Ok(c) => {
                                conn = Some(c);
                                backoff = MIN_BACKOFF;
                                up2.store(true, Relaxed);
                                gen2.fetch_add(1, Relaxed);
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "redis connect failed");
                                up2.store(false, Relaxed);
                                next_try = Instant::now() + backoff;
                                backoff = (backoff * 2).min(MAX_BACKOFF);
                            }
                        }
                    }
                    match rx.recv_timeout(Duration::from_millis(20)) {
                        Ok(job) => {
                            if let Err(e) = job(conn.as_mut())
                                && broken(&e)
                            {
                                tracing::warn!(error = %e, "redis connection lost");
                                conn = None;
                                up2.store(false, Relaxed);
                                next_try = Instant::now();
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })?;
        Ok((
            Self {
                tx,
                up,
                generation,
                refused: AtomicU64::new(0),
            },
            handle,
        ))
    }

    /// Queues `job`. If the queue is full or the worker is gone, runs it at once on the
    /// caller's thread without a connection (as while Redis is down: it answers
    /// "unavailable", never waits) and returns false (counted).
    pub(crate) fn submit(&self, job: Job) -> bool {
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.refused.fetch_add(1, Relaxed);
                let _ = job(None);
                false
            }
        }
    }

    /// Whether the worker holds a connection now.
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// How many times the worker (re)connected.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Jobs refused because the queue was full.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }
}

/// A connection with the command timeouts set.
pub(crate) fn connect(client: &redis::Client) -> redis::RedisResult<redis::Connection> {
    let c = client.get_connection_with_timeout(IO_TIMEOUT)?;
    c.set_read_timeout(Some(IO_TIMEOUT))?;
    c.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(c)
}

/// Whether `e` means the connection is no longer usable (rather than one command failing).
pub(crate) fn broken(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

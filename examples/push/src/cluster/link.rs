//! [`Link`]: the cluster's command connection to Redis, owned by one worker thread. Event
//! loops and the API never call Redis: they hand a job to the worker through a bounded
//! queue (`try_send`, never blocking; a full queue is refused and counted) and the job
//! answers through what it captured (an API [`Reply`](crate::api::Reply), a mailbox and a
//! wake of the session's loop).
//!
//! Two kinds of job. A [`ConnJob`] gets the connection to itself (several round trips, or
//! commands chosen from earlier replies: a login under `single`, a push that reads the
//! registry, the refresh). A [`BatchJob`] names its commands up front and takes their replies
//! afterwards (an ACK, a logout, a `multi` login, a broadcast's `PUBLISH`): the worker drains
//! what is queued, up to [`MAX_BATCH`] jobs, and sends the commands of consecutive batch jobs
//! as one pipeline, one round trip for all of them.
//!
//! One thread keeps jobs in submission order: commands reach Redis in the order the jobs were
//! queued (a batch's pipeline is sent in job order and finished, every job's replies handed
//! out in that order, before a connection job after it runs), so a session's login (registry,
//! then queue load) and its logout, or two ACKs, arrive as the loop issued them. A job's
//! commands are built when the worker takes it, like a connection job's.
//!
//! Errors: each command of a pipeline has its own reply, so a command Redis refuses fails
//! only its job ([`reply`] gives it as an error). A broken connection fails every job of the
//! pipeline with the same error (each answers "unavailable"). The worker reconnects with
//! exponential backoff (50 ms doubling to 2 s); while Redis is unreachable every job runs at
//! once with no connection and answers "unavailable" (HTTP 503) instead of waiting. Each
//! reconnection bumps [`Link::generation`], from which the refresher learns to re-register
//! every local user (the registry is rebuilt after Redis returns).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use redis::{ConnectionLike, FromRedisValue, Value};

/// Work that gets the connection to itself (`None` while Redis is down): does its commands and
/// answers; an error it returns tells the worker whether the connection broke.
pub(crate) type ConnJob =
    Box<dyn FnOnce(Option<&mut redis::Connection>) -> redis::RedisResult<()> + Send>;

/// Work that shares a pipeline: called on the worker with the batch's pipeline (`None` while
/// Redis is down: it answers at once and returns `None`, adding nothing), adds its commands
/// (no `ignore`, no `atomic`: every command's reply comes back) and returns what takes their
/// replies.
pub(crate) type BatchJob = Box<dyn FnOnce(Option<&mut redis::Pipeline>) -> Option<Done> + Send>;

/// Takes a batch job's replies, one per command it added, in order (a refused command is a
/// [`Value::ServerError`]: see [`reply`]), or the error that broke the pipeline's connection.
pub(crate) type Done = Box<dyn FnOnce(Result<Vec<Value>, &redis::RedisError>) + Send>;

/// A queued job.
pub(crate) enum Job {
    /// The connection to itself.
    Conn(ConnJob),
    /// Commands in a shared pipeline.
    Batch(BatchJob),
}

/// Most jobs the worker drains into one round of work (their batch jobs' commands share
/// pipelines): bounds a round's latency and memory.
pub(crate) const MAX_BATCH: usize = 256;
/// The first reconnect delay; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest reconnect delay.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Connect, read and write timeout of a command: a hung Redis cannot hold the worker longer.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(1);

/// One command's reply as `T`: a refused command (an error reply) is its error.
pub(crate) fn reply<T: FromRedisValue>(v: Value) -> redis::RedisResult<T> {
    Ok(redis::from_redis_value(v.extract_error()?)?)
}

/// A batch job's replies, or the first error among them (the broken connection's, or the
/// first command Redis refused).
pub(crate) fn all_ok(r: Result<Vec<Value>, &redis::RedisError>) -> redis::RedisResult<Vec<Value>> {
    let values = r.map_err(Clone::clone)?;
    if let Some(e) = values.iter().find_map(|v| match v {
        Value::ServerError(e) => Some(e.clone()),
        _ => None,
    }) {
        return Err(e.into());
    }
    Ok(values)
}

/// The submitting side of the worker.
#[derive(Debug)]
pub(crate) struct Link {
    tx: SyncSender<Job>,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
    refused: AtomicU64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Conn(_) => "Job::Conn",
            Job::Batch(_) => "Job::Batch",
        })
    }
}

impl Link {
    /// Starts the worker on `client` with a queue of `queue` jobs, draining at most `batch`
    /// jobs per round (1: every job alone, one round trip each, as before pipelining; the
    /// cluster uses [`MAX_BATCH`]); it ends when `stop` is set (or every sender is gone).
    pub(crate) fn start(
        client: redis::Client,
        queue: usize,
        batch: usize,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let up = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            client,
            conn: None,
            up: Arc::clone(&up),
            generation: Arc::clone(&generation),
            batch: batch.max(1),
        };
        let handle = thread::Builder::new()
            .name("push-redis".into())
            .spawn(move || worker.run(&rx, &stop))?;
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

    /// Queues a connection job. If the queue is full or the worker is gone, runs it at once
    /// on the caller's thread without a connection (as while Redis is down: it answers
    /// "unavailable", never waits) and returns false (counted).
    pub(crate) fn submit(&self, job: ConnJob) -> bool {
        self.queue(Job::Conn(job))
    }

    /// Queues a batch job; refused as [`submit`](Self::submit) refuses.
    pub(crate) fn submit_batch(&self, job: BatchJob) -> bool {
        self.queue(Job::Batch(job))
    }

    fn queue(&self, job: Job) -> bool {
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.refused.fetch_add(1, Relaxed);
                match job {
                    Job::Conn(job) => {
                        let _ = job(None);
                    }
                    Job::Batch(job) => {
                        let _ = job(None);
                    }
                }
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

/// The worker thread's side: the connection and what it tells the submitters.
struct Worker {
    client: redis::Client,
    conn: Option<redis::Connection>,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
    batch: usize,
}

impl Worker {
    fn run(mut self, rx: &Receiver<Job>, stop: &AtomicBool) {
        let mut backoff = MIN_BACKOFF;
        let mut next_try = Instant::now();
        let mut jobs = Vec::with_capacity(self.batch);
        while !stop.load(Relaxed) {
            if self.conn.is_none() && Instant::now() >= next_try {
                match connect(&self.client) {
                    Ok(c) => {
                        self.conn = Some(c);
                        backoff = MIN_BACKOFF;
                        self.up.store(true, Relaxed);
                        self.generation.fetch_add(1, Relaxed);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "redis connect failed");
                        self.up.store(false, Relaxed);
                        next_try = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while jobs.len() < self.batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if self.round(&mut jobs) {
                next_try = Instant::now();
            }
        }
    }

    /// Runs `jobs` (drained) in order: consecutive batch jobs as one pipeline, connection jobs
    /// alone. Returns whether the connection broke.
    fn round(&mut self, jobs: &mut Vec<Job>) -> bool {
        let mut pipe = redis::pipe();
        let mut waiting: Vec<(Done, usize)> = Vec::new();
        let mut broke = false;
        for job in jobs.drain(..) {
            match job {
                Job::Batch(job) => {
                    if self.conn.is_none() {
                        let _ = job(None);
                        continue;
                    }
                    let before = pipe.len();
                    if let Some(done) = job(Some(&mut pipe)) {
                        waiting.push((done, pipe.len() - before));
                    }
                }
                Job::Conn(job) => {
                    broke |= self.flush(&mut pipe, &mut waiting);
                    if let Err(e) = job(self.conn.as_mut())
                        && broken(&e)
                    {
                        broke |= self.lost(&e);
                    }
                }
            }
        }
        broke |= self.flush(&mut pipe, &mut waiting);
        broke
    }

    /// Sends the pipeline (one round trip) and hands each waiting job its replies; returns
    /// whether the connection broke.
    fn flush(&mut self, pipe: &mut redis::Pipeline, waiting: &mut Vec<(Done, usize)>) -> bool {
        if waiting.is_empty() {
            pipe.clear();
            return false;
        }
        let sent = pipe.len();
        let res = match self.conn.as_mut() {
            Some(conn) if sent > 0 => {
                conn.req_packed_commands(&pipe.get_packed_pipeline(), 0, sent)
            }
            Some(_) => Ok(Vec::new()),
            None => Err(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::NotConnected,
            ))),
        };
        pipe.clear();
        match res {
            Ok(values) if values.len() == sent => {
                let mut values = values.into_iter();
                for (done, n) in waiting.drain(..) {
                    done(Ok(values.by_ref().take(n).collect()));
                }
                false
            }
            Ok(values) => {
                let e = redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} replies to a pipeline of {sent}", values.len()),
                ));
                for (done, _) in waiting.drain(..) {
                    done(Err(&e));
                }
                self.lost(&e)
            }
            Err(e) => {
                for (done, _) in waiting.drain(..) {
                    done(Err(&e));
                }
                broken(&e) && self.lost(&e)
            }
        }
    }

    /// Drops the connection after `e`; returns true.
    fn lost(&mut self, e: &redis::RedisError) -> bool {
        if self.conn.take().is_some() {
            tracing::warn!(error = %e, "redis connection lost");
        }
        self.up.store(false, Relaxed);
        true
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

#[cfg(test)]
mod tests;

//! [`WorkerPool`]: a bounded pool of threads for blocking work, and its job queue
//! ([`queue`]), kept apart so the loom models can check it.

pub(crate) mod queue;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use queue::{JobQueue, Refused};

/// A job as the queue holds it.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why [`WorkerPool::try_submit`] refused a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The queue holds its capacity of jobs: the workers are behind.
    Full,
    /// The pool is shutting down.
    ShuttingDown,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::Full => "worker pool queue is full",
            RejectReason::ShuttingDown => "worker pool is shutting down",
        })
    }
}

/// A job [`WorkerPool::try_submit`] did not queue, given back with the reason.
#[derive(thiserror::Error)]
#[error("{reason}")]
pub struct Rejected<F> {
    reason: RejectReason,
    job: F,
}

impl<F> Rejected<F> {
    /// Why the job was refused.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// The job, to run elsewhere or drop.
    pub fn into_job(self) -> F {
        self.job
    }
}

impl<F> fmt::Debug for Rejected<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// What the workers count.
#[derive(Debug, Default)]
struct Counters {
    completed: AtomicU64,
    panicked: AtomicU64,
}

/// A bounded pool of threads for blocking work (a database call, a file read,
/// heavy CPU) that must not run on an event loop, where it would stall every connection of
/// that loop.
///
/// A handler hands the job over with [`WorkerPool::try_submit`], which never blocks: when the
/// queue is full the job comes back and the handler decides (answer "busy", pause reading,
/// close). The job runs on a worker and sends its result with
/// [`EngineHandle::async_write`](crate::EngineHandle::async_write), which is safe even if the
/// connection closed meanwhile (the write is refused, never misdelivered).
///
/// ```no_run
/// use std::sync::{Arc, OnceLock};
/// use loopwire::{Action, Conn, Engine, EngineHandle, EventHandler, WorkerPool};
///
/// struct Lookup {
///     pool: WorkerPool,
///     engine: OnceLock<EngineHandle>,
/// }
///
/// impl EventHandler for Lookup {
///     type State = ();
///
///     fn on_boot(&self, engine: &EngineHandle) -> Action {
///         let _ = self.engine.set(engine.clone());
///         Action::None
///     }
///
///     fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
///         let key = c.next(usize::MAX).to_vec();
///         let (Some(engine), conn) = (self.engine.get().cloned(), c.handle()) else {
///             return Action::Close;
///         };
///         let job = move || {
///             let value = slow_database_get(&key); // blocks: fine here
///             let _ = engine.async_write(conn, value); // Err if the connection closed
///         };
///         if self.pool.try_submit(job).is_err() {
///             c.write(b"-BUSY\r\n"); // full or shutting down: answer at once
///         }
///         Action::None
///     }
/// }
///
/// # fn slow_database_get(_: &[u8]) -> Vec<u8> { Vec::new() }
/// let pool = WorkerPool::new(4, 1024)?;
/// Engine::builder()
///     .addr("tcp://127.0.0.1:7000")
///     .run(Lookup { pool, engine: OnceLock::new() })?;
/// # Ok::<(), loopwire::Error>(())
/// ```
///
/// A job that panics is caught and counted ([`WorkerPool::panicked`]); the worker goes on.
/// Dropping the pool (or [`shutdown`](WorkerPool::shutdown)) runs the jobs already queued
/// and joins the workers; [`shutdown_now`](WorkerPool::shutdown_now) drops queued jobs instead.
pub struct WorkerPool {
    queue: Arc<JobQueue<Job>>,
    counters: Arc<Counters>,
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
    size: usize,
}

impl WorkerPool {
    /// Starts `threads` workers sharing a queue of at most `capacity` waiting jobs.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for zero threads or zero capacity; [`Error::Io`] when a
    /// thread cannot be spawned (the workers already started are stopped first).
    pub fn new(threads: usize, capacity: usize) -> Result<Self> {
        if threads == 0 || capacity == 0 {
            return Err(Error::InvalidOption {
                option: "worker pool",
                reason: "needs at least one thread and room for one job",
            });
        }
        let pool = Self {
            queue: Arc::new(JobQueue::new(capacity)),
            counters: Arc::new(Counters::default()),
            threads: std::sync::Mutex::new(Vec::with_capacity(threads)),
            size: threads,
        };
        for i in 0..threads {
            let (queue, counters) = (Arc::clone(&pool.queue), Arc::clone(&pool.counters));
            let spawned = std::thread::Builder::new()
                .name(format!("loopwire-worker-{i}"))
                .spawn(move || work(&queue, &counters));
            match spawned {
                Ok(handle) => pool.handles().push(handle),
                // Dropping `pool` closes the queue and joins the workers already running.
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Ok(pool)
    }

    /// Queues `job` for a worker; never blocks.
    ///
    /// # Errors
    /// [`Rejected`], holding the job, when the queue is full
    /// ([`RejectReason::Full`]) or the pool is shutting down.
    pub fn try_submit<F>(&self, job: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.queue
            .push_with(job, |job| Box::new(job) as Job)
            .map_err(|refused| match refused {
                Refused::Full(job) => Rejected {
                    reason: RejectReason::Full,
                    job,
                },
                Refused::Closed(job) => Rejected {
                    reason: RejectReason::ShuttingDown,
                    job,
                },
            })
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The most jobs that can wait.
    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.size
    }

    /// Jobs that ran to completion so far.
    pub fn completed(&self) -> u64 {
        self.counters.completed.load(Ordering::Relaxed)
    }

    /// Jobs that panicked so far (each was caught; its worker went on).
    pub fn panicked(&self) -> u64 {
        self.counters.panicked.load(Ordering::Relaxed)
    }

    /// Refuses new jobs, lets the workers finish every queued one, and waits for them.
    /// Idempotent. Called from a job, it does not wait for its own worker.
    pub fn shutdown(&self) {
        self.queue.close();
        self.join();
    }

    /// Refuses new jobs, drops the queued ones (they do not run), waits for the jobs already
    /// running, and returns how many were dropped.
    pub fn shutdown_now(&self) -> usize {
        let dropped = self.queue.close_now().len();
        self.join();
        dropped
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        match self.threads.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn join(&self) {
        let me = std::thread::current().id();
        let handles = std::mem::take(&mut *self.handles());
        for handle in handles {
            if handle.thread().id() != me {
                // A worker never panics (jobs are caught), so there is nothing to report.
                let _ = handle.join();
            }
        }
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("threads", &self.size)
            .field("queued", &self.queued())
            .field("capacity", &self.capacity())
            .field("completed", &self.completed())
            .field("panicked", &self.panicked())
            .finish()
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker's life: run jobs until the queue is closed and empty.
fn work(queue: &JobQueue<Job>, counters: &Counters) {
    while let Some(job) = queue.pop() {
        match catch_unwind(AssertUnwindSafe(job)) {
            Ok(()) => counters.completed.fetch_add(1, Ordering::Relaxed),
            Err(_) => {
                tracing::error!("a worker-pool job panicked; the worker goes on");
                counters.panicked.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// Submits a job that blocks its worker until the returned sender sends (or `WAIT`
    /// passes), and waits until a worker has started it.
    fn occupy_a_worker(pool: &WorkerPool) -> mpsc::Sender<()> {
        let (release, gate) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        pool.try_submit(move || {
            started_tx.send(()).unwrap();
            gate.recv_timeout(WAIT).unwrap();
        })
        .unwrap();
        started.recv_timeout(WAIT).unwrap();
        release
    }

    #[test]
    fn zero_threads_or_capacity_is_an_error() {
        assert!(matches!(
            WorkerPool::new(0, 1),
            Err(Error::InvalidOption { .. })
        ));
        assert!(matches!(
            WorkerPool::new(1, 0),
            Err(Error::InvalidOption { .. })
        ));
    }

    #[test]
    fn a_full_queue_gives_the_job_back_and_it_still_runs_later() {
        let pool = WorkerPool::new(1, 1).unwrap();
        // Occupy the only worker, then fill the one queue slot.
        let release = occupy_a_worker(&pool);
        let (done_tx, done) = mpsc::channel();
        let tx = done_tx.clone();
        pool.try_submit(move || tx.send(1).unwrap()).unwrap();
        let tx = done_tx.clone();
        let refused = pool.try_submit(move || tx.send(2).unwrap()).unwrap_err();
        assert_eq!(refused.reason(), RejectReason::Full);
        assert_eq!(refused.to_string(), "worker pool queue is full");
        assert_eq!(pool.queued(), 1);
        release.send(()).unwrap();
        assert_eq!(done.recv_timeout(WAIT).unwrap(), 1);
        // The refused job is the caller's to run.
        (refused.into_job())();
        assert_eq!(done.recv_timeout(WAIT).unwrap(), 2);
        pool.shutdown();
        assert_eq!(pool.completed(), 2);
    }

    #[test]
    fn a_panicking_job_is_counted_and_the_worker_goes_on() {
        let pool = WorkerPool::new(1, 8).unwrap();
        pool.try_submit(|| panic!("job failed")).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.try_submit(move || tx.send("after").unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), "after");
        pool.shutdown();
        assert_eq!((pool.completed(), pool.panicked()), (1, 1));
    }

    #[test]
    fn shutdown_runs_queued_jobs_shutdown_now_drops_them() {
        let ran = Arc::new(AtomicU64::new(0));
        let pool = WorkerPool::new(2, 64).unwrap();
        for _ in 0..50 {
            let ran = Arc::clone(&ran);
            pool.try_submit(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        pool.shutdown();
        assert_eq!(ran.load(Ordering::Relaxed), 50);
        let refused = pool.try_submit(|| {}).unwrap_err();
        assert_eq!(refused.reason(), RejectReason::ShuttingDown);
        pool.shutdown(); // idempotent

        let pool = Arc::new(WorkerPool::new(1, 8).unwrap());
        let release = occupy_a_worker(&pool);
        for _ in 0..3 {
            let ran = Arc::clone(&ran);
            pool.try_submit(move || {
                ran.fetch_add(100, Ordering::Relaxed);
            })
            .unwrap();
        }
        // The only worker is blocked, so the queue empties only when `shutdown_now` takes the
        // jobs back; then the blocked job may finish and `shutdown_now` can join.
        let releaser = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                while pool.queued() > 0 {
                    std::thread::yield_now();
                }
                release.send(()).unwrap();
            })
        };
        assert_eq!(pool.shutdown_now(), 3);
        releaser.join().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 50, "dropped jobs never ran");
    }

    #[test]
    fn shutdown_from_a_job_does_not_wait_for_itself() {
        let pool = Arc::new(WorkerPool::new(2, 8).unwrap());
        let (tx, rx) = mpsc::channel();
        let inner = Arc::clone(&pool);
        pool.try_submit(move || {
            inner.shutdown();
            tx.send(()).unwrap();
        })
        .unwrap();
        rx.recv_timeout(WAIT)
            .expect("the job finished its own shutdown");
        assert!(pool.try_submit(|| {}).is_err());
    }
}

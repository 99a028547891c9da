//! The worker pool's job queue: bounded, many producers (event loops, any thread), many
//! consumers (the workers), closable.
//!
//! Producers never block: a full queue refuses the job and hands it back, because the usual
//! producer is an event loop, which must not wait. Workers block on a condition variable
//! until a job arrives or the queue is closed and empty. Closing wakes every worker; jobs
//! queued before the close still run (`close`), or are taken back (`close_now`).
//!
//! Built on the engine's sync shim, so the loom model `loom_workers` in `loopwire-verify`
//! checks this code: every accepted job is run exactly once, refused jobs come back, and no
//! worker sleeps through a job or through the close.

// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use std::collections::VecDeque;

use crate::shared::sync::{Condvar, Mutex, lock};

/// Why a job was not queued; the job comes back in either case.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused<J> {
    /// The queue holds its capacity of jobs.
    Full(J),
    /// The pool is shutting down.
    Closed(J),
}

#[cfg(any(test, loom))]
impl<J> Refused<J> {
    /// The job that was not queued.
    pub fn into_job(self) -> J {
        match self {
            Refused::Full(j) | Refused::Closed(j) => j,
        }
    }
}

#[derive(Debug)]
struct State<J> {
    jobs: VecDeque<J>,
    closed: bool,
}

/// A bounded, closable multi-producer multi-consumer queue.
#[derive(Debug)]
pub struct JobQueue<J> {
    state: Mutex<State<J>>,
    ready: Condvar,
    capacity: usize,
}

impl<J> JobQueue<J> {
    /// An empty, open queue for at most `capacity` jobs (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// Queues `job` and wakes one worker (the pool itself uses [`push_with`](Self::push_with)).
    ///
    /// # Errors
    /// [`Refused::Full`] when the queue is at capacity, [`Refused::Closed`] once closed; the
    /// job comes back.
    #[cfg(any(test, loom))]
    pub fn push(&self, job: J) -> Result<(), Refused<J>> {
        self.push_with(job, |job| job)
    }

    /// Like [`push`](Self::push), but makes the queued job from `item` only once there is
    /// room, so a refused `item` comes back as it was given (the pool boxes its closures
    /// this way and can return the caller's closure itself).
    ///
    /// # Errors
    /// As [`push`](Self::push), holding `item`.
    pub fn push_with<T>(&self, item: T, make: impl FnOnce(T) -> J) -> Result<(), Refused<T>> {
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(Refused::Closed(item));
            }
            if state.jobs.len() >= self.capacity {
                return Err(Refused::Full(item));
            }
            state.jobs.push_back(make(item));
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, waiting for one; `None` once the queue is closed and empty.
    pub fn pop(&self) -> Option<J> {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = match self.ready.wait(state) {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Refuses further jobs; workers finish the queued ones, then `pop` returns `None`.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_all();
    }

    /// Refuses further jobs and takes back the queued ones, which will not run.
    pub fn close_now(&self) -> Vec<J> {
        let jobs = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.jobs.drain(..).collect()
        };
        self.ready.notify_all();
        jobs
    }

    /// Jobs waiting for a worker.
    pub fn len(&self) -> usize {
        lock(&self.state).jobs.len()
    }

    /// Whether no job is waiting.
    #[cfg(any(test, loom))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most jobs it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bounded_fifo_gives_refused_jobs_back() {
        let q = JobQueue::new(2);
        assert_eq!(q.capacity(), 2);
        assert!(q.is_empty());
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(q.push(3), Err(Refused::Full(3)));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(1));
        q.push(4).unwrap();
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(4));
    }

    #[test]
    fn close_lets_queued_jobs_run_then_ends() {
        let q = JobQueue::new(4);
        q.push('a').unwrap();
        q.close();
        assert_eq!(q.push('b'), Err(Refused::Closed('b')));
        assert_eq!(Refused::Closed('b').into_job(), 'b');
        assert_eq!(q.pop(), Some('a'));
        assert_eq!(q.pop(), None);
        assert_eq!(q.pop(), None, "stays ended");
    }

    #[test]
    fn close_now_takes_queued_jobs_back() {
        let q = JobQueue::new(4);
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(q.close_now(), vec![1, 2]);
        assert_eq!(q.pop(), None);
        assert!(q.close_now().is_empty());
    }

    #[test]
    fn zero_capacity_means_one() {
        let q = JobQueue::new(0);
        assert_eq!(q.capacity(), 1);
        q.push(()).unwrap();
        assert_eq!(q.push(()), Err(Refused::Full(())));
    }

    #[test]
    fn a_waiting_worker_wakes_for_a_job_and_for_the_close() {
        let q = std::sync::Arc::new(JobQueue::new(1));
        let worker = {
            let q = std::sync::Arc::clone(&q);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(j) = q.pop() {
                    got.push(j);
                }
                got
            })
        };
        for i in 0..100 {
            let mut job = i;
            loop {
                match q.push(job) {
                    Ok(()) => break,
                    Err(refused) => {
                        job = refused.into_job();
                        std::thread::yield_now();
                    }
                }
            }
        }
        q.close();
        assert_eq!(worker.join().unwrap(), (0..100).collect::<Vec<_>>());
    }
}

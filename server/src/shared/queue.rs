//! The event loop's task queue: many producers, one consumer (the loop), and a coalescing wake.
//!
//! Producers (the acceptor, other loops, user threads holding an
//! [`EngineHandle`](crate::EngineHandle)) push under a mutex held for one `Vec::push`; the loop
//! takes the whole batch by swapping vectors, so it holds the lock for O(1) and neither side
//! allocates once both vectors have grown to the load.
//!
//! Wake-ups coalesce through a `notified` flag kept with the tasks, under the same lock: only
//! the push that finds it clear pays for a wake (an `eventfd` write on Linux), and the drain
//! clears it as it takes the batch, so a task pushed after a drain always wakes the loop. (An
//! earlier version kept the flag in an atomic outside the lock, flipped after the push and
//! cleared before the drain; the loom model `loom_queue` in `loopwire-verify` reports a lost
//! wake-up for it, with two producers of two tasks each: the loop asleep, a task queued,
//! nobody left to wake it.)

// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::shared::sync::{Mutex, lock};

/// Something that interrupts the consumer's blocking wait.
pub trait Notify {
    /// Wakes the consumer; spurious wake-ups are allowed, lost ones are not.
    fn notify(&self);
}

/// A multi-producer, single-consumer queue with a coalescing wake.
#[derive(Debug)]
pub struct TaskQueue<T, W> {
    tasks: Mutex<Pending<T>>,
    waker: W,
}

#[derive(Debug)]
struct Pending<T> {
    items: Vec<T>,
    closed: bool,
    /// A push since the last drain has woken (or is waking) the consumer.
    notified: bool,
}

impl<T, W: Notify> TaskQueue<T, W> {
    /// An empty, open queue whose wakes go to `waker`.
    pub fn new(waker: W) -> Self {
        Self {
            tasks: Mutex::new(Pending {
                items: Vec::new(),
                closed: false,
                notified: false,
            }),
            waker,
        }
    }

    /// Queues `task` and wakes the consumer unless a wake is already pending.
    ///
    /// # Errors
    /// Gives the task back when the queue is closed (its loop has exited).
    pub fn push(&self, task: T) -> Result<(), T> {
        let first = {
            let mut pending = lock(&self.tasks);
            if pending.closed {
                return Err(task);
            }
            pending.items.push(task);
            !std::mem::replace(&mut pending.notified, true)
        };
        if first {
            self.waker.notify();
        }
        Ok(())
    }

    /// Takes every queued task into `batch` (which the caller keeps and clears between calls, so
    /// the two vectors trade places without allocating).
    pub fn drain_into(&self, batch: &mut Vec<T>) {
        let mut pending = lock(&self.tasks);
        pending.notified = false;
        std::mem::swap(&mut pending.items, batch);
    }

    /// Closes the queue: later pushes fail; the tasks still queued are returned for disposal.
    pub fn close(&self) -> Vec<T> {
        let mut pending = lock(&self.tasks);
        pending.closed = true;
        std::mem::take(&mut pending.items)
    }

    /// Whether a wake is pending (a push since the last drain).
    #[cfg(any(test, loom))]
    pub fn is_notified(&self) -> bool {
        lock(&self.tasks).notified
    }
}

/// A [`Notify`] that counts its wakes, for unit tests.
#[cfg(all(test, not(loom)))]
#[derive(Debug, Default)]
pub(crate) struct Count(pub(crate) std::sync::atomic::AtomicUsize);

#[cfg(all(test, not(loom)))]
impl Notify for Count {
    fn notify(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn many_pushes_cost_one_wake_until_drained() {
        let q = TaskQueue::new(Count::default());
        for i in 0..100 {
            q.push(i).unwrap();
        }
        assert_eq!(q.waker.0.load(Ordering::SeqCst), 1);
        let mut batch = Vec::new();
        q.drain_into(&mut batch);
        assert_eq!(batch, (0..100).collect::<Vec<_>>());
        assert!(!q.is_notified());
        q.push(7).unwrap();
        assert_eq!(q.waker.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn closed_queue_gives_tasks_back() {
        let q = TaskQueue::new(Count::default());
        q.push(1).unwrap();
        assert_eq!(q.close(), vec![1]);
        assert_eq!(q.push(2), Err(2));
    }
}

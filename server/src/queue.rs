//! The event loop's task queue: many producers, one consumer (the loop), and a coalescing wake.
//!
//! Producers (the acceptor, other loops, user threads holding an
//! [`EngineHandle`](crate::EngineHandle)) push under a mutex held for one `Vec::push`; the loop
//! takes the whole batch by swapping vectors, so it holds the lock for O(1) and neither side
//! allocates once both vectors have grown to the load.
//!
//! Wake-ups coalesce through the `notified` flag: only the producer that flips it from `false`
//! to `true` pays for a wake (an `eventfd` write on Linux). The flag is flipped and cleared
//! under the same lock as the pushes and the batch swap, so its history follows the batches:
//! a task pushed after a drain always finds the flag cleared and wakes the loop. (An earlier
//! version flipped the flag after releasing the lock and cleared it before taking the lock; the
//! loom model `loom_queue` in `loopwire-verify` reports a lost wake-up for it, with two
//! producers of two tasks each: the loop asleep, a task queued, nobody left to wake it.)

// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::sync::{AtomicBool, Mutex, Ordering, lock};

/// Something that interrupts the consumer's blocking wait.
pub trait Notify {
    /// Wakes the consumer; spurious wake-ups are allowed, lost ones are not.
    fn notify(&self);
}

/// A multi-producer, single-consumer queue with a coalescing wake.
#[derive(Debug)]
pub struct TaskQueue<T, W> {
    tasks: Mutex<Pending<T>>,
    notified: AtomicBool,
    waker: W,
}

#[derive(Debug)]
struct Pending<T> {
    items: Vec<T>,
    closed: bool,
}

impl<T, W: Notify> TaskQueue<T, W> {
    /// An empty, open queue whose wakes go to `waker`.
    pub fn new(waker: W) -> Self {
        Self {
            tasks: Mutex::new(Pending {
                items: Vec::new(),
                closed: false,
            }),
            notified: AtomicBool::new(false),
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
            // Under the lock, so the flag changes in the same order as the batches: a push
            // after a drain always sees the drain's `false`.
            !self.notified.swap(true, Ordering::Relaxed)
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
        // Cleared together with taking the batch: a push that lands after this sees `false`
        // and wakes us.
        self.notified.store(false, Ordering::Relaxed);
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
        self.notified.load(Ordering::SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Debug, Default)]
    struct Count(AtomicUsize);
    impl Notify for Count {
        fn notify(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

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

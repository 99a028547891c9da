//! The event loop's task queue: many producers, one consumer (the loop), and a coalescing wake.
//!
//! Producers (the acceptor, other loops, user threads holding an
//! [`EngineHandle`](crate::EngineHandle)) push under a mutex held for one `Vec::push`; the loop
//! takes the whole batch by swapping vectors, so it holds the lock for O(1) and neither side
//! allocates once both vectors have grown to the load.
//!
//! Wake-ups coalesce through the `notified` flag: only the producer that flips it from `false`
//! to `true` pays for a wake (an `eventfd` write on Linux). The loop clears the flag *before* it
//! takes the batch; clearing it after would lose the wake of a task pushed between the two steps
//! (the loom model `loom_queue` in `loopwire-verify` checks exactly that).

use crate::sync::{AtomicBool, Mutex, Ordering, lock};

/// Something that interrupts the consumer's blocking wait.
pub(crate) trait Notify {
    /// Wakes the consumer; spurious wake-ups are allowed, lost ones are not.
    fn notify(&self);
}

/// A multi-producer, single-consumer queue with a coalescing wake.
#[derive(Debug)]
pub(crate) struct TaskQueue<T, W> {
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
    pub(crate) fn new(waker: W) -> Self {
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
    pub(crate) fn push(&self, task: T) -> Result<(), T> {
        {
            let mut pending = lock(&self.tasks);
            if pending.closed {
                return Err(task);
            }
            pending.items.push(task);
        }
        if !self.notified.swap(true, Ordering::AcqRel) {
            self.waker.notify();
        }
        Ok(())
    }

    /// Takes every queued task into `batch` (which the caller keeps and clears between calls, so
    /// the two vectors trade places without allocating).
    pub(crate) fn drain_into(&self, batch: &mut Vec<T>) {
        // Clear first: a push that lands after the swap below then sees `false` and wakes us.
        self.notified.store(false, Ordering::SeqCst);
        let mut pending = lock(&self.tasks);
        std::mem::swap(&mut pending.items, batch);
    }

    /// Closes the queue: later pushes fail; the tasks still queued are returned for disposal.
    pub(crate) fn close(&self) -> Vec<T> {
        let mut pending = lock(&self.tasks);
        pending.closed = true;
        std::mem::take(&mut pending.items)
    }

    /// Whether a wake is pending (a push since the last drain).
    #[cfg(test)]
    pub(crate) fn is_notified(&self) -> bool {
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

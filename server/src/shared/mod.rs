//! Everything an event loop shares with other threads, in one place: the loop's task queue and
//! its coalescing wake-up, the generation table behind [`ConnHandle`]s, the engine's stop
//! state, and the tasks themselves.
//!
//! This is the state the loom models in `loopwire-verify` check: it takes its primitives from
//! [`sync`], which is loom's under `--cfg loom` and std's otherwise, and nothing here touches a
//! socket or a poller. The reactor owns everything else of a loop and reaches other threads only
//! through these types.

pub(crate) mod dials;
pub(crate) mod gen_table;
pub(crate) mod queue;
pub(crate) mod stop;
pub(crate) mod sync;
pub(crate) mod task;

use crate::error::{Error, Result};
use crate::handle::ConnHandle;
use gen_table::GenTable;
use queue::{Notify, TaskQueue};
use stop::StopState;
use task::Task;

/// What other threads share with one loop: its task queue and its slots' generations.
///
/// Generic over the task and the waker only so that the loom model `loom_handle_path` in
/// `loopwire-verify` can run [`send`](Self::send) with its own; the engine uses the defaults.
// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`; they always
// name their own task type, so the crate-private default does not leak.
#[derive(Debug)]
#[cfg_attr(not(loom), allow(unreachable_pub))]
#[cfg_attr(loom, allow(private_interfaces))]
pub struct LoopShared<T = Task, W = crate::transport::Waker> {
    /// The loop's task queue.
    pub queue: TaskQueue<T, W>,
    /// Generation of the connection in each of the loop's slots (written by the loop only).
    pub gens: GenTable,
}

#[cfg_attr(not(loom), allow(unreachable_pub))]
impl<T, W: Notify> LoopShared<T, W> {
    /// An open queue waking `waker`, and `slots` vacant slots.
    pub fn new(waker: W, slots: usize) -> Self {
        Self {
            queue: TaskQueue::new(waker),
            gens: GenTable::new(slots),
        }
    }

    /// The caller's check of a request about connection `h`: refused once the engine is
    /// stopping, or once `h`'s connection has left its slot.
    ///
    /// # Errors
    /// [`Error::Stopped`], then [`Error::Closed`].
    pub fn check(&self, stop: &StopState, h: ConnHandle) -> Result<()> {
        if stop.is_stopping() {
            return Err(Error::Stopped);
        }
        if !self.gens.is_live(h.slot(), h.generation()) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The caller's side of a request about connection `h` (`EngineHandle::async_write`,
    /// `close`, ...): [`check`](Self::check), then queue `task` for the loop. The connection
    /// may close before the loop runs it, so the loop checks `h`'s generation again against
    /// the slot's occupant (and drops the task if it differs).
    ///
    /// # Errors
    /// As [`check`](Self::check); [`Error::Stopped`] when the loop has exited (closed queue).
    pub fn send(&self, stop: &StopState, h: ConnHandle, task: T) -> Result<()> {
        self.check(stop, h)?;
        self.queue.push(task).map_err(|_| Error::Stopped)
    }
}

impl Notify for loopwire_poller::Waker {
    fn notify(&self) {
        if let Err(e) = self.wake() {
            tracing::warn!(error = %e, "waking the acceptor failed");
        }
    }
}

impl Notify for crate::transport::Waker {
    fn notify(&self) {
        if let Err(e) = self.wake() {
            tracing::warn!(error = %e, "waking an event loop failed");
        }
    }
}

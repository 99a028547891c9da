//! What other threads asked of the loop through its task queue: new connections, writes,
//! wakes, closes, broadcasts, stop.

use bytes::Bytes;

use super::{BATCH_KEEP, Call, EventLoop};
use crate::handle::ConnHandle;
use crate::handler::EventHandler;
use crate::shared::task::Task;
use crate::transport::Transport;
use loopwire_loadbalance::Balancer;

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    /// Runs every queued task; returns true when the loop must stop.
    // Mirrored in verify/tests/loom_handle_path.rs and loom_shutdown.rs (the whole batch runs
    // even when it holds `Stop`): keep the models in step with changes here.
    pub(super) fn run_tasks(&mut self) -> bool {
        let mut batch = std::mem::take(&mut self.batch);
        self.engine.inner.loops[self.id]
            .queue
            .drain_into(&mut batch);
        let mut stop = false;
        for task in batch.drain(..) {
            match task {
                Task::Register(acc) => match acc.adopt(|s| self.transport.adopt(s)) {
                    Ok(acc) => self.register(acc, true),
                    Err(e) => {
                        tracing::warn!(error = %e, "the transport refused a connection; closed");
                        self.balancer.on_close(self.id);
                    }
                },
                Task::Write(h, data) => {
                    if self.live(h) {
                        self.send(h.slot(), &data);
                    }
                }
                Task::Writev(h, bufs) => {
                    if self.live(h) {
                        for b in &bufs {
                            self.write_buf.extend_from_slice(b);
                        }
                        self.flush(h.slot());
                    }
                }
                Task::Wake(h) => {
                    if self.live(h) {
                        self.callback(h.slot(), None, Call::Traffic);
                    }
                }
                Task::WakeMany(hs) => {
                    for h in hs {
                        if self.live(h) {
                            self.callback(h.slot(), None, Call::Traffic);
                        }
                    }
                }
                Task::Close(h) => {
                    if self.live(h) {
                        self.begin_close(h.slot());
                    }
                }
                Task::Broadcast(payload, filter) => self.broadcast(&payload, filter.as_deref()),
                Task::Stop => stop = true,
            }
        }
        if batch.capacity() > BATCH_KEEP {
            // An accept burst grew it; don't hold that memory forever.
            batch.shrink_to(BATCH_KEEP);
        }
        self.batch = batch;
        stop
    }

    // Mirrored in verify/tests/loom_handle_path.rs (the loop's second generation check): keep
    // the model in step with changes here.
    pub(super) fn live(&self, h: ConnHandle) -> bool {
        self.conns
            .get(h.slot())
            .is_some_and(|s| s.generation == h.generation && s.closing.is_none())
    }

    pub(super) fn broadcast(
        &mut self,
        payload: &Bytes,
        filter: Option<&(dyn Fn(ConnHandle) -> bool + Send + Sync)>,
    ) {
        let mut keys = std::mem::take(&mut self.keys);
        keys.extend(
            self.conns
                .iter()
                .filter(|(k, s)| filter.is_none_or(|f| f(s.handle(self.id, *k))))
                .map(|(k, _)| k),
        );
        for &k in &keys {
            if self.conns.get(k).is_some_and(|s| s.closing.is_none()) {
                self.send(k, payload);
            }
        }
        keys.clear();
        self.keys = keys;
    }
}

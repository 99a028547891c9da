//! The main reactor: one thread that accepts on the shared listeners and hands each socket to
//! the loop the load balancer picks, through that loop's task queue.
//!
//! When the process runs out of file descriptors, accepting on that listener pauses for
//! [`BACKOFF_MS`] on the engine's clock (the listener leaves the poller meanwhile, so a full
//! backlog does not spin the thread), then resumes.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use loopwire_loadbalance::{AnyBalancer, Balancer};
use loopwire_poller::{Events, Interest, Mode, Poller, Token};

use crate::addr::Network;
use crate::engine::EngineHandle;
use crate::handler::EventHandler;
use crate::shared::task::{NewConn, Task};
use crate::sys::{Listener, is_fd_exhaustion};

/// How long accepting pauses after the process ran out of file descriptors, in ms.
const BACKOFF_MS: u64 = 50;

/// The acceptor thread's state.
#[derive(Debug)]
pub(crate) struct Acceptor<H> {
    poller: Poller,
    listeners: Vec<(Listener, Network)>,
    /// When each listener paused by a back-off resumes (ms on the engine's clock).
    resume_at: Vec<Option<u64>>,
    engine: EngineHandle,
    handler: Arc<H>,
    balancer: Arc<AnyBalancer>,
}

impl<H: EventHandler> Acceptor<H> {
    pub(crate) fn new(
        poller: Poller,
        listeners: Vec<(Listener, Network)>,
        engine: EngineHandle,
        handler: Arc<H>,
        balancer: Arc<AnyBalancer>,
    ) -> Self {
        Self {
            poller,
            resume_at: vec![None; listeners.len()],
            listeners,
            engine,
            handler,
            balancer,
        }
    }

    /// The thread body: accept until the engine stops, then close the listeners (removing Unix
    /// socket files).
    pub(crate) fn run(mut self) {
        self.engine.enter_thread();
        let _span = tracing::debug_span!("acceptor").entered();
        for i in 0..self.listeners.len() {
            if let Err(e) = self.watch(i) {
                tracing::error!(error = %e, "registering a listener failed; stopping the engine");
                self.engine.signal_stop();
            }
        }
        let clock = self.engine.inner.clock.clone();
        let mut events = Events::with_capacity(64);
        while !self.engine.is_stopping() {
            let now = clock.now_ms();
            let due = self.resume_at.iter().flatten().min().copied();
            if let Err(e) = self.poller.poll(&mut events, clock.poll_timeout(now, due)) {
                tracing::error!(error = %e, "acceptor poll failed; stopping the engine");
                self.engine.signal_stop();
                break;
            }
            for ev in events.iter() {
                self.accept(ev.token().0, now);
            }
            self.resume(clock.now_ms());
        }
        for (i, (l, _)) in self.listeners.iter().enumerate() {
            if self.resume_at[i].is_none() {
                let _ = self.poller.deregister(l.as_fd().as_raw_fd());
            }
        }
        let engine = self.engine.clone();
        let handler = Arc::clone(&self.handler);
        drop(self);
        super::thread_exited(&engine, &*handler);
    }

    /// Puts listener `i` on the poller.
    fn watch(&mut self, i: usize) -> Result<(), loopwire_poller::Error> {
        let Some((l, _)) = self.listeners.get(i) else {
            return Ok(());
        };
        // SAFETY: the listeners are owned by the acceptor and deregistered at the end of `run`
        // (or while paused), before they are dropped.
        unsafe {
            self.poller.register(
                l.as_fd().as_raw_fd(),
                Token(i),
                Interest::READABLE,
                Mode::Level,
            )
        }
    }

    /// Resumes the listeners whose back-off is over at `now`.
    fn resume(&mut self, now: u64) {
        for i in 0..self.resume_at.len() {
            if self.resume_at[i].is_some_and(|at| at <= now) {
                self.resume_at[i] = None;
                if let Err(e) = self.watch(i) {
                    tracing::error!(error = %e, "resuming accepts failed");
                }
            }
        }
    }

    /// Accepts everything pending on listener `i`, the time being `now`.
    fn accept(&mut self, i: usize, now: u64) {
        let Some((l, network)) = self.listeners.get(i) else {
            return;
        };
        loop {
            if self.engine.is_stopping() {
                return;
            }
            match l.accept() {
                Ok((stream, peer)) => {
                    let acc = NewConn::accepted(stream, peer, *network);
                    let target = self.balancer.pick(&acc.conn_info());
                    self.balancer.on_open(target);
                    let queue = &self.engine.inner.loops[target].queue;
                    if queue.push(Task::Register(acc)).is_err() {
                        self.balancer.on_close(target);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if is_fd_exhaustion(&e) => {
                    tracing::warn!(error = %e, "out of file descriptors; pausing accepts");
                    if self.poller.deregister(l.as_fd().as_raw_fd()).is_ok() {
                        self.resume_at[i] = Some(now.saturating_add(BACKOFF_MS));
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }
}

//! The main reactor: one thread that accepts on the shared listeners and hands each socket to
//! the loop the load balancer picks, through that loop's task queue.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;

use loopwire_loadbalance::{AnyBalancer, Balancer};
use loopwire_poller::{Events, Interest, Mode, Poller, Token};

use crate::addr::Network;
use crate::dial::Origin;
use crate::engine::EngineHandle;
use crate::event_loop::is_fd_exhaustion;
use crate::handler::EventHandler;
use crate::socket::Listener;
use crate::task::{Accepted, Task};

/// How long accepting pauses after the process ran out of file descriptors.
const BACKOFF: Duration = Duration::from_millis(50);

/// The acceptor thread's state.
#[derive(Debug)]
pub(crate) struct Acceptor<H> {
    poller: Poller,
    listeners: Vec<(Listener, Network)>,
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
        for (i, (l, _)) in self.listeners.iter().enumerate() {
            let fd = l.as_fd().as_raw_fd();
            // SAFETY: the listeners are owned by the acceptor and deregistered at the end of
            // `run`, before they are dropped.
            let res = unsafe {
                self.poller
                    .register(fd, Token(i), Interest::READABLE, Mode::Level)
            };
            if let Err(e) = res {
                tracing::error!(error = %e, "registering a listener failed; stopping the engine");
                self.engine.signal_stop();
            }
        }
        let mut events = Events::with_capacity(64);
        while !self.engine.is_stopping() {
            if let Err(e) = self.poller.poll(&mut events, None) {
                tracing::error!(error = %e, "acceptor poll failed; stopping the engine");
                self.engine.signal_stop();
                break;
            }
            for ev in events.iter() {
                self.accept(ev.token().0);
            }
        }
        for (l, _) in &self.listeners {
            let _ = self.poller.deregister(l.as_fd().as_raw_fd());
        }
        let engine = self.engine.clone();
        let handler = Arc::clone(&self.handler);
        drop(self);
        engine.thread_exited(&*handler);
    }

    /// Accepts everything pending on listener `i`.
    fn accept(&mut self, i: usize) {
        let Some((l, network)) = self.listeners.get(i) else {
            return;
        };
        loop {
            if self.engine.is_stopping() {
                return;
            }
            match l.accept() {
                Ok((stream, peer)) => {
                    let acc = Accepted {
                        stream,
                        peer,
                        network: *network,
                        origin: Origin::Accepted,
                        #[cfg(feature = "tls")]
                        client_tls: None,
                    };
                    let target = self.balancer.pick(&acc.conn_info());
                    self.balancer.on_open(target);
                    let queue = &self.engine.inner.loops[target].queue;
                    if queue.push(Task::Register(acc)).is_err() {
                        self.balancer.on_close(target);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_fd_exhaustion(&e) => {
                    tracing::warn!(error = %e, "out of file descriptors; pausing accepts");
                    std::thread::sleep(BACKOFF);
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

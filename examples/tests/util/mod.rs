//! Helpers shared by the example servers' integration tests.

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use loopwire::{Action, Conn, Engine, EngineHandle, EventHandler, Network};

/// Upper bound of any single read or write in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// Runs `handler` on two loops; stops the engine when dropped.
pub struct Server(pub EngineHandle);

impl Server {
    pub fn start(handler: impl EventHandler) -> Self {
        Self(
            Engine::builder()
                .addr("tcp://127.0.0.1:0")
                .loops(2)
                .start(handler)
                .expect("engine starts"),
        )
    }

    pub fn addr(&self) -> SocketAddr {
        self.0
            .addrs()
            .iter()
            .find(|a| a.network == Network::Tcp)
            .and_then(|a| a.addr)
            .expect("a TCP address")
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s.set_write_timeout(Some(WAIT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A handler wrapped to record, after each `on_traffic`, the largest unsent backlog it left
/// and how often it left reading paused: what the backpressure tests check.
#[derive(Default)]
pub struct Probe<H> {
    pub inner: H,
    pub max_backlog: AtomicUsize,
    pub paused: AtomicUsize,
}

impl<H: EventHandler> EventHandler for Probe<H> {
    type State = H::State;

    fn on_traffic(&self, c: &mut Conn<'_, H::State>) -> Action {
        let a = self.inner.on_traffic(c);
        self.max_backlog
            .fetch_max(c.outbound_len(), Ordering::Relaxed);
        if c.is_reading_paused() {
            self.paused.fetch_add(1, Ordering::Relaxed);
        }
        a
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, H::State>, writable: bool) -> Action {
        self.inner.on_writability_changed(c, writable)
    }
}

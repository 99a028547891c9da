//! A panicking handler callback closes its connection and nothing else: the loop, its other
//! connections and a graceful stop all carry on.

mod util;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, Engine, EngineHandle, EventHandler};
use util::{connect, eventually, read_n, tcp_addr};

/// Echoes, except that `boom` panics in `on_traffic`, and every tick panics.
#[derive(Default)]
struct Fragile {
    closes: Mutex<Vec<String>>,
    ticks: AtomicUsize,
    shutdowns: AtomicUsize,
}

impl EventHandler for Fragile {
    type State = ();

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(b"partial");
        assert!(data != b"boom", "the handler has a bug");
        c.write(data);
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }

    fn on_tick(&self, _engine: &EngineHandle) -> (Duration, Action) {
        self.ticks.fetch_add(1, Ordering::SeqCst);
        panic!("every tick fails");
    }

    fn on_shutdown(&self, _engine: &EngineHandle) {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_panic_closes_only_its_connection() {
    let handler = Arc::new(Fragile::default());
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .ticker(true)
        .start(Arc::clone(&handler))
        .expect("start");
    let mut good = connect(tcp_addr(&engine));
    let mut bad = connect(tcp_addr(&engine));
    good.write_all(b"hi").expect("write");
    assert_eq!(read_n(&mut good, 9), b"partialhi");

    bad.write_all(b"boom").expect("write");
    let mut rest = Vec::new();
    bad.read_to_end(&mut rest).expect("closed by the server");
    assert!(
        rest.is_empty(),
        "what the panicking callback wrote was dropped: {rest:?}"
    );
    assert!(eventually(|| handler.closes.lock().unwrap().len() == 1));
    assert_eq!(handler.closes.lock().unwrap()[0], "Panicked");

    // The same (only) loop still serves the other connection, and keeps ticking.
    good.write_all(b"again").expect("write");
    assert_eq!(read_n(&mut good, 12), b"partialagain");
    let ticks = handler.ticks.load(Ordering::SeqCst);
    assert!(eventually(|| handler.ticks.load(Ordering::SeqCst) > ticks));

    engine.stop();
    engine.wait();
    assert_eq!(handler.shutdowns.load(Ordering::SeqCst), 1);
}

//! The worker pool with the engine: blocking jobs run off the loop, their results come back
//! through `EngineHandle::async_write`, and the loop keeps serving meanwhile.

mod util;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use loopwire::{Action, Conn, Engine, EngineHandle, EventHandler, RejectReason, WorkerPool};
use util::{WAIT, connect, tcp_addr};

/// `slow <word>\n` runs a job that waits for the test's go-ahead, then answers the word in
/// capitals; `ping\n` is answered at once on the loop.
struct Service {
    pool: WorkerPool,
    engine: OnceLock<EngineHandle>,
    /// Each job takes its go-ahead from here.
    gate: Arc<Mutex<mpsc::Receiver<()>>>,
    /// Each job reports here that a worker started it.
    started: Mutex<mpsc::Sender<()>>,
}

impl EventHandler for Service {
    type State = ();

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        let _ = self.engine.set(engine.clone());
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        while let Some(end) = c.inbound().iter().position(|&b| b == b'\n') {
            let line = c.next(end + 1);
            if line == b"ping\n" {
                c.write(b"pong\n");
                continue;
            }
            let Some(word) = line
                .strip_prefix(b"slow ")
                .and_then(|w| w.strip_suffix(b"\n"))
            else {
                return Action::Close;
            };
            let (Some(engine), conn) = (self.engine.get().cloned(), c.handle()) else {
                return Action::Close;
            };
            let answer = word.to_ascii_uppercase();
            let gate = Arc::clone(&self.gate);
            let started = self.started.lock().unwrap().clone();
            let job = move || {
                let _ = started.send(());
                let go = gate.lock().unwrap().recv_timeout(WAIT);
                assert!(go.is_ok(), "the test lets every job go");
                let _ = engine.async_write(conn, answer);
            };
            if let Err(refused) = self.pool.try_submit(job) {
                assert_eq!(refused.reason(), RejectReason::Full);
                c.write(b"busy\n");
            }
        }
        Action::None
    }
}

#[test]
fn blocking_jobs_do_not_block_the_loop_and_their_answers_arrive() {
    let (go, gate) = mpsc::channel();
    let (started_tx, started) = mpsc::channel();
    let service = Arc::new(Service {
        pool: WorkerPool::new(2, 2).expect("pool"),
        engine: OnceLock::new(),
        gate: Arc::new(Mutex::new(gate)),
        started: Mutex::new(started_tx),
    });
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(Arc::clone(&service))
        .expect("start");
    let addr = tcp_addr(&engine);

    // Two jobs occupy both workers, two more fill the queue, the fifth is refused at once.
    let mut slow = connect(addr);
    for first in [&b"slow a\n"[..], b"slow b\n"] {
        slow.write_all(first).expect("write");
        started.recv_timeout(WAIT).expect("a worker took it");
    }
    slow.write_all(b"slow c\nslow d\nslow e\n").expect("write");
    let mut busy = [0; 5];
    slow.read_exact(&mut busy)
        .expect("the refusal comes at once");
    assert_eq!(&busy, b"busy\n");

    // Every worker is blocked, yet the (only) loop answers another connection.
    let mut other = connect(addr);
    for _ in 0..3 {
        other.write_all(b"ping\n").expect("write");
        let mut pong = [0; 5];
        other
            .read_exact(&mut pong)
            .expect("pong while the workers block");
        assert_eq!(&pong, b"pong\n");
    }

    // Let the four jobs go: their answers arrive (in any order: two workers).
    for _ in 0..4 {
        go.send(()).expect("go");
    }
    let mut answers = [0; 4];
    slow.read_exact(&mut answers).expect("four answers");
    answers.sort_unstable();
    assert_eq!(&answers, b"ABCD");
    engine.stop();
    engine.wait();
    service.pool.shutdown();
    assert_eq!((service.pool.completed(), service.pool.panicked()), (4, 0));
}

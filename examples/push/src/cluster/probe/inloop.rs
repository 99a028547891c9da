//! The in-loop client of the probe: a loopwire event loop that dials Redis and issues the
//! probe's commands itself, keeping `in_flight` of them outstanding on its one connection.
//! Replies are framed by [`resp::reply_len`](super::resp::reply_len) and parsed by the
//! `redis` crate; every reply read in one callback is answered by the next commands, written
//! together (one send: the pipeline forms by itself). This is what a RESP client inside the
//! gateway's loops would do, without the gateway's state machine around it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use loopwire::{Action, CloseReason, Conn, ConnHandle, Engine, EventHandler};

use super::resp::reply_len;
use super::{Measured, command, cpu};

/// What the loop tells the measuring thread.
enum Event {
    Opened(ConnHandle),
    /// Every call answered: their latencies and the time from the first write.
    Done(Vec<Duration>, Duration),
    Failed(String),
}

/// One connection's calls.
#[derive(Default)]
struct Calls {
    started: Option<Instant>,
    next: usize,
    sent_at: VecDeque<Instant>,
    lat: Vec<Duration>,
    out: Vec<u8>,
    finished: bool,
}

struct Client {
    calls: usize,
    in_flight: usize,
    tx: Mutex<Sender<Event>>,
}

impl Client {
    fn tell(&self, e: Event) {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = tx.send(e);
    }

    /// Queues calls until `in_flight` are outstanding or all were issued.
    fn issue(&self, s: &mut Calls, now: Instant) {
        s.out.clear();
        while s.next < self.calls && s.sent_at.len() < self.in_flight {
            command(s.next).write_packed_command(&mut s.out);
            s.sent_at.push_back(now);
            s.next += 1;
        }
    }
}

impl EventHandler for Client {
    type State = Calls;

    fn on_open(&self, c: &mut Conn<'_, Calls>) -> Action {
        // The calls start when the measuring thread wakes the connection (its CPU count taken).
        self.tell(Event::Opened(c.handle()));
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, Calls>) -> Action {
        let now = Instant::now();
        if c.state().started.is_none() {
            let s = c.state_mut();
            s.started = Some(now);
            self.issue(s, now);
            let out = std::mem::take(&mut c.state_mut().out);
            c.write(&out);
            c.state_mut().out = out;
            return Action::None;
        }
        let mut used = 0;
        let mut answered = 0;
        let buf = c.inbound();
        loop {
            let rest = &buf[used..];
            match reply_len(rest) {
                Ok(Some(n)) => {
                    let ok = matches!(
                        redis::parse_redis_value(&rest[..n]),
                        Ok(v) if !matches!(v, redis::Value::ServerError(_))
                    );
                    if !ok {
                        self.tell(Event::Failed("an error reply".into()));
                        c.state_mut().finished = true;
                        return Action::Close;
                    }
                    used += n;
                    answered += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    self.tell(Event::Failed(e.to_string()));
                    c.state_mut().finished = true;
                    return Action::Close;
                }
            }
        }
        c.discard(used);
        let s = c.state_mut();
        for _ in 0..answered {
            if let Some(at) = s.sent_at.pop_front() {
                s.lat.push(now - at);
            }
        }
        if s.lat.len() >= self.calls {
            s.finished = true;
            let total = s.started.map_or(Duration::ZERO, |t| now - t);
            self.tell(Event::Done(std::mem::take(&mut s.lat), total));
            return Action::Close;
        }
        self.issue(s, now);
        if !s.out.is_empty() {
            let out = std::mem::take(&mut c.state_mut().out);
            c.write(&out);
            c.state_mut().out = out;
        }
        Action::None
    }

    fn on_close(&self, c: &mut Conn<'_, Calls>, reason: CloseReason) -> Action {
        if !c.state().finished {
            self.tell(Event::Failed(format!("closed: {reason:?}")));
        }
        Action::None
    }
}

/// `calls` calls from a loop of its own on the Redis at `addr` (`host:port`), `in_flight`
/// outstanding; CPU counted from the first write to the last reply.
pub(crate) fn measure(
    addr: &str,
    calls: usize,
    in_flight: usize,
    redis_conn: &mut redis::Connection,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let (tx, rx): (Sender<Event>, Receiver<Event>) = mpsc::channel();
    let client = Client {
        calls: calls.max(1),
        in_flight: in_flight.max(1),
        tx: Mutex::new(tx),
    };
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(client)?;
    let res = (|| {
        engine.dial(&format!("tcp://{addr}"), 1)?;
        let wait = Duration::from_secs(10);
        let handle = match rx.recv_timeout(wait)? {
            Event::Opened(h) => h,
            Event::Failed(e) => return Err(e.into()),
            Event::Done(..) => return Err("done before it started".into()),
        };
        let (cpu0, redis0) = (cpu::process(), cpu::redis(redis_conn)?);
        engine.wake(handle)?;
        let timeout = Duration::from_secs(60);
        match rx.recv_timeout(timeout)? {
            Event::Done(lat, total) => {
                let cpu = cpu::process().saturating_sub(cpu0);
                let redis = cpu::redis(redis_conn)?.saturating_sub(redis0);
                Ok(Measured {
                    lat,
                    total,
                    failed: 0,
                    cpu,
                    redis_cpu: redis,
                })
            }
            Event::Failed(e) => Err(e.into()),
            Event::Opened(_) => Err("opened twice".into()),
        }
    })();
    engine.stop();
    engine.wait();
    res
}

//! The worker against a real `redis-server` (the cluster tests' helper, skipped when
//! `redis-server` is not installed): batch jobs drained into one pipeline, in order, each
//! with its own replies; a refused command fails only its job; a broken connection fails
//! every job of the pipeline, and the worker comes back. Jobs queue up behind a connection
//! job that holds the worker until they all are submitted, so what shares a pipeline is
//! decided by the test, not by timing.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

use crate::cluster::test_redis::{Proxy, Redis};

/// Upper bound of a wait (a hang guard).
const WAIT: Duration = Duration::from_secs(10);

/// A started worker; stopped on drop.
struct Worker {
    link: Link,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(url: &str) -> Self {
        let client = redis::Client::open(url).expect("url");
        let stop = Arc::new(AtomicBool::new(false));
        let (link, handle) =
            Link::start(client, 1024, MAX_BATCH, Arc::clone(&stop)).expect("start");
        wait_until("the worker connected", || link.is_up());
        Self {
            link,
            stop,
            handle: Some(handle),
        }
    }

    /// Holds the worker in a connection job until the returned sender is used (or dropped).
    fn hold(&self) -> Sender<()> {
        let (tx, rx) = mpsc::channel::<()>();
        let (seen_tx, seen_rx) = mpsc::channel::<()>();
        assert!(self.link.submit(Box::new(move |_| {
            let _ = seen_tx.send(());
            let _ = rx.recv_timeout(WAIT);
            Ok(())
        })));
        seen_rx
            .recv_timeout(WAIT)
            .expect("the worker took the holding job");
        tx
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn log(l: &Log, s: String) {
    l.lock().expect("log").push(s);
}

/// A batch job `RPUSH list {i}` (plus `extra` commands) logging its build and its replies.
fn push_job(l: &Log, i: usize, extra: Vec<redis::Cmd>) -> BatchJob {
    let l = Arc::clone(l);
    Box::new(move |p| {
        let Some(p) = p else {
            log(&l, format!("down {i}"));
            return None;
        };
        log(&l, format!("build {i}"));
        p.cmd("RPUSH").arg("list").arg(i);
        for c in extra {
            p.add_command(c);
        }
        Some(Box::new(move |r| {
            let s = match r {
                Ok(values) => {
                    let shown: Vec<String> = values
                        .into_iter()
                        .map(|v| match reply::<i64>(v) {
                            Ok(n) => n.to_string(),
                            Err(e) => format!("err {:?}", e.code()),
                        })
                        .collect();
                    format!("done {i}: {}", shown.join(" "))
                }
                Err(e) => format!("failed {i}: broken {}", broken(e)),
            };
            log(&l, s);
        }))
    })
}

fn list(r: &Redis) -> Vec<i64> {
    let mut c = r.conn().expect("redis is up");
    redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("LRANGE")
}

/// Polls `done` until it holds; a hang guard of [`WAIT`], not a verdict on speed.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let end = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn wait_for(l: &Log, n: usize) -> Vec<String> {
    wait_until("the jobs answered", || l.lock().expect("log").len() >= n);
    l.lock().expect("log").clone()
}

#[test]
fn queued_batch_jobs_share_one_pipeline_in_order_each_with_its_own_replies() {
    let Some(redis) = Redis::start() else { return };
    let w = Worker::start(&redis.url());
    let l: Log = Arc::default();
    let release = w.hold();
    for i in 0..3 {
        assert!(w.link.submit_batch(push_job(&l, i, Vec::new())));
    }
    // A command Redis refuses (INCR of a list) fails its job only, not its neighbours.
    let mut wrong = redis::cmd("INCR");
    wrong.arg("list");
    let mut len = redis::cmd("LLEN");
    len.arg("list");
    assert!(w.link.submit_batch(push_job(&l, 3, vec![wrong, len])));
    // A connection job is a barrier: the pipeline before it is finished first.
    let (l2, r) = (Arc::clone(&l), redis.url());
    assert!(w.link.submit(Box::new(move |conn| {
        let conn = conn.expect("connected");
        let n: i64 = redis::cmd("LLEN").arg("list").query(conn)?;
        log(&l2, format!("conn sees {n}"));
        let _ = r;
        Ok(())
    })));
    for i in 4..6 {
        assert!(w.link.submit_batch(push_job(&l, i, Vec::new())));
    }
    drop(release);
    let got = wait_for(&l, 13);
    let expect = [
        "build 0",
        "build 1",
        "build 2",
        "build 3",
        "done 0: 1",
        "done 1: 2",
        "done 2: 3",
        "done 3: 4 err Some(\"WRONGTYPE\") 4",
        "conn sees 4",
        "build 4",
        "build 5",
        "done 4: 5",
        "done 5: 6",
    ];
    assert_eq!(got, expect);
    assert_eq!(list(&redis), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_broken_connection_fails_every_job_of_its_pipeline_and_the_worker_comes_back() {
    let Some(redis) = Redis::start() else { return };
    let proxy = Proxy::start(redis.port);
    let w = Worker::start(&proxy.url());
    let generation = w.link.generation();
    let l: Log = Arc::default();
    let release = w.hold();
    for i in 0..4 {
        assert!(w.link.submit_batch(push_job(&l, i, Vec::new())));
    }
    proxy.cut();
    drop(release);
    let got = wait_for(&l, 8);
    let expect = [
        "build 0",
        "build 1",
        "build 2",
        "build 3",
        "failed 0: broken true",
        "failed 1: broken true",
        "failed 2: broken true",
        "failed 3: broken true",
    ];
    assert_eq!(got, expect);
    // Down: a job is answered at once, without a connection.
    wait_until("the worker noticed", || !w.link.is_up());
    proxy.restore();
    // Back: a later job goes through on a new connection (jobs taken before the reconnect
    // are answered "down"; retried until one is built).
    let mut i = 10;
    let end = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < end,
            "the worker did not come back: {:?}",
            l.lock()
        );
        let (tx, rx): (Sender<bool>, Receiver<bool>) = mpsc::channel();
        let tx2 = tx.clone();
        w.link.submit_batch(Box::new(move |p| {
            let Some(p) = p else {
                let _ = tx2.send(false);
                return None;
            };
            p.cmd("RPUSH").arg("list").arg(i);
            Some(Box::new(move |r| {
                let _ = tx.send(all_ok(r).is_ok());
            }))
        }));
        if rx.recv_timeout(WAIT).expect("answered") {
            break;
        }
        i += 1;
        thread::sleep(Duration::from_millis(20));
    }
    assert!(w.link.generation() > generation);
    assert_eq!(
        list(&redis),
        vec![i as i64],
        "nothing of the broken pipeline ran"
    );
}

//! A measurement of the Redis path the cluster chose (not used by the gateway): the same
//! command (the QoS1 put script, and a `PUBLISH`) issued directly on a connection by the
//! calling thread, and through the `Link` worker as the gateway issues
//! it (a job through the bounded queue, the answer back through a channel, as an API
//! reply goes back to its loop). `examples/cluster_redis_path.rs` prints both.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::keys;
use super::link::{self, Link};

/// What [`measure`] found for one path.
#[derive(Debug, Clone, Copy)]
pub struct PathStats {
    /// Calls completed per second (one caller, `in_flight` outstanding).
    pub calls_per_sec: f64,
    /// Median call latency.
    pub p50: Duration,
    /// 99th percentile call latency.
    pub p99: Duration,
}

fn stats(mut lat: Vec<Duration>, total: Duration) -> PathStats {
    lat.sort_unstable();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    PathStats {
        calls_per_sec: lat.len() as f64 / total.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// `calls` put-script calls on the Redis at `url`, first directly (one at a time), then
/// through the worker with up to `in_flight` outstanding; returns (direct, worker).
///
/// # Errors
/// A Redis error, or a worker that could not start.
pub fn measure(
    url: &str,
    calls: usize,
    in_flight: usize,
) -> Result<(PathStats, PathStats), Box<dyn std::error::Error>> {
    let client = redis::Client::open(url)?;
    let mut conn = link::connect(&client)?;
    let put = |conn: &mut redis::Connection, i: usize| -> redis::RedisResult<u64> {
        redis::cmd("EVAL")
            .arg(keys::PUT)
            .arg(2)
            .arg("lw:probe:seq")
            .arg(format!("lw:probe:q:{}", i % 1000))
            .arg(u64::MAX / 2)
            .arg(60_000)
            .arg(&b"payload of sixty-four bytes, about what a small push carries....."[..])
            .arg(100)
            .arg(0)
            .query(conn)
    };
    let calls = calls.max(1);
    let mut lat = Vec::with_capacity(calls);
    let t0 = Instant::now();
    for i in 0..calls {
        let t = Instant::now();
        put(&mut conn, i)?;
        lat.push(t.elapsed());
    }
    let direct = stats(lat, t0.elapsed());

    let stop = Arc::new(AtomicBool::new(false));
    let (link, worker) = Link::start(client, 65_536, 1, Arc::clone(&stop))?;
    let end = Instant::now() + Duration::from_secs(5);
    while !link.is_up() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (tx, rx) = mpsc::channel::<(Instant, bool)>();
    let mut lat = Vec::with_capacity(calls);
    let (mut sent, mut failed) = (0, 0);
    let t0 = Instant::now();
    while lat.len() + failed < calls {
        while sent < calls && sent - lat.len() - failed < in_flight.max(1) {
            let (tx, start, i) = (tx.clone(), Instant::now(), sent);
            link.submit(Box::new(move |conn| {
                let ok = match conn {
                    Some(conn) => put(conn, i).is_ok(),
                    None => false,
                };
                let _ = tx.send((start, ok));
                Ok(())
            }));
            sent += 1;
        }
        let (start, ok) = rx.recv()?;
        if ok {
            lat.push(start.elapsed());
        } else {
            failed += 1;
        }
    }
    let total = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(link);
    let _ = worker.join();
    let _ = redis::cmd("DEL").arg("lw:probe:seq").query::<()>(&mut conn);
    if lat.is_empty() {
        return Err("every call through the worker failed".into());
    }
    Ok((direct, stats(lat, total)))
}

//! A measurement of the cluster's Redis paths (not used by the gateway), on one Redis with
//! the same commands: call `i` is the QoS1 put script, a `PUBLISH` or a registry `HSET`
//! (`command`, in turn), as the gateway issues them. The paths ([`Path`]):
//!
//! - **direct**: the calling thread on its own connection, `in_flight` commands per round
//!   trip (one pipeline; 1: a call at a time);
//! - **worker, one per round trip**: through the `Link` worker as the cluster used it before
//!   pipelining (a job through the bounded queue, one round trip each, the answer back
//!   through a channel, as an API reply goes back to its loop);
//! - **worker, pipelined**: the same worker draining what is queued into one pipeline (the
//!   cluster now);
//! - **in-loop**: a loopwire event loop that dials Redis and pipelines the commands itself
//!   (`inloop`), replies framed and parsed there.
//!
//! For each: calls per second, p50 and p99 latency (from issue to the answer where the
//! caller gets it), the CPU time per call of this whole process (caller, worker or loop)
//! and of the Redis server. `examples/cluster_redis_path.rs` prints the table.

mod cpu;
mod inloop;
mod resp;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis::ConnectionLike;

use super::keys;
use super::link::{self, Link};

/// A way to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The calling thread on its own connection, `in_flight` commands per round trip.
    Direct,
    /// The `Link` worker, one job per round trip (the cluster before pipelining).
    WorkerSingle,
    /// The `Link` worker draining its queue into one pipeline (the cluster now).
    WorkerPipelined,
    /// A loopwire event loop with its own connection, pipelining (a RESP client in the loops).
    InLoop,
}

impl Path {
    /// Every path, in the order the probe runs them.
    pub const ALL: [Path; 4] = [
        Path::Direct,
        Path::WorkerSingle,
        Path::WorkerPipelined,
        Path::InLoop,
    ];

    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct (caller's thread)",
            Path::WorkerSingle => "worker, one job per round trip (before)",
            Path::WorkerPipelined => "worker, queue drained into a pipeline (now)",
            Path::InLoop => "in-loop RESP client (loopwire dial)",
        }
    }
}

/// What [`measure`] found for one path.
#[derive(Debug, Clone, Copy)]
pub struct PathStats {
    /// Calls completed per second.
    pub calls_per_sec: f64,
    /// Median call latency.
    pub p50: Duration,
    /// 99th percentile call latency.
    pub p99: Duration,
    /// CPU time of this process (every thread) per call.
    pub cpu_per_call: Duration,
    /// CPU time of the Redis server per call.
    pub redis_cpu_per_call: Duration,
}

/// One run's raw figures.
pub(crate) struct Measured {
    pub(crate) lat: Vec<Duration>,
    pub(crate) total: Duration,
    pub(crate) failed: usize,
    pub(crate) cpu: Duration,
    pub(crate) redis_cpu: Duration,
}

impl Measured {
    fn stats(mut self) -> Result<PathStats, Box<dyn std::error::Error>> {
        if self.failed > 0 || self.lat.is_empty() {
            return Err(format!("{} calls failed", self.failed).into());
        }
        self.lat.sort_unstable();
        let n = self.lat.len();
        let at = |q: f64| self.lat[((n as f64 * q) as usize).min(n - 1)];
        let per = |d: Duration| d / u32::try_from(n).unwrap_or(u32::MAX);
        Ok(PathStats {
            calls_per_sec: n as f64 / self.total.as_secs_f64().max(1e-9),
            p50: at(0.5),
            p99: at(0.99),
            cpu_per_call: per(self.cpu),
            redis_cpu_per_call: per(self.redis_cpu),
        })
    }
}

/// Users (queues and registry hashes) the calls spread over.
const USERS: usize = 1000;

/// The command of call `i`: the QoS1 put script, a `PUBLISH` to a node's channel, or a
/// registry `HSET`, in turn, with the gateway's arguments (a 64-byte envelope, a cap of 100).
pub(crate) fn command(i: usize) -> redis::Cmd {
    let user = format!("probe{}", i % USERS);
    let envelope = &b"payload of sixty-four bytes, about what a small push carries....."[..];
    let mut c = redis::Cmd::new();
    match i % 3 {
        0 => {
            c.arg("EVAL")
                .arg(keys::PUT)
                .arg(2)
                .arg("lw:probe:seq")
                .arg(keys::queue(user.as_bytes()))
                .arg(u64::MAX / 2)
                .arg(60_000)
                .arg(envelope)
                .arg(100)
                .arg(0);
        }
        1 => {
            c.arg("PUBLISH").arg(keys::channel("probe")).arg(envelope);
        }
        _ => {
            c.arg("HSET")
                .arg(keys::user(user.as_bytes()))
                .arg("probe-node")
                .arg("1 9999999999999");
        }
    }
    c
}

/// `calls` calls on the Redis at `url` through `path`, `in_flight` outstanding.
///
/// # Errors
/// A Redis error, a failed call, or a worker or loop that could not start.
pub fn measure(
    url: &str,
    path: Path,
    calls: usize,
    in_flight: usize,
) -> Result<PathStats, Box<dyn std::error::Error>> {
    let client = redis::Client::open(url)?;
    let mut conn = link::connect(&client)?;
    let (calls, in_flight) = (calls.max(1), in_flight.max(1));
    let m = match path {
        Path::Direct => direct(&mut conn, calls, in_flight)?,
        Path::WorkerSingle => worker(client, &mut conn, calls, in_flight, 1)?,
        Path::WorkerPipelined => worker(client, &mut conn, calls, in_flight, link::MAX_BATCH)?,
        Path::InLoop => {
            let info = client.get_connection_info();
            let addr = match info.addr() {
                redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
                other => {
                    return Err(format!("the in-loop client dials TCP only, not {other}").into());
                }
            };
            inloop::measure(&addr, calls, in_flight, &mut conn)?
        }
    };
    m.stats()
}

/// The calling thread: pipelines of `in_flight` commands, one round trip each.
fn direct(
    conn: &mut redis::Connection,
    calls: usize,
    in_flight: usize,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let mut lat = Vec::with_capacity(calls);
    let (cpu0, redis0) = (cpu::process(), cpu::redis(conn)?);
    let t0 = Instant::now();
    let mut i = 0;
    while i < calls {
        let n = in_flight.min(calls - i);
        let t = Instant::now();
        if n == 1 {
            command(i).query::<redis::Value>(conn)?.extract_error()?;
        } else {
            let mut p = redis::pipe();
            for k in i..i + n {
                p.add_command(command(k));
            }
            p.query::<Vec<redis::Value>>(conn)?;
        }
        let d = t.elapsed();
        lat.extend(std::iter::repeat_n(d, n));
        i += n;
    }
    let total = t0.elapsed();
    let cpu = cpu::process().saturating_sub(cpu0);
    let redis_cpu = cpu::redis(conn)?.saturating_sub(redis0);
    Ok(Measured {
        lat,
        total,
        failed: 0,
        cpu,
        redis_cpu,
    })
}

/// Through a `Link` worker draining `batch` jobs at most; one submitting thread keeps
/// `in_flight` calls outstanding and takes each answer from a channel.
fn worker(
    client: redis::Client,
    conn: &mut redis::Connection,
    calls: usize,
    in_flight: usize,
    batch: usize,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let stop = Arc::new(AtomicBool::new(false));
    let (link, handle) = Link::start(client, 65_536, batch, Arc::clone(&stop))?;
    let end = Instant::now() + Duration::from_secs(5);
    while !link.is_up() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (tx, rx) = mpsc::channel::<(Instant, bool)>();
    let mut lat = Vec::with_capacity(calls);
    let (mut sent, mut failed) = (0, 0);
    let (cpu0, redis0) = (cpu::process(), cpu::redis(conn)?);
    let t0 = Instant::now();
    while lat.len() + failed < calls {
        while sent < calls && sent - lat.len() - failed < in_flight {
            let (tx, start, cmd) = (tx.clone(), Instant::now(), command(sent));
            if batch == 1 {
                link.submit(Box::new(move |conn| {
                    let ok = match conn {
                        Some(conn) => cmd.query::<redis::Value>(conn).is_ok(),
                        None => false,
                    };
                    let _ = tx.send((start, ok));
                    Ok(())
                }));
            } else {
                link.submit_batch(Box::new(move |p| {
                    let Some(p) = p else {
                        let _ = tx.send((start, false));
                        return None;
                    };
                    p.add_command(cmd);
                    Some(Box::new(move |r| {
                        let _ = tx.send((start, link::all_ok(r).is_ok()));
                    }))
                }));
            }
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
    let cpu = cpu::process().saturating_sub(cpu0);
    let redis_cpu = cpu::redis(conn)?.saturating_sub(redis0);
    stop.store(true, Relaxed);
    drop(link);
    let _ = handle.join();
    Ok(Measured {
        lat,
        total,
        failed,
        cpu,
        redis_cpu,
    })
}

/// One row of [`compare`]: a path at an `in_flight`, the medians over the rounds.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The path.
    pub path: Path,
    /// Calls outstanding.
    pub in_flight: usize,
    /// Median of each figure over the rounds (each figure's own median).
    pub median: PathStats,
    /// The lowest and highest calls per second of a round.
    pub calls_per_sec_range: (f64, f64),
}

/// `rounds` rounds of every path at every `in_flight` of `levels`, interleaved (round 1 of
/// all, then round 2 of all, ...), `calls` calls each; returns the medians.
///
/// # Errors
/// The first measurement that failed.
pub fn compare(
    url: &str,
    calls: usize,
    levels: &[usize],
    rounds: usize,
) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let mut runs: Vec<(Path, usize, Vec<PathStats>)> = Path::ALL
        .iter()
        .flat_map(|&p| levels.iter().map(move |&k| (p, k, Vec::new())))
        .collect();
    for _ in 0..rounds.max(1) {
        for (path, k, got) in &mut runs {
            got.push(measure(url, *path, calls, *k)?);
        }
    }
    cleanup(url)?;
    Ok(runs
        .into_iter()
        .map(|(path, in_flight, got)| Row {
            path,
            in_flight,
            calls_per_sec_range: got.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), s| {
                (lo.min(s.calls_per_sec), hi.max(s.calls_per_sec))
            }),
            median: PathStats {
                calls_per_sec: median_by(&got, |s| s.calls_per_sec),
                p50: Duration::from_secs_f64(median_by(&got, |s| s.p50.as_secs_f64())),
                p99: Duration::from_secs_f64(median_by(&got, |s| s.p99.as_secs_f64())),
                cpu_per_call: Duration::from_secs_f64(median_by(&got, |s| {
                    s.cpu_per_call.as_secs_f64()
                })),
                redis_cpu_per_call: Duration::from_secs_f64(median_by(&got, |s| {
                    s.redis_cpu_per_call.as_secs_f64()
                })),
            },
        })
        .collect())
}

fn median_by(got: &[PathStats], f: impl Fn(&PathStats) -> f64) -> f64 {
    let mut v: Vec<f64> = got.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Deletes the probe's keys.
fn cleanup(url: &str) -> redis::RedisResult<()> {
    let mut conn = link::connect(&redis::Client::open(url)?)?;
    let mut p = redis::pipe();
    p.cmd("DEL").arg("lw:probe:seq").ignore();
    for u in 0..USERS {
        let user = format!("probe{u}");
        p.cmd("DEL")
            .arg(keys::queue(user.as_bytes()))
            .arg(keys::user(user.as_bytes()))
            .ignore();
    }
    let _ = conn.req_packed_commands(&p.get_packed_pipeline(), 0, p.len())?;
    Ok(())
}

/// `rows` as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut out = String::from(
        "| path | in flight | calls/s | (rounds) | p50 µs | p99 µs | CPU µs/call (client) | CPU µs/call (redis) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let m = &r.median;
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0}–{:.0} | {:.0} | {:.0} | {:.2} | {:.2} |\n",
            r.path.name(),
            r.in_flight,
            m.calls_per_sec,
            r.calls_per_sec_range.0,
            r.calls_per_sec_range.1,
            us(m.p50),
            us(m.p99),
            us(m.cpu_per_call),
            us(m.redis_cpu_per_call),
        ));
    }
    out
}

#[cfg(test)]
mod tests;

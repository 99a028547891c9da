//! RESP: `redis-benchmark -c 50 --csv`, tests SET and GET one at a time, at `-P 1` and
//! `-P 16`, against loopwire's `resp` on every backend it offers (`resp --list-backends`), with
//! 1 and 2 loops each, the peers `tokio_resp` (tokio's multi-thread runtime) and `mio_resp`
//! (a hand-written mio loop per thread), and `redis-server` (one main thread, no persistence).
//! redis-benchmark counts requests, not seconds: each run is sized to last about `--secs`
//! (20 000 requests a second at `-P 1`, 200 000 at `-P 16`).
//!
//! The peers serve loopwire-resp's own parser, commands and store (`loopwire_resp::serve`,
//! which loopwire's handler drives too), so a row differs from loopwire's only in its I/O
//! layer. They run with the same thread counts as loopwire's rows, 1 and 2 (loopwire's loops
//! are fixed at 1 and 2 here, `--threads` does not change them): the 1-thread rows compare
//! one event loop with one event loop (and with redis-server's one main thread), the 2-thread
//! rows what a second core buys each. (tokio's runtime with 1 worker accepts on the thread
//! that started it; accepting is rare in these runs, 50 connections per run.)

use std::process::Command;

use crate::Error;
use crate::loads::{Settings, per_backend};
use crate::parse::{self, ToolReport};
use crate::rounds::{Plan, Samples, run};
use crate::server::{Server, Spec};
use crate::tools;

/// The RESP servers: loopwire per backend with 1 loop, then with 2, tokio and mio with 1 thread,
/// then with 2, then redis-server.
///
/// # Errors
/// When `resp --list-backends` cannot be run or names none.
pub fn servers(s: &Settings) -> Result<Vec<Spec>, Error> {
    let addr = ["--addr", "127.0.0.1:0"];
    let mut v = per_backend(s, "resp", ", 1 loop", &[addr[0], addr[1], "--loops", "1"])?;
    v.extend(per_backend(
        s,
        "resp",
        ", 2 loops",
        &[addr[0], addr[1], "--loops", "2"],
    )?);
    for (threads, label) in [("1", "1 thread"), ("2", "2 threads")] {
        v.push(Spec::new(
            &format!("tokio ({label})"),
            &[&s.bin("tokio_resp"), addr[0], addr[1], "--threads", threads],
        ));
        v.push(Spec::new(
            &format!("mio ({label})"),
            &[&s.bin("mio_resp"), addr[0], addr[1], "--threads", threads],
        ));
    }
    v.push(Spec::new(
        "redis-server",
        &[
            "redis-server",
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    ));
    v.extend(s.peers.iter().cloned());
    Ok(v)
}

/// One case: a redis-benchmark test and its pipeline depth.
#[derive(Debug, Clone, Copy)]
struct Case {
    test: &'static str,
    pipeline: u32,
}

/// One redis-benchmark run of `requests` requests.
fn redis_benchmark(server: &Server, c: Case, requests: u64) -> Result<ToolReport, Error> {
    let out = Command::new("redis-benchmark")
        .args(["-h", &server.addr.ip().to_string()])
        .args(["-p", &server.addr.port().to_string()])
        .args(["-c", "50", "-n", &requests.to_string()])
        .args(["-P", &c.pipeline.to_string()])
        .args(["-t", c.test, "--csv"])
        .output()
        .map_err(|e| Error::io("cannot run redis-benchmark", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse::redis_csv(&text, c.test, requests)
        .ok_or_else(|| Error::msg(format!("redis-benchmark reported nothing: {}", text.trim())))
}

/// Runs the RESP load into `samples` (installing redis-server and redis-tools if missing).
///
/// # Errors
/// Tools missing, a server that does not start, a run without a result.
pub fn bench(s: &Settings, samples: &mut Samples) -> Result<(), Error> {
    tools::need_tools(
        &["redis-server", "redis-tools"],
        &["redis-server", "redis-benchmark"],
    )?;
    let mut cases = Vec::new();
    for pipeline in [1u32, 16] {
        for test in ["SET", "GET"] {
            cases.push((
                format!("resp {test} -P {pipeline}"),
                Case { test, pipeline },
            ));
        }
    }
    let requests = |c: &Case| s.secs.max(1) * if c.pipeline > 1 { 200_000 } else { 20_000 };
    let plan = Plan {
        load: "resp",
        servers: servers(s)?,
        cases,
        warm_up: &|server| {
            let _ = redis_benchmark(
                server,
                Case {
                    test: "SET",
                    pipeline: 1,
                },
                10_000,
            );
        },
        measure: &|server, c| redis_benchmark(server, *c, requests(c)),
    };
    run(&plan, s.rounds, samples)
}

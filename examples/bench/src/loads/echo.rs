//! Echo: `loadgen` (50 connections, 512 B messages, 2 threads) against loopwire's echo on every
//! backend this build offers (`echo --list-backends`, then `echo --backend NAME`), tokio's
//! (`tokio_echo`), a hand-written mio loop (`mio_echo`) and a raw libc epoll loop
//! (`epoll_echo`), with 1 and 16 messages in flight per connection.

use std::process::Command;

use crate::Error;
use crate::loads::{Settings, per_backend};
use crate::parse::{self, ToolReport};
use crate::rounds::{Plan, Samples, run};
use crate::server::{Server, Spec};

/// The echo servers: loopwire per backend, then tokio, mio and raw epoll.
///
/// # Errors
/// When `echo --list-backends` cannot be run or names none.
pub fn servers(s: &Settings) -> Result<Vec<Spec>, Error> {
    let t = s.threads.to_string();
    let mut v = per_backend(
        s,
        "echo",
        "",
        &["--addr", "tcp://127.0.0.1:0", "--loops", &t],
    )?;
    v.push(Spec::new(
        "tokio",
        &[
            &s.bin("tokio_echo"),
            "--addr",
            "127.0.0.1:0",
            "--threads",
            &t,
        ],
    ));
    v.push(Spec::new(
        "mio (hand-written)",
        &[&s.bin("mio_echo"), "--addr", "127.0.0.1:0", "--threads", &t],
    ));
    v.push(Spec::new(
        "epoll (hand-written, libc)",
        &[
            &s.bin("epoll_echo"),
            "--addr",
            "127.0.0.1:0",
            "--threads",
            &t,
        ],
    ));
    v.extend(s.peers.iter().cloned());
    Ok(v)
}

/// One loadgen run: `secs` measured after `warmup` seconds; the report's operation count
/// covers the warm-up too, since the server's CPU is read around the whole run.
fn loadgen(
    s: &Settings,
    server: &Server,
    pipeline: u32,
    secs: u64,
    warmup: u64,
) -> Result<ToolReport, Error> {
    let out = Command::new(s.bin("loadgen"))
        .args(["--addr", &server.addr.to_string()])
        .args(["--conns", "50", "--size", "512"])
        .args(["--pipeline", &pipeline.to_string()])
        .args(["--duration", &secs.to_string()])
        .args(["--warmup", &warmup.to_string()])
        .args(["--threads", &s.threads.to_string()])
        .output()
        .map_err(|e| Error::io("cannot run loadgen", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut r = text
        .lines()
        .find_map(|l| parse::loadgen(l, secs as f64))
        .ok_or_else(|| Error::msg(format!("loadgen reported nothing: {}", text.trim())))?;
    r.ops = r.ops_per_sec * (secs + warmup) as f64;
    Ok(r)
}

/// Runs the echo load into `samples`.
///
/// # Errors
/// A server that does not start, a loadgen run without a result.
pub fn bench(s: &Settings, samples: &mut Samples) -> Result<(), Error> {
    let plan = Plan {
        load: "echo",
        servers: servers(s)?,
        cases: [1u32, 16]
            .into_iter()
            .map(|p| (format!("echo -P {p}"), p))
            .collect(),
        warm_up: &|_| {},
        measure: &|server, &p| loadgen(s, server, p, s.secs, 1),
    };
    run(&plan, s.rounds, samples)
}

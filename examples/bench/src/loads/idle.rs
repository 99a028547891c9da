//! Idle memory: a second process (`loadgen --idle N`) opens N connections that send nothing;
//! the server's RSS growth (`VmRSS`, which excludes the kernel's socket buffers) divided by N,
//! for loopwire's echo on every backend this build offers (as the echo load), tokio's and the
//! hand-written mio loop. `--rounds` measurements per server, interleaved (the order reversed
//! every other round), and their median.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Error;
use crate::loads::Settings;
use crate::procfs;
use crate::server::{Server, Spec};

/// The servers whose idle memory is measured: the echo load's (loopwire on each backend,
/// tokio, the hand-written mio loop) but the raw epoll loop, then the peers.
///
/// # Errors
/// When `echo --list-backends` cannot be run or names none.
pub fn servers(s: &Settings) -> Result<Vec<Spec>, Error> {
    let mut v: Vec<Spec> = crate::loads::echo::servers(&Settings {
        peers: Vec::new(),
        ..s.clone()
    })?
    .into_iter()
    .filter(|spec| !spec.name.starts_with("epoll"))
    .collect();
    v.extend(s.peers.iter().cloned());
    Ok(v)
}

/// Bytes of server RSS per idle connection for `spec`.
fn measure(s: &Settings, spec: &Spec) -> Result<f64, Error> {
    let server = Server::start(spec)?;
    let before = procfs::rss_kib(server.pid()).map_err(|e| Error::io("RSS", e))?;
    let mut lg = Command::new(s.bin("loadgen"))
        .args(["--addr", &server.addr.to_string()])
        .args(["--idle", &s.idle_conns.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("cannot run loadgen", e))?;
    // loadgen holds the connections until its stdin closes; it says `idle_ready` once all
    // are open.
    let ready = lg
        .stdout
        .take()
        .map(|o| {
            BufReader::new(o)
                .lines()
                .map_while(Result::ok)
                .any(|l| l.starts_with("idle_ready"))
        })
        .unwrap_or(false);
    std::thread::sleep(Duration::from_secs(1));
    let after = procfs::rss_kib(server.pid());
    drop(lg.stdin.take());
    let _ = lg.wait();
    server.stop();
    if !ready {
        return Err(Error::msg(format!(
            "{}: loadgen --idle did not get ready",
            spec.name
        )));
    }
    let after = after.map_err(|e| Error::io("RSS", e))?;
    Ok(after.saturating_sub(before) as f64 * 1024.0 / s.idle_conns.max(1) as f64)
}

/// Measures every server `--rounds` times, interleaved: `(name, median bytes per idle
/// connection)`, with a progress line per measurement.
///
/// # Errors
/// A server that does not start, loadgen failing.
pub fn bench(s: &Settings) -> Result<Vec<(String, f64)>, Error> {
    let specs = servers(s)?;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); specs.len()];
    for round in 0..s.rounds.max(1) {
        let mut order: Vec<usize> = (0..specs.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let b = measure(s, &specs[i])?;
            eprintln!(
                "[idle] round {}: {}: {b:.0} bytes per idle connection",
                round + 1,
                specs[i].name
            );
            samples[i].push(b);
        }
    }
    Ok(specs
        .iter()
        .zip(samples)
        .map(|(spec, v)| (spec.name.clone(), crate::report::median(v).unwrap_or(0.0)))
        .collect())
}

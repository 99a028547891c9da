//! Idle memory: a second process (`loadgen --idle N`) opens N connections that send nothing;
//! the server's RSS growth (`VmRSS`, which excludes the kernel's socket buffers) divided by N,
//! for loopwire's echo, tokio's and the hand-written mio loop. One measurement per server
//! (memory does not drift as throughput does).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Error;
use crate::loads::Settings;
use crate::procfs;
use crate::server::{Server, Spec};

/// The servers whose idle memory is measured.
pub fn servers(s: &Settings) -> Vec<Spec> {
    let t = s.threads.to_string();
    let mut v = vec![
        Spec::new(
            "loopwire",
            &[&s.bin("echo"), "--addr", "tcp://127.0.0.1:0", "--loops", &t],
        ),
        Spec::new(
            "tokio",
            &[
                &s.bin("tokio_echo"),
                "--addr",
                "127.0.0.1:0",
                "--threads",
                &t,
            ],
        ),
        Spec::new(
            "mio (hand-written)",
            &[&s.bin("mio_echo"), "--addr", "127.0.0.1:0", "--threads", &t],
        ),
    ];
    v.extend(s.peers.iter().cloned());
    v
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

/// Measures every server: `(name, bytes per idle connection)`, with a progress line each.
///
/// # Errors
/// A server that does not start, loadgen failing.
pub fn bench(s: &Settings) -> Result<Vec<(String, f64)>, Error> {
    let mut out = Vec::new();
    for spec in servers(s) {
        let b = measure(s, &spec)?;
        eprintln!("[idle] {}: {b:.0} bytes per idle connection", spec.name);
        out.push((spec.name.clone(), b));
    }
    Ok(out)
}

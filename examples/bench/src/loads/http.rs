//! HTTP plaintext: `wrk -t1 -c100 --latency` on `GET /plaintext` against loopwire's `http`
//! on every backend it offers (`http --list-backends`), the tokio peer `tokio_http`, the
//! hand-written mio peer `mio_http` (both serve loopwire-http's parser, routes and responses:
//! only the I/O layer differs), hyper on tokio (`hyper_http`, the same routes as a hyper user
//! writes them) and `may_minihttp` (`may_http`), every one with `--threads` threads, without
//! pipelining and 16 requests per write (TechEmpower's `pipeline.lua`, written to a temporary
//! file).

use std::path::Path;
use std::process::Command;

use crate::Error;
use crate::loads::{Settings, per_backend};
use crate::parse::{self, ToolReport};
use crate::rounds::{Plan, Samples, run};
use crate::server::{Server, Spec};
use crate::tools;

/// The HTTP servers: loopwire per backend, then tokio, mio, hyper and may_minihttp.
///
/// # Errors
/// When `http --list-backends` cannot be run or names none.
pub fn servers(s: &Settings) -> Result<Vec<Spec>, Error> {
    let t = s.threads.to_string();
    let mut v = per_backend(s, "http", "", &["--addr", "127.0.0.1:0", "--loops", &t])?;
    v.extend([
        Spec::new(
            "tokio",
            &[
                &s.bin("tokio_http"),
                "--addr",
                "127.0.0.1:0",
                "--threads",
                &t,
            ],
        ),
        Spec::new(
            "mio",
            &[&s.bin("mio_http"), "--addr", "127.0.0.1:0", "--threads", &t],
        ),
        Spec::new(
            "hyper",
            &[
                &s.bin("hyper_http"),
                "--addr",
                "127.0.0.1:0",
                "--threads",
                &t,
            ],
        ),
        Spec::new(
            "may_minihttp",
            &[&s.bin("may_http"), "--port", "{port}", "--threads", &t],
        ),
    ]);
    v.extend(s.peers.iter().cloned());
    Ok(v)
}

/// One wrk run of `secs` seconds, `pipeline` requests per write.
fn wrk(server: &Server, pipeline: u32, secs: u64, lua: &Path) -> Result<ToolReport, Error> {
    let url = format!("http://{}/plaintext", server.addr);
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c100", &format!("-d{secs}s"), "--latency"]);
    if pipeline > 1 {
        cmd.arg("-s")
            .arg(lua)
            .arg(&url)
            .args(["--", &pipeline.to_string()]);
    } else {
        cmd.arg(&url);
    }
    let out = cmd.output().map_err(|e| Error::io("cannot run wrk", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        eprintln!(
            "    wrk: {}",
            text.lines()
                .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    parse::wrk(&text).ok_or_else(|| Error::msg(format!("wrk reported nothing: {}", text.trim())))
}

/// Runs the HTTP load into `samples` (installing wrk if missing).
///
/// # Errors
/// wrk missing, a server that does not start, a wrk run without a result.
pub fn bench(s: &Settings, samples: &mut Samples) -> Result<(), Error> {
    tools::need_tools(&["wrk"], &["wrk"])?;
    let lua = tools::write_pipeline_lua()?;
    let plan = Plan {
        load: "http",
        servers: servers(s)?,
        cases: [1u32, 16]
            .into_iter()
            .map(|p| (format!("http -P {p}"), p))
            .collect(),
        warm_up: &|server| {
            let _ = wrk(server, 1, 1, &lua);
        },
        measure: &|server, &p| wrk(server, p, s.secs, &lua),
    };
    let result = run(&plan, s.rounds, samples);
    let _ = std::fs::remove_file(&lua);
    result
}

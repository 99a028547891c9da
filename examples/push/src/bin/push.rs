//! Push gateway: long-lived client connections with heartbeats, rooms and acknowledged
//! delivery. The protocol is described in `loopwire_push`.
//!
//! ```sh
//! cargo run --release -p loopwire-push --bin push -- --addr 127.0.0.1:7000 --loops 2 \
//!     --heartbeat-secs 30 --admin --stats-secs 5
//! ```
//! Prints `session_state_bytes=N` and `listening on <url>` once ready; with `--stats-secs`
//! a `stats key=value ...` line every so often; a last `stats` line when SIGINT/SIGTERM stop
//! it gracefully.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use loopwire::Engine;
use loopwire_examples::cli::Context;
use loopwire_push::{Config, Gateway, Session};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire push gateway (long connections, heartbeats, rooms, acked delivery)")]
struct Args {
    /// Address to serve: host:port (TCP) or a URL (tcp://host:port, unix:///path).
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: String,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
    /// Heartbeat interval clients must keep, in seconds (closed after 1.5 times that).
    #[arg(long, default_value = "30", value_parser = heartbeat)]
    heartbeat_secs: Duration,
    /// Most unacknowledged messages per session.
    #[arg(long, default_value_t = Config::default().window)]
    window: usize,
    /// Longest frame in bytes, length field included.
    #[arg(long, default_value_t = Config::default().max_frame)]
    max_frame: usize,
    /// Accept PUBLISH frames from clients (for the load generator; keep off in production).
    #[arg(long)]
    admin: bool,
    /// Print a stats line every this many seconds (0: only at exit).
    #[arg(long, default_value = "0", value_parser = loopwire_examples::cli::secs)]
    stats_secs: Duration,
}

/// A heartbeat interval: more than 0 and at most what WELCOME can carry (`u32` milliseconds,
/// about 49 days).
fn heartbeat(s: &str) -> Result<Duration, String> {
    let d = loopwire_examples::cli::positive_secs(s)?;
    if d.as_millis() > u128::from(u32::MAX) {
        return Err(format!("at most {} seconds", u32::MAX / 1000));
    }
    Ok(d)
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), loopwire_examples::cli::BoxError> {
    loopwire_examples::init_tracing();
    let url = loopwire_examples::tcp_url(&args.addr);
    let mut config = Config::with_heartbeat(args.heartbeat_secs);
    config.window = args.window.clamp(1, usize::from(u16::MAX));
    config.max_frame = args.max_frame;
    config.admin = args.admin;
    let gateway = Arc::new(
        Gateway::new(config).context(|| format!("cannot use --max-frame {}", args.max_frame))?,
    );
    let mut builder = Engine::builder();
    args.engine.apply(builder.addr(url));
    gateway.configure(&mut builder);
    let engine = builder.start(Arc::clone(&gateway))?;
    println!("session_state_bytes={}", std::mem::size_of::<Session>());
    loopwire_examples::announce(&engine, "")?;

    let done = Arc::new(AtomicBool::new(false));
    let reporter = if args.stats_secs.is_zero() {
        None
    } else {
        let (gateway, done) = (Arc::clone(&gateway), Arc::clone(&done));
        let every = args.stats_secs;
        let thread = std::thread::Builder::new()
            .name("stats".into())
            .spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::park_timeout(every);
                    println!("stats {} rooms={}", gateway.stats(), gateway.rooms());
                }
            })
            .context(|| "cannot start the stats thread")?;
        Some(thread)
    };
    engine.wait();
    done.store(true, Ordering::Relaxed);
    if let Some(r) = reporter {
        r.thread().unpark();
        let _ = r.join();
    }
    println!("stats {} rooms={}", gateway.stats(), gateway.rooms());
    Ok(())
}

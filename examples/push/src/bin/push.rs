//! Push gateway: long-lived client connections with heartbeats, rooms and acknowledged
//! delivery. The protocol is described in `loopwire_push`.
//!
//! ```sh
//! cargo run --release -p loopwire-examples --bin push -- --addr 127.0.0.1:7000 --loops 2 \
//!     --heartbeat-secs 30 --admin --stats-secs 5
//! ```
//! Prints `session_state_bytes=N` and `listening on <url>` once ready; with `--stats-secs`
//! a `stats key=value ...` line every so often; a last `stats` line when SIGINT/SIGTERM stop
//! it gracefully.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use loopwire::Engine;
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
    #[arg(long, default_value_t = 30.0)]
    heartbeat_secs: f64,
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
    #[arg(long, default_value_t = 0.0)]
    stats_secs: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    loopwire_examples::init_tracing();
    let args = Args::parse();
    let url = loopwire_examples::tcp_url(&args.addr);
    if !(args.heartbeat_secs > 0.0 && args.heartbeat_secs.is_finite()) {
        return Err("--heartbeat-secs must be positive".into());
    }
    let mut config = Config::with_heartbeat(Duration::from_secs_f64(args.heartbeat_secs));
    config.window = args.window.clamp(1, usize::from(u16::MAX));
    config.max_frame = args.max_frame;
    config.admin = args.admin;
    let gateway = Arc::new(Gateway::new(config)?);
    let mut builder = Engine::builder();
    args.engine.apply(builder.addr(url));
    gateway.configure(&mut builder);
    let engine = builder.start(Arc::clone(&gateway))?;
    println!("session_state_bytes={}", std::mem::size_of::<Session>());
    loopwire_examples::announce(&engine, "")?;

    let done = Arc::new(AtomicBool::new(false));
    let reporter = (args.stats_secs > 0.0 && args.stats_secs.is_finite()).then(|| {
        let (gateway, done) = (Arc::clone(&gateway), Arc::clone(&done));
        let every = Duration::from_secs_f64(args.stats_secs);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::park_timeout(every);
                println!("stats {} rooms={}", gateway.stats(), gateway.rooms());
            }
        })
    });
    engine.wait();
    done.store(true, Ordering::Relaxed);
    if let Some(r) = reporter {
        r.thread().unpark();
        let _ = r.join();
    }
    println!("stats {} rooms={}", gateway.stats(), gateway.rooms());
    Ok(())
}

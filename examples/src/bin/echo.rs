//! Echo server: writes back every byte it receives, over TCP, UDP or Unix sockets.
//!
//! ```sh
//! cargo run --release -p loopwire-examples --bin echo -- --addr tcp://127.0.0.1:9000 --loops 2
//! ```
//! Prints `listening on <url>` per bound address once ready; SIGINT/SIGTERM stop it gracefully.

use clap::Parser;
use loopwire::{Action, Conn, Engine, EventHandler, LoadBalance};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire echo server")]
struct Args {
    /// Address to serve (repeatable): tcp://host:port, udp://host:port, unix:///path.
    #[arg(long = "addr", default_value = "tcp://127.0.0.1:9000")]
    addrs: Vec<String>,
    /// Event loops (0 = one per core).
    #[arg(long, default_value_t = 0)]
    loops: usize,
    /// Load balancer: round-robin, random, least-conn, source-hash, consistent-hash.
    #[arg(long, default_value = "round-robin")]
    lb: LoadBalance,
    /// Every loop accepts on its own SO_REUSEPORT listener.
    #[arg(long)]
    reuse_port: bool,
    /// Keep polling this many microseconds after each burst before sleeping (0: off).
    #[arg(long, default_value_t = 0)]
    busy_poll_us: u64,
}

/// Writes back what arrives.
struct Echo;

impl EventHandler for Echo {
    type State = ();

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        Action::None
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    loopwire_examples::init_tracing();
    let args = Args::parse();
    let mut builder = Engine::builder();
    for a in &args.addrs {
        builder.addr(a.as_str());
    }
    let engine = builder
        .loops(args.loops)
        .load_balance(args.lb)
        .reuse_port(args.reuse_port)
        .busy_poll(std::time::Duration::from_micros(args.busy_poll_us))
        .start(Echo)?;
    loopwire_examples::announce(&engine, "")?;
    engine.wait();
    Ok(())
}

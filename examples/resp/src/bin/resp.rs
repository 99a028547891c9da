//! RESP key-value server: a small Redis (strings, lists, sets, hashes, sorted sets, expiry;
//! no persistence) that
//! `redis-cli` and `redis-benchmark` talk to. The commands are listed in
//! `loopwire_resp::command`.
//!
//! ```sh
//! cargo run --release -p loopwire-resp --bin resp -- --addr 127.0.0.1:6380 --loops 2
//! redis-benchmark -p 6380 -q -t ping,set,get -n 100000 -c 50 -P 16
//! ```
//! Prints `listening on <url>` once ready; SIGINT/SIGTERM stop it gracefully. `--backend NAME`
//! picks the engine's backend; `--list-backends` prints the ones this build offers and exits.

use std::process::ExitCode;

use clap::Parser;
use loopwire::Engine;
use loopwire_resp::{Limits, Resp};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire RESP (Redis protocol) key-value server")]
struct Args {
    /// Address to serve: host:port (TCP) or a URL (tcp://host:port, unix:///path).
    #[arg(long, default_value = "127.0.0.1:6380")]
    addr: String,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
    /// Longest bulk string (argument) accepted, in bytes (Redis: 512 MiB).
    #[arg(long, default_value_t = Limits::default().max_bulk)]
    max_bulk: usize,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), loopwire_examples::cli::BoxError> {
    if let Some(list) = args.engine.backend_list() {
        print!("{list}");
        return Ok(());
    }
    loopwire_examples::init_tracing();
    let url = loopwire_examples::tcp_url(&args.addr);
    let server = Resp::new(Limits {
        max_bulk: args.max_bulk,
        ..Limits::default()
    });
    let mut builder = Engine::builder();
    args.engine.apply(builder.addr(url));
    server.configure(&mut builder);
    let engine = builder.start(server)?;
    loopwire_examples::announce(&engine, "")?;
    engine.wait();
    Ok(())
}

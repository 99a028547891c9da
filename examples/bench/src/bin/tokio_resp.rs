//! Peer for the RESP benchmark: loopwire's RESP server (a small Redis) on tokio's multi-thread
//! runtime, one task per connection.
//!
//! The protocol is `loopwire_bench::peer::resp`: loopwire-resp's parser, commands, shared store
//! and expiry sweep, through `loopwire_resp::serve`, the entry point loopwire's own handler
//! uses; the I/O layer is `loopwire_bench::peer::tokio_loop` (the sweep is a task).
//! `mio_resp` serves the same protocol on mio.
//!
//! `tokio_resp --addr 127.0.0.1:6381 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::process::ExitCode;

use clap::Parser;
use loopwire_bench::peer::{resp::Resp, tokio_loop};
use loopwire_examples::cli::BoxError;
use loopwire_resp::Limits;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6381")]
    addr: String,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Longest bulk string (argument) accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_bulk)]
    max_bulk: usize,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let limits = Limits {
        max_bulk: args.max_bulk,
        ..Limits::default()
    };
    tokio_loop::run(Resp::new(limits), &args.addr, args.threads)?;
    Ok(())
}

//! Peer for the RESP benchmark: loopwire's RESP server (a small Redis) written by hand on mio,
//! one event loop per thread, each accepting on its own `SO_REUSEPORT` listener (as
//! `mio_echo`).
//!
//! The protocol is `loopwire_bench::peer::resp`: loopwire-resp's parser, commands, shared store
//! and expiry sweep, through `loopwire_resp::serve`, the entry point loopwire's own handler
//! uses; the I/O layer is `loopwire_bench::peer::mio_loop` (loop 0 runs the sweep).
//! `tokio_resp` serves the same protocol on tokio.
//!
//! `mio_resp --addr 127.0.0.1:6382 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use loopwire_bench::peer::{mio_loop, resp::Resp};
use loopwire_examples::cli::BoxError;
use loopwire_resp::Limits;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6382")]
    addr: SocketAddr,
    /// Event-loop threads.
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
    mio_loop::run(Resp::new(limits), args.addr, args.threads)?;
    Ok(())
}

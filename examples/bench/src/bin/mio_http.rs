//! Peer for the HTTP benchmark: the same server (plaintext, JSON, echo) written by hand on mio,
//! one event loop per thread, each accepting on its own `SO_REUSEPORT` listener (as
//! `mio_echo`).
//!
//! The protocol is `loopwire_bench::peer::http` (loopwire-http's parser, routes, responses and
//! cached `Date`, as `tokio_http`), the I/O layer `loopwire_bench::peer::mio_loop`: pipelined
//! requests answered in order, keep-alive, a bad head answered with its status and the
//! connection closed, the slow-loris deadline.
//!
//! `mio_http --addr 127.0.0.1:8083 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loopwire_bench::peer::{http::Http, mio_loop};
use loopwire_examples::cli::BoxError;
use loopwire_http::parse::Limits;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8083")]
    addr: SocketAddr,
    /// Event-loop threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds a started request may take to arrive completely (slow-loris guard).
    #[arg(long, default_value_t = Limits::default().request_timeout.as_secs())]
    request_timeout: u64,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let limits = Limits {
        request_timeout: Duration::from_secs(args.request_timeout),
        ..Limits::default()
    };
    mio_loop::run(Http { limits }, args.addr, args.threads)?;
    Ok(())
}

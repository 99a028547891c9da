//! Peer for the HTTP benchmark: the same server (plaintext, JSON, echo) on tokio's
//! multi-thread runtime, one task per connection, written as a tokio user would without a
//! framework (no hyper).
//!
//! The protocol is `loopwire_bench::peer::http` (loopwire-http's parser, routes, responses and
//! cached `Date`), the I/O layer `loopwire_bench::peer::tokio_loop` (a read buffer, every
//! complete request in it answered into one output buffer sent with one `write_all`, the
//! slow-loris deadline on the reads); `mio_http` serves the same protocol on mio.
//!
//! `tokio_http --addr 127.0.0.1:8081 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loopwire_bench::peer::{http::Http, tokio_loop};
use loopwire_examples::cli::BoxError;
use loopwire_http::parse::Limits;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    addr: String,
    /// Runtime worker threads.
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
    tokio_loop::run(Http { limits }, &args.addr, args.threads)?;
    Ok(())
}

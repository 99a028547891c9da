//! Peer for the echo benchmark: an echo server on tokio's multi-thread runtime.
//!
//! `tokio_echo --addr 127.0.0.1:9001 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::process::ExitCode;

use clap::Parser;
use loopwire_bench::peer::tokio_loop;
use loopwire_examples::cli::BoxError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    addr: String,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    tokio_loop::accept_loop(
        &args.addr,
        args.threads,
        || {},
        |mut sock| async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if sock.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        },
    )?;
    Ok(())
}

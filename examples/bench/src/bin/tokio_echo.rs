//! Peer for the echo benchmark: an echo server on tokio's multi-thread runtime.
//!
//! `tokio_echo --addr 127.0.0.1:9001 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use loopwire_examples::cli::{BoxError, Context};
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context(|| "cannot start the tokio runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on tcp://{addr}")
            .and_then(|()| out.flush())
            .context(|| "cannot write to stdout")?;
        drop(out);
        loop {
            let (mut sock, _) = listener.accept().await.context(|| "cannot accept")?;
            // A peer that is already gone fails this; its reads end the task.
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
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
            });
        }
    })
}

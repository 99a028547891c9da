//! Peer for the HTTP load: `may_minihttp` (stackful coroutines on the `may` runtime, the
//! TechEmpower entry of the same name) answering `GET /plaintext` with `Hello, World!`; every
//! other request gets a 404.
//!
//! `may_http --port 8082 --threads 2`: may_minihttp cannot bind port 0 and report it, so the
//! harness picks a free port; prints `listening on tcp://127.0.0.1:PORT` once bound.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use loopwire_examples::cli::{BoxError, Context};
use may_minihttp::{HttpServer, HttpService, Request, Response};

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 8082)]
    port: u16,
    /// may's worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// The plaintext service.
#[derive(Debug, Clone)]
struct Plaintext;

impl HttpService for Plaintext {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        if req.path() == "/plaintext" || req.path() == "/" {
            rsp.header("Content-Type: text/plain").body("Hello, World!");
        } else {
            rsp.status_code(404, "Not Found").body("Not Found");
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    may::config().set_workers(args.threads.max(1));
    let addr = format!("127.0.0.1:{}", args.port);
    let server = HttpServer(Plaintext)
        .start(&addr)
        .context(|| format!("cannot listen on {addr}"))?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on tcp://{addr}")
        .and_then(|()| out.flush())
        .context(|| "cannot write to stdout")?;
    drop(out);
    server
        .join()
        .map_err(|_| "the may_minihttp server stopped with a panic")?;
    Ok(())
}

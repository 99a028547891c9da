//! HTTP/1.1 server (TechEmpower's "plaintext" and "json" tests, plus `POST /echo`):
//! `GET /plaintext` answers `Hello, World!`, `GET /json` `{"message":"Hello, World!"}`, with
//! keep-alive, pipelining and request limits; see `loopwire_http::route`.
//!
//! ```sh
//! cargo run --release -p loopwire-http --bin http -- --addr 127.0.0.1:8080 --loops 2
//! wrk -t1 -c100 -d10s http://127.0.0.1:8080/plaintext
//! ```
//! Prints `listening on <url>` once ready; SIGINT/SIGTERM stop it gracefully. `--backend NAME`
//! picks the engine's backend; `--list-backends` prints the ones this build offers and exits.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loopwire::Engine;
use loopwire_http::{Http, Limits};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire HTTP/1.1 plaintext server")]
struct Args {
    /// Address to serve: host:port (TCP) or a URL (tcp://host:port, unix:///path).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
    /// Largest request body accepted (and discarded), in bytes.
    #[arg(long, default_value_t = Limits::default().max_body)]
    max_body: u64,
    /// Seconds a started request may take to arrive completely (slow-loris guard).
    #[arg(long, default_value_t = Limits::default().request_timeout.as_secs())]
    request_timeout: u64,
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
    let server = Http::new(Limits {
        max_body: args.max_body,
        request_timeout: Duration::from_secs(args.request_timeout),
        ..Limits::default()
    });
    let engine = args
        .engine
        .apply(Engine::builder().addr(url))
        .start(server)?;
    loopwire_examples::announce(&engine, "")?;
    engine.wait();
    Ok(())
}

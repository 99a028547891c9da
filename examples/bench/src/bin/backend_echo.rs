//! The loopwire echo server on a chosen engine backend, for the harness's echo load
//! (`bench echo` runs it once per backend this build offers: `epoll`, `polling`, `io-uring`).
//!
//! `backend_echo --addr tcp://127.0.0.1:0 --loops 2 --backend polling`; prints
//! `listening on tcp://ADDR` when ready; SIGINT/SIGTERM stop it. `--list` prints the
//! backends available here, one a line, and exits.

use std::process::ExitCode;

use clap::Parser;
use loopwire::{Action, Backend, Conn, Engine, EventHandler};
use loopwire_examples::cli::BoxError;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to serve.
    #[arg(long, default_value = "tcp://127.0.0.1:9000")]
    addr: String,
    /// Print the backends available here and exit.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
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

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    if args.list {
        for b in Backend::available() {
            println!("{}", b.name());
        }
        return Ok(());
    }
    let mut builder = Engine::builder();
    builder.addr(loopwire_examples::tcp_url(&args.addr).as_str());
    // `--backend` (from the engine options): the platform's default when absent.
    let engine = args.engine.apply(&mut builder).start(Echo)?;
    loopwire_examples::announce(&engine, "")?;
    engine.wait();
    Ok(())
}

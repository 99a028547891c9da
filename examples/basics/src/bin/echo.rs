//! Echo server: writes back every byte it receives, over TCP, UDP or Unix sockets.
//!
//! ```sh
//! cargo run --release -p loopwire-examples --bin echo -- --addr tcp://127.0.0.1:9000 --loops 2
//! ```
//! Prints `listening on <url>` per bound address once ready; SIGINT/SIGTERM stop it gracefully.
//! `--backend NAME` picks the engine's readiness backend (as every example does);
//! `--list-backends` prints the ones this build offers, one a line, the default first, and
//! exits (the bench harness runs the echo load once per line).
//! A failure (an address in use, a bad option) is one line on stderr and exit status 1 (2 for
//! a bad command line).

use std::process::ExitCode;

use clap::Parser;
use loopwire::{Action, Conn, Engine, EventHandler};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire echo server")]
struct Args {
    /// Address to serve (repeatable): tcp://host:port, udp://host:port, unix:///path.
    #[arg(long = "addr", default_value = "tcp://127.0.0.1:9000")]
    addrs: Vec<String>,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
}

/// Writes back what arrives. A peer that does not read its echoes is not buffered for: once
/// the unsent bytes pass the high write watermark, reading pauses (TCP then slows the peer
/// down) until they drain to the low one, so a connection holds at most about the high
/// watermark plus one read.
struct Echo;

impl EventHandler for Echo {
    type State = ();

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        if !c.is_writable() {
            c.pause_reading();
        }
        Action::None
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, ()>, writable: bool) -> Action {
        if writable {
            c.resume_reading();
        } else {
            c.pause_reading();
        }
        Action::None
    }
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
    let mut builder = Engine::builder();
    for a in &args.addrs {
        builder.addr(a.as_str());
    }
    let engine = args.engine.apply(&mut builder).start(Echo)?;
    loopwire_examples::announce(&engine, "")?;
    engine.wait();
    Ok(())
}

//! The benchmark harness: loopwire and its peers under the same loads in one run, rounds
//! interleaved, medians reported as a Markdown table (stdout) and an SVG chart.
//!
//! ```sh
//! cargo run --release -p loopwire-bench --bin bench -- all             # every load, ~5 min
//! cargo run --release -p loopwire-bench --bin bench -- http --secs 5 --rounds 5
//! cargo run --release -p loopwire-bench --bin bench -- echo --peer 'old=/tmp/old/echo --addr tcp://127.0.0.1:0'
//! ```
//! Loads: `echo`, `http`, `resp`, `idle`, or `all`. A `--peer NAME=COMMAND` server speaks the
//! load's protocol and either prints `listening on tcp://HOST:PORT` or takes the port as
//! `{port}` in its command (the harness picks a free one). With `all`, prefix the load:
//! `--peer http:nginx=...`. Progress goes to stderr, one line per measurement.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use loopwire_bench::loads::{self, Settings};
use loopwire_bench::rounds::Samples;
use loopwire_bench::server::Spec;
use loopwire_bench::{Error, chart, report, tools};

/// Which load to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Load {
    /// Every load below, in this order.
    All,
    /// loadgen echo: loopwire per backend, tokio, mio; pipeline 1 and 16.
    Echo,
    /// wrk GET /plaintext: loopwire per backend, tokio, may_minihttp; pipeline 1 and 16.
    Http,
    /// redis-benchmark SET/GET: loopwire per backend, 1 and 2 loops, redis-server; -P 1 and 16.
    Resp,
    /// RSS per idle connection: loopwire per backend, tokio, mio.
    Idle,
}

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire and its peers under the same loads, same run")]
struct Args {
    /// The load to run.
    #[arg(value_enum)]
    load: Load,
    /// Seconds of measured load per case and server.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    secs: u64,
    /// Rounds, interleaved (medians over them).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Server threads (loops, runtime workers).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    threads: u64,
    /// Idle connections for the memory load.
    #[arg(long, default_value_t = 10_000)]
    idle_conns: usize,
    /// An extra server, NAME=COMMAND (repeatable; with `all`, LOAD:NAME=COMMAND).
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// Where to write the SVG chart.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/bench.svg"))]
    svg: PathBuf,
    /// Do not build the release binaries first.
    #[arg(long)]
    no_build: bool,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

/// The `--peer` values for `load` (`LOAD:NAME=COMMAND`, or unprefixed for a single load).
fn peers_for(args: &Args, load: Load) -> Result<Vec<Spec>, Error> {
    let mut v = Vec::new();
    for p in &args.peers {
        let (target, spec) = match p.split_once(':') {
            Some((l, rest)) if Load::from_str(l, true).is_ok() && !l.contains('=') => {
                (Load::from_str(l, true).ok(), rest)
            }
            _ => (None, p.as_str()),
        };
        match target {
            Some(t) if t == load => v.push(Spec::parse_peer(spec)?),
            Some(_) => {}
            None if args.load == Load::All => {
                return Err(Error::msg(format!(
                    "--peer {p:?}: with `all`, name the load: LOAD:NAME=COMMAND"
                )));
            }
            None if args.load == load => v.push(Spec::parse_peer(spec)?),
            None => {}
        }
    }
    Ok(v)
}

fn run(args: Args) -> Result<(), Error> {
    if !args.no_build {
        eprintln!("bench: building the release binaries");
        tools::build_release()?;
    }
    let wanted = match args.load {
        Load::All => vec![Load::Echo, Load::Http, Load::Resp, Load::Idle],
        one => vec![one],
    };
    let base = Settings {
        bin: tools::bin_dir()?,
        secs: args.secs,
        rounds: usize::try_from(args.rounds).unwrap_or(usize::MAX),
        threads: usize::try_from(args.threads).unwrap_or(usize::MAX),
        idle_conns: args.idle_conns,
        peers: Vec::new(),
    };
    let mut samples = Samples::default();
    let mut idle = Vec::new();
    for load in wanted {
        let s = Settings {
            peers: peers_for(&args, load)?,
            ..base.clone()
        };
        match load {
            Load::Echo => loads::echo::bench(&s, &mut samples)?,
            Load::Http => loads::http::bench(&s, &mut samples)?,
            Load::Resp => loads::resp::bench(&s, &mut samples)?,
            Load::Idle => idle = loads::idle::bench(&s)?,
            Load::All => {}
        }
    }
    let rows = report::rows(&samples);
    println!(
        "{} server threads each, {} s per case, {} rounds interleaved, medians; {} cores shared by servers and load tools\n",
        args.threads,
        args.secs,
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if !rows.is_empty() {
        println!("{}", report::table(&rows));
        let title = format!(
            "loopwire and peers, same run ({} s × {} rounds, medians)",
            args.secs, args.rounds
        );
        chart::write(&args.svg, &title, &rows)?;
        eprintln!("bench: chart written to {}", args.svg.display());
    }
    if !idle.is_empty() {
        println!(
            "idle memory: server RSS growth over {} idle connections\n",
            args.idle_conns
        );
        println!("{}", report::idle_table(&idle));
    }
    Ok(())
}

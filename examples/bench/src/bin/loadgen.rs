//! Load generator for echo servers: N connections, each keeping `--pipeline` messages of
//! `--size` bytes in flight; prints throughput and latency percentiles.
//!
//! ```sh
//! loadgen --addr 127.0.0.1:9000 --conns 50 --size 512 --pipeline 1 --duration 10 --threads 2
//! ```
//! Output is one line of `key=value` pairs (easy to parse from a script):
//! `msgs_per_sec=... bytes_per_sec=... p50_us=... p99_us=... p999_us=... errors=...`.
//!
//! Latencies go into one fixed-size HDR histogram per client thread (3 significant digits, up
//! to an hour), merged at the end: memory does not grow with the run's length.
//!
//! With `--idle N` it instead opens N idle connections, prints `idle_ready` and holds them
//! until its standard input closes (used to measure the server's memory per idle connection).

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use loopwire_examples::cli::{BoxError, Context, Failed, at_least, positive_secs, secs};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Server address (host:port).
    #[arg(long)]
    addr: SocketAddr,
    /// Connections.
    #[arg(long, default_value_t = 50)]
    conns: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 512, value_parser = at_least(1))]
    size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 1, value_parser = at_least(1))]
    pipeline: usize,
    /// Measured seconds (after warm-up).
    #[arg(long, default_value = "10", value_parser = positive_secs)]
    duration: Duration,
    /// Warm-up seconds, not measured.
    #[arg(long, default_value = "1", value_parser = secs)]
    warmup: Duration,
    /// Client threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Open this many idle connections and hold them until stdin closes.
    #[arg(long)]
    idle: Option<usize>,
}

struct Client {
    sock: TcpStream,
    sent_at: VecDeque<Instant>,
    unsent: usize,
    received: usize,
    write_armed: bool,
}

/// What a client thread measured.
struct Report {
    msgs: u64,
    /// Round-trip times of the measured messages, µs.
    latency_us: Histogram<u64>,
    errors: u64,
}

impl Report {
    /// Longest latency kept; a longer one is recorded as this.
    const MAX_US: u64 = 3_600_000_000;

    fn new() -> Result<Self, Failed> {
        Ok(Self {
            msgs: 0,
            // 1 µs to an hour at 3 significant digits: under 200 KiB, whatever the run.
            latency_us: Histogram::new_with_bounds(1, Self::MAX_US, 3)
                .context(|| "cannot make a latency histogram")?,
            errors: 0,
        })
    }
}

/// A non-blocking connection to `addr`, without Nagle's delay.
fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = std::net::TcpStream::connect(addr)?;
    s.set_nonblocking(true)?;
    s.set_nodelay(true)?;
    Ok(TcpStream::from_std(s))
}

fn run_thread(args: &Args, conns: usize, start: Instant) -> Result<Report, Failed> {
    let mut poll = Poll::new().context(|| "cannot create a poller")?;
    let mut clients = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut sock = connect(args.addr).context(|| format!("cannot connect to {}", args.addr))?;
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)
            .context(|| "cannot register a connection with the poller")?;
        clients.push(Client {
            sock,
            sent_at: VecDeque::with_capacity(args.pipeline),
            unsent: 0,
            received: 0,
            write_armed: true,
        });
    }
    let payload = vec![0x5au8; args.size * args.pipeline];
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let mut report = Report::new()?;
    let now = Instant::now();
    for c in &mut clients {
        for _ in 0..args.pipeline {
            c.sent_at.push_back(now);
        }
        c.unsent = args.size * args.pipeline;
    }
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(end - now))
            .context(|| "cannot poll the connections")?;
        for ev in events.iter() {
            let c = &mut clients[ev.token().0];
            // Read everything (edge-triggered), completing messages in order.
            loop {
                match c.sock.read(&mut buf) {
                    Ok(0) => {
                        report.errors += 1;
                        break;
                    }
                    Ok(n) => {
                        c.received += n;
                        while c.received >= args.size {
                            c.received -= args.size;
                            let now = Instant::now();
                            if let Some(t) = c.sent_at.pop_front()
                                && now >= measure_from
                                && now < end
                            {
                                report.msgs += 1;
                                let us = now.duration_since(t).as_micros();
                                report
                                    .latency_us
                                    .saturating_record(u64::try_from(us).unwrap_or(u64::MAX));
                            }
                            c.sent_at.push_back(now);
                            c.unsent += args.size;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        report.errors += 1;
                        break;
                    }
                }
            }
            while c.unsent > 0 {
                let n = c.unsent.min(payload.len());
                match c.sock.write(&payload[..n]) {
                    Ok(w) => c.unsent -= w,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        report.errors += 1;
                        c.unsent = 0;
                    }
                }
            }
            let want = c.unsent > 0;
            if want != c.write_armed {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                poll.registry()
                    .reregister(&mut c.sock, ev.token(), interest)
                    .context(|| "cannot change a connection's interest")?;
                c.write_armed = want;
            }
        }
    }
    Ok(report)
}

fn hold_idle(args: &Args, n: usize) -> Result<(), Failed> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let s = std::net::TcpStream::connect(args.addr)
            .context(|| format!("cannot open idle connection {i} of {n} to {}", args.addr))?;
        held.push(s);
    }
    println!("idle_ready conns={n}");
    io::stdout().flush().context(|| "cannot write to stdout")?;
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
    drop(held);
    Ok(())
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    if let Some(n) = args.idle {
        return Ok(hold_idle(&args, n)?);
    }
    let threads = args.threads.max(1);
    let start = Instant::now();
    let reports = std::thread::scope(|s| -> Result<Vec<Report>, BoxError> {
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let share = args.conns / threads + usize::from(t < args.conns % threads);
            let args = &args;
            let h = std::thread::Builder::new()
                .name(format!("client-{t}"))
                .spawn_scoped(s, move || run_thread(args, share, start))
                .context(|| "cannot start a client thread")?;
            handles.push(h);
        }
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => Ok(r?),
                Err(_) => Err("a client thread panicked".into()),
            })
            .collect()
    })?;
    let mut total = Report::new()?;
    for r in reports {
        total.msgs += r.msgs;
        total.errors += r.errors;
        total
            .latency_us
            .add(&r.latency_us)
            .context(|| "cannot merge the latency histograms")?;
    }
    let secs = args.duration.as_secs_f64();
    println!(
        "msgs_per_sec={:.0} bytes_per_sec={:.0} p50_us={} p99_us={} p999_us={} errors={}",
        total.msgs as f64 / secs,
        total.msgs as f64 * args.size as f64 / secs,
        total.latency_us.value_at_quantile(0.50),
        total.latency_us.value_at_quantile(0.99),
        total.latency_us.value_at_quantile(0.999),
        total.errors
    );
    Ok(())
}

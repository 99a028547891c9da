//! Load generator for echo servers: N connections, each keeping `--pipeline` messages of
//! `--size` bytes in flight; prints throughput and latency percentiles.
//!
//! ```sh
//! loadgen --addr 127.0.0.1:9000 --conns 50 --size 512 --pipeline 1 --duration 10 --threads 2
//! ```
//! Output is one line of `key=value` pairs (easy to parse from a script):
//! `msgs_per_sec=... bytes_per_sec=... p50_us=... p99_us=... p999_us=... errors=...`.
//!
//! With `--idle N` it instead opens N idle connections, prints `idle_ready` and holds them
//! until its standard input closes (used to measure the server's memory per idle connection).

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
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
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Measured seconds (after warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds, not measured.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
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

#[derive(Default)]
struct Report {
    msgs: u64,
    latencies_us: Vec<u32>,
    errors: u64,
}

fn run_thread(args: &Args, conns: usize, start: Instant) -> io::Result<Report> {
    let mut poll = Poll::new()?;
    let mut clients = Vec::with_capacity(conns);
    for i in 0..conns {
        let std_sock = std::net::TcpStream::connect(args.addr)?;
        std_sock.set_nonblocking(true)?;
        let mut sock = TcpStream::from_std(std_sock);
        sock.set_nodelay(true)?;
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)?;
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
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let mut report = Report::default();
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
        poll.poll(&mut events, Some(end - now))?;
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
                                report
                                    .latencies_us
                                    .push(now.duration_since(t).as_micros() as u32);
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
                    .reregister(&mut c.sock, ev.token(), interest)?;
                c.write_armed = want;
            }
        }
    }
    Ok(report)
}

fn hold_idle(args: &Args, n: usize) -> io::Result<()> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(std::net::TcpStream::connect(args.addr)?);
    }
    println!("idle_ready conns={n}");
    io::stdout().flush()?;
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
    drop(held);
    Ok(())
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    if let Some(n) = args.idle {
        return hold_idle(&args, n);
    }
    let threads = args.threads.max(1);
    let start = Instant::now();
    let reports: Vec<io::Result<Report>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = args.conns / threads + usize::from(t < args.conns % threads);
                let args = &args;
                s.spawn(move || run_thread(args, share, start))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("thread panicked")))
            })
            .collect()
    });
    let mut total = Report::default();
    for r in reports {
        let r = r?;
        total.msgs += r.msgs;
        total.errors += r.errors;
        total.latencies_us.extend(r.latencies_us);
    }
    total.latencies_us.sort_unstable();
    let secs = args.duration;
    println!(
        "msgs_per_sec={:.0} bytes_per_sec={:.0} p50_us={} p99_us={} p999_us={} errors={}",
        total.msgs as f64 / secs,
        total.msgs as f64 * args.size as f64 / secs,
        loopwire_examples::percentile(&total.latencies_us, 0.50),
        loopwire_examples::percentile(&total.latencies_us, 0.99),
        loopwire_examples::percentile(&total.latencies_us, 0.999),
        total.errors
    );
    Ok(())
}

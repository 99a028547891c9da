//! Load and behaviour client for the push service (`src/bin/push.rs`): opens N long
//! connections from one process, each authenticating as its own user `u<i>` with a token it
//! mints ([`Signer`], the service's secret from `--secret-file`, `LOOPWIRE_PUSH_SECRET` or
//! `--dev`), joins rooms, heartbeats, ACKs every QoS1 message (the protocol state of each
//! connection is a [`ClientSession`], which also drops duplicate QoS1 ids); then publishes through the
//! service's HTTP API (`--api-addr`, a keep-alive HTTP/1.1 connection, `http`) to rooms of
//! several sizes and to one user, and measures publish-to-receipt latency on one clock (the
//! publish time travels in the payload).
//!
//! ```sh
//! pushload --dev --addr 127.0.0.1:7000 --api-addr 127.0.0.1:7001 --conns 15000 --threads 2 \
//!     --heartbeat-secs 5 --sizes 1000,100,10,1 --idle-secs 20 --publishes 20 --unacked
//! ```
//!
//! Connection `i` authenticates as `u<i>` (token granting `all` and `s*`), joins `all` and,
//! for each size `s`, room `s<s>-<i / s>`; pushes go to `all`, to `s<s>-0` of each size, and
//! to user `u0`. Output, one line per phase, `key=value` pairs:
//!
//! `--source 127.0.0.2-127.0.0.11` binds the connections to those addresses in turn (each
//! has its own ~28 000 ephemeral ports: more connections than one address allows).
//!
//! - `phase=connected conns= secs= welcomed=`
//! - `phase=idle_start` and `phase=idle_end closed=`: heartbeats only, for `--idle-secs` (the
//!   scale run samples the gateway in between);
//! - `phase=publish mode=` and `phase=published mode=` around each QoS's publishes (for
//!   sampling both processes' CPU per mode);
//! - `result room= mode=acked|unacked members= publishes= delivered= expected= p50_us= p99_us=
//!   max_us= last_p50_us= last_max_us= publish_rtt_p50_us=`, per target (`user:u0` for the unicast) and QoS
//!   (`acked`: QoS1, `unacked`: QoS0);
//!   `last_*` are the median and the largest, over the publishes, of the time from a
//!   publish to its last delivery (to the whole room);
//! - `summary closed= errors= duplicates=`.
//!
//! Latencies go into fixed-size HDR histograms (3 significant digits, up to an hour), one
//! per target and mode in each client thread, merged at the end: memory does not grow with
//! the number of deliveries.

mod http;
mod measure;

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clap::Parser;
use loopwire_examples::cli::{BoxError, Context, Failed, at_least, positive_secs, secs};
use loopwire_push::api::DEVELOPMENT_TOKEN;
use loopwire_push::auth::{Claims, Secret, Signer};
use loopwire_push::client::{
    ClientSession, Event, SessionOptions, SourceError, Sources, connect_from,
};
use loopwire_push::config::unix_now_secs;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use measure::{Classes, Report, histogram, max_of, parse_payload, payload};

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Gateway address (host:port).
    #[arg(long)]
    addr: SocketAddr,
    /// HTTP API address (host:port).
    #[arg(long, default_value = "127.0.0.1:7001")]
    api_addr: SocketAddr,
    /// File holding the token secret; else env LOOPWIRE_PUSH_SECRET.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// File holding the API token; else env LOOPWIRE_PUSH_API_TOKEN.
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// Use the service's public development secret and API token (`push --dev`).
    #[arg(long)]
    dev: bool,
    /// Long connections to open.
    #[arg(long, default_value_t = 1000)]
    conns: usize,
    /// Source address to bind connections to before connecting (repeatable, or a range
    /// `127.0.0.2-127.0.0.11`; connection i uses the i-th in turn): each address has its
    /// own ephemeral ports (about 28 000). None: the kernel picks.
    #[arg(long = "source", value_parser = parse_source)]
    sources: Vec<Sources>,
    /// Client threads (each polls its share of the connections).
    #[arg(long, default_value_t = 2, value_parser = at_least(1))]
    threads: usize,
    /// Seconds between a connection's PINGs (keep below the gateway's heartbeat interval).
    #[arg(long, default_value = "5", value_parser = positive_secs)]
    heartbeat_secs: Duration,
    /// Room sizes besides `all`, comma-separated.
    #[arg(long, default_value = "1000,100,10,1", value_delimiter = ',', value_parser = at_least(1))]
    sizes: Vec<usize>,
    /// Seconds of heartbeats only, before publishing.
    #[arg(long, default_value = "10", value_parser = secs)]
    idle_secs: Duration,
    /// Messages published to each measured room (per mode).
    #[arg(long, default_value_t = 20)]
    publishes: usize,
    /// Milliseconds between two publishes.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Payload bytes (at least 20: timestamp, target index, mode, as digits).
    #[arg(long, default_value_t = 64, value_parser = at_least(20))]
    payload: usize,
    /// Also measure QoS0 (unacknowledged) delivery.
    #[arg(long)]
    unacked: bool,
    /// Longest wait for connections, or for a room's deliveries, in seconds.
    #[arg(long, default_value = "60", value_parser = secs)]
    settle_secs: Duration,
}

/// What the threads share.
struct Shared {
    base: Instant,
    stop: AtomicBool,
    welcomed: AtomicUsize,
    closed: AtomicUsize,
    errors: AtomicUsize,
    /// Deliveries per (class, mode).
    delivered: Vec<AtomicU64>,
}

impl Shared {
    fn micros(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }
}

/// One connection: its socket and the protocol state ([`ClientSession`]: frames, ACKs,
/// QoS1 dedupe).
struct Client {
    sock: TcpStream,
    session: ClientSession,
    alive: bool,
}

impl Client {
    fn flush(&mut self, shared: &Shared) {
        while !self.session.output().is_empty() && self.alive {
            match self.sock.write(self.session.output()) {
                Ok(0) => self.die(shared),
                Ok(n) => self.session.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.die(shared),
            }
        }
    }

    fn die(&mut self, shared: &Shared) {
        if self.alive {
            self.alive = false;
            self.session.disconnected();
            shared.closed.fetch_add(1, Relaxed);
        }
    }
}

fn mode_slot(class: usize, unacked: bool) -> usize {
    class * 2 + usize::from(unacked)
}

/// Feeds `bytes` to the connection's session and records what it surfaces (duplicate QoS1
/// ids are dropped, and every new one ACKed, by the session).
fn handle_bytes(
    c: &mut Client,
    bytes: &[u8],
    shared: &Shared,
    classes: &Classes,
    report: &mut Report,
) {
    let fed = c.session.feed(bytes);
    while let Some(ev) = c.session.poll_event() {
        match ev {
            Event::Welcome { .. } => {
                shared.welcomed.fetch_add(1, Relaxed);
            }
            Event::Pong(b) => {
                if let Ok(ts) = <[u8; 8]>::try_from(b.as_slice()) {
                    let rtt = shared.micros().saturating_sub(u64::from_be_bytes(ts));
                    report.ping_rtt.saturating_record(rtt);
                }
            }
            Event::Push { payload, .. } => {
                if let Some((ts, class, unacked)) = parse_payload(&payload)
                    && class < classes.rooms.len()
                {
                    let lat = shared.micros().saturating_sub(ts);
                    let slot = mode_slot(class, unacked);
                    report.record(slot, ts, lat);
                    shared.delivered[slot].fetch_add(1, Relaxed);
                }
            }
            Event::Error { code, reason } | Event::Kicked { code, reason } => {
                eprintln!("ERROR/KICK {code}: {reason}");
                shared.errors.fetch_add(1, Relaxed);
            }
        }
    }
    if let Err(e) = fed {
        eprintln!("bad stream: {e}");
        shared.errors.fetch_add(1, Relaxed);
        c.die(shared);
    }
}

fn run_thread(
    args: &Args,
    first: usize,
    count: usize,
    shared: &Shared,
    classes: &Classes,
    signer: &Signer,
) -> Result<Report, Failed> {
    let mut report = Report::new(classes)?;
    let mut poll = Poll::new().context(|| "cannot create a poller")?;
    let mut clients = Vec::with_capacity(count);
    let sources = args.source_list();
    for k in 0..count {
        let i = first + k;
        let source = (!sources.is_empty()).then(|| sources[i % sources.len()]);
        let mut sock = connect(args.addr, source).context(|| match source {
            Some(ip) => format!("cannot open connection {i} to {} from {ip}", args.addr),
            None => format!("cannot open connection {i} to {}", args.addr),
        })?;
        poll.registry()
            .register(&mut sock, Token(k), Interest::READABLE | Interest::WRITABLE)
            .context(|| "cannot register a connection with the poller")?;
        let mut claims = Claims::new(format!("u{i}"), unix_now_secs() + 24 * 3600);
        claims.rooms = vec!["all".into(), "s*".into()];
        let opts = SessionOptions {
            // Asks for twice the PING interval: the gateway closes after 1.5 times that.
            heartbeat: args.heartbeat_secs * 2,
            auto_ack: true,
            max_frame: 1 << 20,
            dedupe_window: 64,
        };
        let mut session = ClientSession::new(signer.sign(&claims), opts);
        let mut rooms = vec![b"all".to_vec()];
        rooms.extend(
            args.sizes
                .iter()
                .map(|&s| format!("s{s}-{}", i / s.max(1)).into_bytes()),
        );
        for r in &rooms {
            session
                .join(r)
                .context(|| "a room name pushload made is invalid")?;
        }
        session.connected();
        let mut c = Client {
            sock,
            session,
            alive: true,
        };
        c.flush(shared);
        clients.push(c);
    }
    // Heartbeats: one queue in due order (every connection has the same interval), first
    // PINGs spread over one interval.
    let every = args.heartbeat_secs;
    let start = Instant::now();
    let mut due: std::collections::VecDeque<(Instant, usize)> = (0..count)
        .map(|k| (start + every.mul_f64(k as f64 / count.max(1) as f64), k))
        .collect();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.load(Relaxed) {
        let now = Instant::now();
        let timeout = due
            .front()
            .map_or(Duration::from_millis(100), |(t, _)| {
                t.saturating_duration_since(now)
            })
            .min(Duration::from_millis(100));
        poll.poll(&mut events, Some(timeout))
            .context(|| "cannot poll the connections")?;
        for ev in events.iter() {
            let Some(c) = clients.get_mut(ev.token().0) else {
                continue;
            };
            if !c.alive {
                continue;
            }
            if ev.is_readable() {
                loop {
                    match c.sock.read(&mut buf) {
                        Ok(0) => {
                            c.die(shared);
                            break;
                        }
                        Ok(n) => handle_bytes(c, &buf[..n], shared, classes, &mut report),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            c.die(shared);
                            break;
                        }
                    }
                }
            }
            c.flush(shared);
        }
        let now = Instant::now();
        while let Some(&(t, k)) = due.front() {
            if t > now {
                break;
            }
            due.pop_front();
            let c = &mut clients[k];
            if c.alive {
                // Our own PINGs (not poll_timers'): they carry the send time for the RTT.
                let _ = c.session.ping(&shared.micros().to_be_bytes());
                c.flush(shared);
                due.push_back((now + every, k));
            }
        }
    }
    report.duplicates = clients
        .iter()
        .map(|c| c.session.dedupe().duplicates())
        .sum();
    Ok(report)
}

/// A non-blocking connection to `addr` (bound to `source` first when given), without
/// Nagle's delay; connected before it returns, so a refused connect stops the run at once.
fn connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let s = connect_from(addr, source)?;
    s.set_nonblocking(true)?;
    Ok(TcpStream::from_std(s))
}

fn parse_source(s: &str) -> Result<Sources, SourceError> {
    s.parse()
}

impl Args {
    /// Every `--source` address, in order.
    fn source_list(&self) -> Vec<IpAddr> {
        self.sources
            .iter()
            .flat_map(|s| s.addrs().iter().copied())
            .collect()
    }
}

/// The token secret and the API token, from files, the environment or `--dev`.
fn secrets(args: &Args) -> Result<(Secret, String), BoxError> {
    if args.dev {
        return Ok((Secret::development(), DEVELOPMENT_TOKEN.to_owned()));
    }
    let secret = match &args.secret_file {
        Some(path) => Secret::from_file(path)?,
        None => Secret::from_env("LOOPWIRE_PUSH_SECRET")
            .map_err(|e| format!("{e} (give --secret-file, or --dev)"))?,
    };
    let token = match &args.api_token_file {
        Some(path) => std::fs::read_to_string(path)
            .context(|| format!("cannot read --api-token-file {}", path.display()))?,
        None => std::env::var("LOOPWIRE_PUSH_API_TOKEN")
            .map_err(|_| "no --api-token-file given and LOOPWIRE_PUSH_API_TOKEN is not set")?,
    };
    Ok((secret, token.trim().to_owned()))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while !done() {
        if Instant::now() >= end {
            eprintln!("pushload: timed out waiting for {what}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

/// The outcome of a joined client thread: its report, its error, or its panic as an error.
fn joined(h: std::thread::JoinHandle<Result<Report, Failed>>) -> Result<Report, BoxError> {
    match h.join() {
        Ok(r) => Ok(r?),
        Err(_) => Err("a client thread panicked".into()),
    }
}

fn run(args: Args) -> Result<(), BoxError> {
    let (secret, api_token) = secrets(&args)?;
    let signer = Arc::new(Signer::new(&secret));
    let classes = Classes::new(&args);
    let shared = Shared {
        base: Instant::now(),
        stop: AtomicBool::new(false),
        welcomed: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        delivered: (0..classes.rooms.len() * 2)
            .map(|_| AtomicU64::new(0))
            .collect(),
    };
    let settle = args.settle_secs;
    let (shared, classes, args) = (Arc::new(shared), Arc::new(classes), Arc::new(args));
    let threads = args.threads.min(args.conns.max(1));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let share = args.conns / threads + usize::from(t < args.conns % threads);
        let first = t * (args.conns / threads) + t.min(args.conns % threads);
        let (args, shared, classes) = (args.clone(), shared.clone(), classes.clone());
        let signer = Arc::clone(&signer);
        let spawned = std::thread::Builder::new()
            .name(format!("client-{t}"))
            .spawn(move || {
                let r = run_thread(&args, first, share, &shared, &classes, &signer);
                if r.is_err() {
                    shared.errors.fetch_add(1, Relaxed);
                }
                r
            });
        handles.push(spawned.context(|| "cannot start a client thread")?);
    }
    wait_for("WELCOMEs", settle, || {
        shared.welcomed.load(Relaxed) >= args.conns || shared.errors.load(Relaxed) > 0
    });
    if shared.errors.load(Relaxed) > 0 && handles.iter().any(|h| h.is_finished()) {
        // A client thread gave up (it could not connect, say): report why, not a run.
        shared.stop.store(true, Relaxed);
        for h in handles {
            joined(h)?;
        }
        return Err("a client thread stopped early".into());
    }
    println!(
        "phase=connected conns={} secs={:.2} welcomed={}",
        args.conns,
        started.elapsed().as_secs_f64(),
        shared.welcomed.load(Relaxed)
    );
    println!("phase=idle_start");
    io::stdout().flush().context(|| "cannot write to stdout")?;
    std::thread::sleep(args.idle_secs);
    println!("phase=idle_end closed={}", shared.closed.load(Relaxed));
    io::stdout().flush().context(|| "cannot write to stdout")?;

    let mut api = loopwire_push::client::ApiClient::connect(args.api_addr, api_token)
        .context(|| format!("cannot connect to the API at {}", args.api_addr))?;
    let modes: &[bool] = if args.unacked {
        &[false, true]
    } else {
        &[false]
    };
    let mut publish_rtt = (0..classes.rooms.len() * 2)
        .map(|_| histogram())
        .collect::<Result<Vec<_>, _>>()?;
    for &unacked in modes {
        let mode = if unacked { "unacked" } else { "acked" };
        println!("phase=publish mode={mode}");
        io::stdout().flush().context(|| "cannot write to stdout")?;
        for (class, room) in classes.rooms.iter().enumerate() {
            let slot = mode_slot(class, unacked);
            let before = shared.delivered[slot].load(Relaxed);
            for _ in 0..args.publishes {
                let t = shared.micros();
                let body = format!(
                    "\"payload\":\"{}\",\"qos\":{}",
                    payload(t, class, unacked, args.payload),
                    u8::from(!unacked)
                );
                http::push(&mut api, room, &body)?;
                publish_rtt[slot].saturating_record(shared.micros().saturating_sub(t));
                std::thread::sleep(Duration::from_millis(args.interval_ms));
            }
            let expected = (classes.members[class] * args.publishes) as u64;
            wait_for("deliveries", settle, || {
                shared.delivered[slot].load(Relaxed) - before >= expected
            });
        }
        println!("phase=published mode={mode}");
        io::stdout().flush().context(|| "cannot write to stdout")?;
    }
    // Let the last ACKs reach the gateway before the connections close.
    std::thread::sleep(Duration::from_millis(500));
    shared.stop.store(true, Relaxed);
    let mut total = Report::new(&classes)?;
    for h in handles {
        total.merge(&joined(h)?)?;
    }
    println!(
        "pings={} ping_rtt_p50_us={} ping_rtt_p99_us={}",
        total.ping_rtt.len(),
        total.ping_rtt.value_at_quantile(0.5),
        total.ping_rtt.value_at_quantile(0.99)
    );
    for &unacked in modes {
        for (class, room) in classes.rooms.iter().enumerate() {
            let slot = mode_slot(class, unacked);
            let lat = &total.latency[slot];
            let (last_p50, last_max) = total.last_delivery(slot);
            println!(
                "result room={} mode={} members={} publishes={} delivered={} expected={} \
                 p50_us={} p99_us={} max_us={} last_p50_us={last_p50} last_max_us={last_max} \
                 publish_rtt_p50_us={}",
                String::from_utf8_lossy(room),
                if unacked { "unacked" } else { "acked" },
                classes.members[class],
                args.publishes,
                lat.len(),
                classes.members[class] * args.publishes,
                lat.value_at_quantile(0.5),
                lat.value_at_quantile(0.99),
                max_of(lat),
                publish_rtt[slot].value_at_quantile(0.5),
            );
        }
    }
    println!(
        "summary closed={} errors={} duplicates={}",
        shared.closed.load(Relaxed),
        shared.errors.load(Relaxed),
        total.duplicates
    );
    Ok(())
}

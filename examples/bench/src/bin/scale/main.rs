//! The push cluster's scale run (issue 15): one bounded command that starts a real
//! `redis-server` (on a free port, in a temporary directory), K `push` gateways in cluster
//! mode sharing one port through SO_REUSEPORT, and load processes (`scale worker`) that hold
//! N sessions from many 127.0.0.x source addresses ([`plan`]: every process under the 20 000
//! open-file limit, every source under its ~28 000 ephemeral ports), then measures, in this
//! order, and prints a Markdown table:
//!
//! 1. time to connect (and log in) everyone;
//! 2. the gateways' resident memory per session (RSS delta summed over the gateways), and
//!    the kernel's per-socket memory (`Slab` of `/proc/meminfo` against the TCP sockets in
//!    use, both ends being on this machine);
//! 3. the gateways' CPU with heartbeats only (CPU seconds per minute over a window);
//! 4. unicast publish-to-receipt latency through node 1's API, QoS0 and QoS1, for a sample
//!    of users;
//! 5. a QoS0 broadcast to everyone (room `all`): time to the last delivery;
//! 6. a reconnect storm: every 10th user disconnects, gets one QoS1 message while offline,
//!    and all reconnect at once; the messages are counted by id;
//! 7. `kill -9` of the last gateway while QoS1 messages are published to a sample of users:
//!    its users reconnect through the dispatcher (`GET /dispatch?uid=`), and every message
//!    the API accepted must arrive (counted by id).
//!
//! ```sh
//! cargo run --release -p loopwire-bench --bin scale                        # 100 000 sessions
//! cargo run --release -p loopwire-bench --bin scale -- --sessions 1000000 --plan  # the layout
//! ```
//!
//! Every phase has a time limit; SIGINT / SIGTERM end the run; the children die with it
//! (`PR_SET_PDEATHSIG`) and the temporary directory is removed.

mod plan;
mod procs;
mod worker;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use loopwire_bench::server::free_port;
use loopwire_bench::{Error, procfs, tools};
use loopwire_push::api::DEVELOPMENT_TOKEN;

use loopwire_push::client::ApiClient;
use plan::Plan;
use procs::{Proc, TempDir, Worker, ask_all, field, text_field};

pub(crate) use loopwire_examples::cli::BoxError;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "scale: the push cluster over Redis with N sessions, measured")]
struct Args {
    /// Sessions (users) in all.
    #[arg(long, default_value_t = 100_000)]
    sessions: usize,
    /// Gateways (default: enough that the others hold everyone once one is killed).
    #[arg(long)]
    gateways: Option<usize>,
    /// Print the layout (gateways, load processes, sources) and exit.
    #[arg(long)]
    plan: bool,
    /// Seconds of heartbeats only over which the gateways' CPU is measured.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Seconds between two PINGs of a session (it asks for twice that as its heartbeat;
    /// default: 15, or longer so that all sessions together send at most 7 000 PINGs/s:
    /// 143 s for 1 000 000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=300))]
    ping_secs: Option<u64>,
    /// Milliseconds between two registry refreshes of a gateway (`--cluster-refresh-ms`;
    /// default: 5 000, or longer so that all gateways together renew at most 20 000 users'
    /// entries per second: 50 000 for 1 000 000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(10..))]
    refresh_ms: Option<u64>,
    /// Users in the unicast latency sample (one message each, per QoS).
    #[arg(long, default_value_t = 1000)]
    sample: usize,
    /// Broadcasts to everyone.
    #[arg(long, default_value_t = 3)]
    broadcasts: u64,
    /// Reconnect storm: one user in this many goes offline.
    #[arg(long, default_value_t = 10)]
    drop_every: usize,
    /// QoS1 messages published (to as many users of a sample) around the gateway kill.
    #[arg(long, default_value_t = 5000)]
    kill_messages: usize,
    /// Do not build the `push` release binary first.
    #[arg(long)]
    no_build: bool,
    /// Keep the temporary directory (every process's stdout and stderr) after a successful
    /// run, and print where it is.
    #[arg(long)]
    keep_logs: bool,
    #[command(subcommand)]
    worker: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// One load process (started by the run itself).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

/// Most PINGs per second all sessions send together with the default `--ping-secs` (the
/// 100 000-session run's rate at 15 s: its gateways then used ~14 CPU s per minute).
const MAX_PINGS_PER_SEC: usize = 7_000;

/// Most registry entries all gateways together renew per second with the default
/// `--refresh-ms`: each renewal is an `HSET` and a `PEXPIRE` on the one Redis. At the
/// gateways' default of every 5 s, 1 000 000 users are 400 000 commands per second, all
/// Redis does on a shared core: the first 1 000 000 run spent its unicast phase with the
/// API's jobs queued behind refreshes and the links timing out (1 s) and reconnecting,
/// each reconnect reloading every user's queue. 20 000 per second is the 100 000 run's rate.
const MAX_RENEWALS_PER_SEC: usize = 20_000;

impl Args {
    /// Seconds between a session's PINGs for `sessions` sessions.
    fn ping(&self, sessions: usize) -> u64 {
        self.ping_secs
            .unwrap_or_else(|| sessions.div_ceil(MAX_PINGS_PER_SEC).max(15) as u64)
    }

    /// Milliseconds between two registry refreshes for `sessions` sessions.
    fn refresh_ms(&self, sessions: usize) -> u64 {
        self.refresh_ms
            .unwrap_or_else(|| (sessions * 1000).div_ceil(MAX_RENEWALS_PER_SEC).max(5000) as u64)
    }
}

/// Estimated memory per session (both socket ends, gateway, load process, Redis), to refuse
/// a run that cannot fit: measured ~13 KB at 30 000 sessions (10.3 KB of it the kernel's).
const EST_KIB_PER_SESSION: u64 = 16;

fn main() -> std::process::ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    if let Some(Sub::Worker(w)) = args.worker {
        return worker::run(w);
    }
    let plan = Plan::new(args.sessions, args.gateways)?;
    println!(
        "plan: {}; PING every {} s; registry refresh every {} ms",
        plan.describe(),
        args.ping(plan.sessions),
        args.refresh_ms(plan.sessions)
    );
    if args.plan {
        return Ok(());
    }
    procs::catch_signals();
    let nofile = raise_nofile()?;
    let need = (plan.sessions.div_ceil(plan.gateways - 1) + 500) as u64;
    if nofile < need {
        return Err(format!("open files limit {nofile} < {need} needed per gateway").into());
    }
    let file_max: u64 = std::fs::read_to_string("/proc/sys/fs/file-max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    let files = 2 * plan.sessions as u64 + 10_000;
    if file_max < files {
        return Err(format!("fs.file-max is {file_max}: this run opens ~{files} files").into());
    }
    let avail = procs::meminfo_kib("MemAvailable");
    let est = plan.sessions as u64 * EST_KIB_PER_SESSION;
    println!(
        "machine: {} CPUs, MemAvailable {} MiB (this run: ~{} MiB), load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        avail / 1024,
        est / 1024,
        procs::loadavg()
    );
    if avail < est {
        return Err(format!(
            "not enough memory: {} MiB available, ~{} MiB needed",
            avail / 1024,
            est / 1024
        )
        .into());
    }
    tools::need_tools(&["redis-server"], &["redis-server"])?;
    if !args.no_build {
        build()?;
    }
    let bins = tools::bin_dir()?;
    let dir = TempDir::new()?;
    let mut run = Run::start(&args, &plan, &bins, &dir.0)?;
    let mut rows = run.measure(&args)?;
    rows.push(("panics in the logs".into(), panics(&dir.0)));
    println!("\nload average at the end: {}\n", procs::loadavg());
    println!("| measure | figure |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
    drop(run);
    if args.keep_logs {
        println!("\nlogs kept in {}", dir.keep().display());
    }
    Ok(())
}

/// The log files (gateways, load processes, Redis) that say `panicked at`, or "none".
fn panics(dir: &Path) -> String {
    let mut hits: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("panicked at")))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    hits.sort();
    if hits.is_empty() {
        "none".into()
    } else {
        hits.join(", ")
    }
}

/// Raises the soft open-file limit to the hard one (the children inherit it); returns it.
fn raise_nofile() -> Result<u64, Error> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write the struct we pass, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(Error::msg("getrlimit failed"));
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return Err(Error::msg("setrlimit failed"));
        }
    }
    Ok(lim.rlim_cur)
}

/// Builds the `push` release binary.
fn build() -> Result<(), Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "loopwire-push",
            "--bin",
            "push",
        ])
        .status()
        .map_err(|e| Error::io("cannot run cargo", e))?;
    if !status.success() {
        return Err(Error::msg("the release build failed"));
    }
    Ok(())
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A payload `TAG SEQ SENT_US` padded to 64 bytes.
fn payload(tag: &str, seq: u64) -> String {
    let mut p = format!("{tag} {seq} {} ", unix_us());
    while p.len() < 64 {
        p.push('x');
    }
    p
}

/// The started run: Redis, the gateways (node ids `n1`..), the load processes.
struct Run {
    sessions: usize,
    port: u16,
    apis: Vec<SocketAddr>,
    gateways: Vec<Proc>,
    workers: Vec<Worker>,
    _redis: Proc,
    connect_secs: f64,
    mem: Vec<(String, String)>,
}

impl Run {
    fn start(args: &Args, plan: &Plan, bins: &Path, dir: &Path) -> Result<Self, BoxError> {
        let redis_port = free_port()?;
        let mut redis = Proc::spawn(
            "redis-server",
            procs::logged(
                Path::new("redis-server"),
                &[
                    "--port".into(),
                    redis_port.to_string(),
                    "--bind".into(),
                    "127.0.0.1".into(),
                    "--save".into(),
                    String::new(),
                    "--appendonly".into(),
                    "no".into(),
                    "--dir".into(),
                    dir.display().to_string(),
                ],
                dir,
                "redis",
            )?,
        )?;
        procs::redis_ready(SocketAddr::from(([127, 0, 0, 1], redis_port)), &mut redis)?;
        let port = free_port()?;
        let mut gateways = Vec::new();
        let mut apis = Vec::new();
        for i in 1..=plan.gateways {
            let name = format!("gw{i}");
            let argv: Vec<String> = [
                "--dev",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--reuse-port",
                "--loops",
                "1",
                "--api-addr",
                "127.0.0.1:0",
                "--heartbeat-secs",
                "30",
                "--redis",
                &format!("redis://127.0.0.1:{redis_port}"),
                "--node-id",
                &format!("n{i}"),
                "--cluster-refresh-ms",
                &args.refresh_ms(plan.sessions).to_string(),
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            let mut cmd = procs::logged(&bins.join("push"), &argv, dir, &name)?;
            // Warnings (a Redis connection lost, a subscription lost) go to gwN.err.
            cmd.env("RUST_LOG", "warn");
            let mut p = Proc::spawn(&name, cmd)?;
            let out = dir.join(format!("{name}.out"));
            let line = procs::wait_line(
                &out,
                "api listening on http://",
                Duration::from_secs(15),
                &mut p,
            )?;
            procs::wait_line(&out, "listening on tcp://", Duration::from_secs(15), &mut p)?;
            let api: SocketAddr = line
                .rsplit("http://")
                .next()
                .and_then(|a| a.trim().parse().ok())
                .ok_or_else(|| Error::msg(format!("{name}: bad API line {line:?}")))?;
            apis.push(api);
            gateways.push(p);
        }
        procs::sleep(Duration::from_secs(2))?;
        let rss0: u64 = gateways.iter().map(|g| procs::rss_kib(g.pid())).sum();
        let redis0 = procs::rss_kib(redis.pid());
        let slab0 = procs::meminfo_kib("Slab");
        let tcp0 = procs::tcp_inuse();
        println!(
            "started redis-server on {redis_port}, {} gateways on port {port} (APIs {})",
            gateways.len(),
            apis.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
        let me = std::env::current_exe().map_err(|e| Error::io("cannot find myself", e))?;
        let started = Instant::now();
        let mut workers = Vec::new();
        for (w, load) in plan.loads.iter().enumerate() {
            let mut argv = vec![
                "worker".to_owned(),
                "--addr".into(),
                format!("127.0.0.1:{port}"),
                "--first".into(),
                load.first.to_string(),
                "--count".into(),
                load.count.to_string(),
                "--source".into(),
                format!("{}-{}", load.sources.0, load.sources.1),
                "--ping-secs".into(),
                args.ping(plan.sessions).to_string(),
            ];
            // The dispatcher is asked on every node but the one killed (the last).
            for a in &apis[..apis.len() - 1] {
                argv.push("--dispatch".into());
                argv.push(a.to_string());
            }
            let name = format!("load{w}");
            let mut cmd = procs::logged(&me, &argv, dir, &name)?;
            cmd.stdout(std::process::Stdio::null());
            workers.push(Worker::spawn(&name, cmd)?);
        }
        let mut run = Self {
            sessions: plan.sessions,
            port,
            apis,
            gateways,
            workers,
            _redis: redis,
            connect_secs: 0.0,
            mem: Vec::new(),
        };
        let limit = Duration::from_secs(60 + plan.sessions as u64 / 1000);
        let mut last = 0;
        let all = procs::wait_until(limit, || {
            let live = run.live()?;
            if live / 10_000 != last / 10_000 {
                println!(
                    "  {live} sessions up after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            last = live;
            Ok(live >= run.sessions)
        })?;
        run.connect_secs = started.elapsed().as_secs_f64();
        if !all {
            return Err(format!(
                "only {last} of {} sessions up after {limit:?} (see the load processes' stderr: {})",
                plan.sessions,
                run.workers.first().map_or(String::new(), |w| procs::tail(&dir.join(format!("{}.err", w.proc.name))))
            )
            .into());
        }
        println!(
            "all {} sessions up in {:.1} s",
            plan.sessions, run.connect_secs
        );
        procs::sleep(Duration::from_secs(5))?;
        let rss1: u64 = run.gateways.iter().map(|g| procs::rss_kib(g.pid())).sum();
        let redis1 = procs::rss_kib(run._redis.pid());
        let loads: u64 = run
            .workers
            .iter()
            .map(|w| procs::rss_kib(w.proc.pid()))
            .sum();
        let slab1 = procs::meminfo_kib("Slab");
        let tcp1 = procs::tcp_inuse();
        let fds: Vec<usize> = run
            .gateways
            .iter()
            .map(|g| procs::open_files(g.pid()))
            .collect();
        let n = plan.sessions as f64;
        // Both ends of every session are sockets of this machine.
        let sockets = 2.0 * n;
        run.mem = vec![
            (
                "gateway RSS per session (summed over the gateways)".into(),
                format!(
                    "{:.0} bytes ({} MiB before, {} MiB after)",
                    (rss1.saturating_sub(rss0) * 1024) as f64 / n,
                    rss0 / 1024,
                    rss1 / 1024
                ),
            ),
            (
                "kernel Slab per TCP socket (Slab delta / 2 sockets per session)".into(),
                format!(
                    "{:.0} bytes ({:.0} per session; Slab {} -> {} MiB, TCP sockets in use +{}, \
                     all processes of the machine)",
                    (slab1.saturating_sub(slab0) * 1024) as f64 / sockets,
                    (slab1.saturating_sub(slab0) * 1024) as f64 / n,
                    slab0 / 1024,
                    slab1 / 1024,
                    tcp1.saturating_sub(tcp0)
                ),
            ),
            (
                "redis-server RSS per session; load processes' RSS per session".into(),
                format!(
                    "{:.0} bytes ({} -> {} MiB); {:.0} bytes ({} MiB in all)",
                    (redis1.saturating_sub(redis0) * 1024) as f64 / n,
                    redis0 / 1024,
                    redis1 / 1024,
                    (loads * 1024) as f64 / n,
                    loads / 1024
                ),
            ),
            (
                "open files per gateway (min / max)".into(),
                format!(
                    "{} / {}",
                    fds.iter().min().unwrap_or(&0),
                    fds.iter().max().unwrap_or(&0)
                ),
            ),
        ];
        Ok(run)
    }

    /// Sessions welcomed and up, over all load processes.
    fn live(&mut self) -> Result<usize, Error> {
        Ok(ask_all(&mut self.workers, "stats", "stats")?
            .iter()
            .map(|l| field(l, "live") as usize)
            .sum())
    }

    /// Sum of a numeric field of `stats`.
    fn stat(&mut self, key: &str) -> Result<u64, Error> {
        Ok(ask_all(&mut self.workers, "stats", "stats")?
            .iter()
            .map(|l| field(l, key))
            .sum())
    }

    /// Messages of `tag` received (all) and distinct sequence numbers, summed.
    fn received(&mut self, tag: &str) -> Result<(u64, u64), Error> {
        let (n, distinct, _) = self.received_moved(tag)?;
        Ok((n, distinct))
    }

    /// [`received`](Self::received), and the distinct sequence numbers received by sessions
    /// the dispatcher moved.
    fn received_moved(&mut self, tag: &str) -> Result<(u64, u64, u64), Error> {
        let r = ask_all(&mut self.workers, &format!("report {tag}"), "report")?;
        let sum = |k: &str| r.iter().map(|l| field(l, k)).sum();
        Ok((sum("n"), sum("distinct"), sum("moved")))
    }

    /// Latencies of `tag` merged, and per sequence number the latest receipt.
    fn latencies(&mut self, tag: &str) -> Result<(Histogram<u64>, Vec<u64>), BoxError> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
        let mut last = std::collections::BTreeMap::<u64, u64>::new();
        for l in ask_all(&mut self.workers, &format!("report {tag}"), "report")? {
            for v in text_field(&l, "lats")
                .split(',')
                .filter_map(|v| v.parse().ok())
            {
                h.saturating_record(v);
            }
            for kv in text_field(&l, "last").split(',') {
                if let Some((s, v)) = kv.split_once(':')
                    && let (Ok(s), Ok(v)) = (s.parse::<u64>(), v.parse::<u64>())
                {
                    let e = last.entry(s).or_insert(0);
                    *e = (*e).max(v);
                }
            }
        }
        Ok((h, last.into_values().collect()))
    }

    fn api(&self) -> Result<ApiClient, Error> {
        ApiClient::connect(self.apis[0], DEVELOPMENT_TOKEN.to_owned())
            .map_err(|e| Error::io("cannot connect to node 1's API", e))
    }

    fn gateway_ticks(&self) -> u64 {
        self.gateways
            .iter()
            .map(|g| procs::cpu_ticks(g.pid()))
            .sum()
    }

    fn measure(&mut self, args: &Args) -> Result<Vec<(String, String)>, BoxError> {
        let n = self.sessions;
        let mut rows = vec![
            (
                "sessions".to_owned(),
                format!(
                    "{n} ({} gateways on port {}, {} load processes)",
                    self.gateways.len(),
                    self.port,
                    self.workers.len()
                ),
            ),
            (
                "time to connect all".into(),
                format!("{:.1} s", self.connect_secs),
            ),
        ];
        rows.append(&mut self.mem);

        // CPU with heartbeats only.
        let t0 = self.gateway_ticks();
        let w0 = Instant::now();
        procs::sleep(Duration::from_secs(args.idle_secs))?;
        let secs = (self.gateway_ticks() - t0) as f64 / procfs::ticks_per_sec();
        let window = w0.elapsed().as_secs_f64();
        rows.push((
            "gateway CPU, heartbeats only (summed over the gateways)".into(),
            format!(
                "{:.2} CPU s per minute ({:.1} s over {window:.0} s; {:.0} PINGs/s)",
                secs * 60.0 / window,
                secs,
                n as f64 / args.ping(n) as f64
            ),
        ));
        println!("idle CPU measured");

        // Unicast latency, a sample of users.
        let mut api = self.api()?;
        let sample: Vec<usize> = (0..args.sample.min(n))
            .map(|k| k * n / args.sample.min(n))
            .collect();
        for qos in [0u8, 1] {
            let tag = format!("u{qos}");
            let mut sent = 0u64;
            for (seq, &u) in sample.iter().enumerate() {
                procs::check()?;
                let body = format!(
                    "{{\"user\":\"u{u}\",\"payload\":\"{}\",\"qos\":{qos}}}",
                    payload(&tag, seq as u64)
                );
                if api.post("/v1/push/user", &body)?.0 == 200 {
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            procs::wait_until(Duration::from_secs(30), || {
                Ok(self.received(&tag)?.1 >= sent)
            })?;
            let (h, _) = self.latencies(&tag)?;
            rows.push((
                format!("unicast QoS{qos} publish-to-receipt, API -> node -> user"),
                format!(
                    "p50 {} µs, p99 {} µs, max {} µs ({} of {sent} received, {} users)",
                    h.value_at_quantile(0.5),
                    h.value_at_quantile(0.99),
                    h.max(),
                    h.len(),
                    sample.len()
                ),
            ));
        }
        println!("unicast measured");

        // Broadcasts to everyone.
        for b in 0..args.broadcasts {
            let body = format!(
                "{{\"room\":\"all\",\"payload\":\"{}\",\"qos\":0}}",
                payload("bc", b)
            );
            let (status, answer) = api.post("/v1/push/room", &body)?;
            if status != 200 {
                return Err(format!("the broadcast was refused: {status} {answer}").into());
            }
            let want = n as u64 * (b + 1);
            procs::wait_until(Duration::from_secs(60), || {
                Ok(self.received("bc")?.0 >= want)
            })?;
            procs::sleep(Duration::from_secs(1))?;
        }
        let (h, last) = self.latencies("bc")?;
        let mut sorted = last.clone();
        sorted.sort_unstable();
        rows.push((
            "QoS0 broadcast to everyone: last delivery".into(),
            format!(
                "median {:.0} ms, max {:.0} ms over {} broadcasts (delivery p50 {:.0} ms; {} of {} delivered)",
                sorted.get(sorted.len() / 2).copied().unwrap_or(0) as f64 / 1000.0,
                sorted.last().copied().unwrap_or(0) as f64 / 1000.0,
                sorted.len(),
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.len(),
                n as u64 * args.broadcasts
            ),
        ));
        println!("broadcast measured");

        rows.push(self.storm(args)?);
        println!("reconnect storm done");
        rows.push(self.kill(args)?);
        rows.push(self.counters());
        Ok(rows)
    }

    /// The gateways' own counters of what went wrong (or was dropped), summed over the live
    /// gateways from their `/metrics`: what explains a count that falls short.
    fn counters(&self) -> (String, String) {
        const WATCH: [&str; 11] = [
            "delivered",
            "dropped_mailbox",
            "gone",
            "heartbeat_timeouts",
            "auth_timeouts",
            "cluster_redis_errors",
            "cluster_jobs_refused",
            "cluster_bus_bad",
            "cluster_acks_lost",
            "cluster_stale_kicks",
            "cluster_broadcasts_unpublished",
        ];
        let mut sums = std::collections::BTreeMap::<String, u64>::new();
        let mut asked = 0;
        for api in &self.apis {
            let Ok(mut c) = ApiClient::connect(*api, DEVELOPMENT_TOKEN.to_owned()) else {
                continue;
            };
            let Ok((200, text)) = c.get("/metrics") else {
                continue;
            };
            asked += 1;
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let Some((name, value)) = line.rsplit_once(' ') else {
                    continue;
                };
                let name = name.split('{').next().unwrap_or(name);
                if WATCH.iter().any(|w| name.contains(w))
                    && let Ok(v) = value.trim().parse::<f64>()
                {
                    *sums.entry(name.to_owned()).or_default() += v as u64;
                }
            }
        }
        let list: Vec<String> = sums.iter().map(|(k, v)| format!("{k} {v}")).collect();
        (
            format!("gateway counters at the end (summed over {asked} live gateways)"),
            list.join(", "),
        )
    }

    /// Every `drop_every`-th user offline, one QoS1 message each, all reconnect at once.
    fn storm(&mut self, args: &Args) -> Result<(String, String), BoxError> {
        let dropped: u64 = ask_all(
            &mut self.workers,
            &format!("drop {}", args.drop_every),
            "dropped",
        )?
        .iter()
        .map(|l| field(l, "n"))
        .sum();
        // Let the gateways see the closes and unregister the users.
        procs::sleep(Duration::from_secs(3))?;
        let users: Vec<usize> = (0..self.sessions)
            .filter(|u| u.is_multiple_of(args.drop_every.max(1)))
            .collect();
        let (sent, refused) = self.publish_qos1("st", &users)?;
        let t = Instant::now();
        ask_all(&mut self.workers, "reconnect", "reconnecting")?;
        let n = self.sessions;
        let all_up = procs::wait_until(Duration::from_secs(120), || Ok(self.live()? >= n))?;
        let up = t.elapsed().as_secs_f64();
        // A message not received by then is counted as lost.
        let limit = Duration::from_secs(60 + sent / 1000);
        let all_in = procs::wait_until(limit, || Ok(self.received("st")?.1 >= sent))?;
        let all = t.elapsed().as_secs_f64();
        let (got, distinct) = self.received("st")?;
        let up = if all_up {
            format!("all up again in {up:.1} s")
        } else {
            format!("not all up again after {up:.1} s")
        };
        let delivered = if all_in {
            format!("all delivered in {all:.1} s")
        } else {
            format!(
                "the wait for the rest ended after {all:.1} s ({limit:?} after everyone was up)"
            )
        };
        Ok((
            format!(
                "reconnect storm: 1 user in {} offline, one QoS1 each, all back at once",
                args.drop_every
            ),
            format!(
                "{dropped} offline; {sent} QoS1 accepted ({refused} refused); {distinct} distinct ids received \
                 ({} lost, {} duplicates); {up}, {delivered}",
                sent.saturating_sub(distinct),
                got.saturating_sub(distinct)
            ),
        ))
    }

    /// QoS1 to a sample of users (over ~10 s, from another thread) while the last gateway is
    /// `kill -9`ed a third of the way in.
    fn kill(&mut self, args: &Args) -> Result<(String, String), BoxError> {
        let n = self.sessions;
        let m = args.kill_messages.min(n).max(1);
        let users: Vec<usize> = (0..m).map(|k| (k * n / m + 1) % n).collect();
        let (d0, m0) = (self.stat("dispatched")?, self.stat("moved")?);
        let victim = self.gateways.len() - 1;
        let pid = self.gateways[victim].pid();
        let fds = procs::open_files(pid);
        let survivors_before: Vec<usize> = self.gateways[..victim]
            .iter()
            .map(|g| procs::open_files(g.pid()))
            .collect();
        let pace = Duration::from_micros(10_000_000 / m as u64);
        let progress = AtomicU64::new(0);
        let api = self.apis[0];
        let (published, up, live) = std::thread::scope(|s| -> Result<_, BoxError> {
            let publisher = s.spawn(|| publish_paced(api, "kl", &users, pace, &progress));
            procs::wait_until(Duration::from_secs(60), || {
                Ok(progress.load(Relaxed) >= (m / 3) as u64 || publisher.is_finished())
            })?;
            self.gateways[victim].kill9();
            let t = Instant::now();
            let live = procs::wait_until(Duration::from_secs(120), || Ok(self.live()? >= n))?;
            let up = t.elapsed().as_secs_f64();
            let published = publisher.join().map_err(|_| "the publisher panicked")?;
            Ok((published, up, live))
        })?;
        let (sent, refused) = published.map_err(|e| e.to_string())?;
        procs::wait_until(Duration::from_secs(60), || {
            Ok(self.received("kl")?.1 >= sent)
        })?;
        let (got, distinct, to_moved) = self.received_moved("kl")?;
        let dials = self.stat("dispatched")? - d0;
        let moved = self.stat("moved")? - m0;
        let fds_after: Vec<usize> = self.gateways[..victim]
            .iter()
            .map(|g| procs::open_files(g.pid()))
            .collect();
        let gained: Vec<usize> = fds_after
            .iter()
            .zip(&survivors_before)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        Ok((
            format!("kill -9 of gateway n{} under QoS1 load", victim + 1),
            format!(
                "{fds} open files on it; {moved} sessions reconnected through the dispatcher \
                 ({dials} dials), all up {} {up:.1} s after the kill; {sent} QoS1 accepted \
                 ({refused} refused), {distinct} distinct ids received ({} lost, {} duplicates; \
                 {to_moved} of them after the session moved); open files per surviving gateway {} to {} \
                 (gained {} to {})",
                if live { "again" } else { "NOT" },
                sent.saturating_sub(distinct),
                got.saturating_sub(distinct),
                fds_after.iter().min().unwrap_or(&0),
                fds_after.iter().max().unwrap_or(&0),
                gained.iter().min().unwrap_or(&0),
                gained.iter().max().unwrap_or(&0)
            ),
        ))
    }

    /// One QoS1 message to each of `users` (sequence number = the user), through node 1's
    /// API on 4 connections at once: (accepted, refused).
    fn publish_qos1(&self, tag: &str, users: &[usize]) -> Result<(u64, u64), BoxError> {
        let sent = AtomicU64::new(0);
        let refused = AtomicU64::new(0);
        let chunk = users.len().div_ceil(4).max(1);
        std::thread::scope(|s| -> Result<(), BoxError> {
            let hs: Vec<_> = users
                .chunks(chunk)
                .map(|part| {
                    let (sent, refused, addr) = (&sent, &refused, self.apis[0]);
                    s.spawn(move || -> Result<(), String> {
                        let mut api = ApiClient::connect(addr, DEVELOPMENT_TOKEN.to_owned())
                            .map_err(|e| e.to_string())?;
                        for &u in part {
                            procs::check().map_err(|e| e.to_string())?;
                            let body = format!(
                                "{{\"user\":\"u{u}\",\"payload\":\"{}\",\"qos\":1}}",
                                payload(tag, u as u64)
                            );
                            match api.post("/v1/push/user", &body) {
                                Ok((200, _)) => sent.fetch_add(1, Relaxed),
                                _ => refused.fetch_add(1, Relaxed),
                            };
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in hs {
                h.join().map_err(|_| "a publisher panicked")??;
            }
            Ok(())
        })?;
        Ok((sent.load(Relaxed), refused.load(Relaxed)))
    }
}

/// One QoS1 message to each of `users` (sequence number = the user), `pace` apart, through
/// `addr`, counting the messages done in `progress`: (accepted, refused). A refused or failed
/// request (the API's Redis queue full, a connection error) is counted, and the connection
/// made again.
fn publish_paced(
    addr: SocketAddr,
    tag: &str,
    users: &[usize],
    pace: Duration,
    progress: &AtomicU64,
) -> Result<(u64, u64), Error> {
    let (mut sent, mut refused) = (0, 0);
    let mut api = None;
    let start = Instant::now();
    for (i, &u) in users.iter().enumerate() {
        procs::check()?;
        if api.is_none() {
            api = ApiClient::connect(addr, DEVELOPMENT_TOKEN.to_owned()).ok();
        }
        let body = format!(
            "{{\"user\":\"u{u}\",\"payload\":\"{}\",\"qos\":1}}",
            payload(tag, u as u64)
        );
        match api.as_mut().map(|a| a.post("/v1/push/user", &body)) {
            Some(Ok((200, _))) => sent += 1,
            Some(Ok(_)) => refused += 1,
            _ => {
                refused += 1;
                api = None;
            }
        }
        progress.store(i as u64 + 1, Relaxed);
        let due = start + pace * (i as u32 + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    Ok((sent, refused))
}

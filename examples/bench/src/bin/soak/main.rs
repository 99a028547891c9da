//! The soak (issue 18): one bounded command that runs the echo, RESP and push servers (their
//! release binaries, as child processes) under a mixed load with faults injected, then checks
//! that they survived it whole.
//!
//! ```sh
//! cargo run --release -p loopwire-bench --bin soak                # 10 minutes
//! cargo run --release -p loopwire-bench --bin soak -- --minutes 1 # a quick run
//! ```
//!
//! Servers: `echo`, `echo-lowfd` (the same with `RLIMIT_NOFILE` 256, set in the child before
//! exec), `resp`, `push-a` (the stable gateway, `--dev`), `push-b` (a gateway that is
//! `kill -9`ed and restarted on its ports, twice), and the push cluster ([`cluster`]): a real
//! `redis-server` (append-only file in a temporary directory) with two gateways in cluster
//! mode on it, `cluster-1` and `cluster-2`. Loads, each its own process
//! (`workers`): checked echo and RESP traffic (stopped with SIGSTOP for 5 s and continued),
//! 10 000 slowloris connections in three processes, half-open peers, peers that reset
//! mid-write (`SO_LINGER` 0), clients that never read while 1 GiB is offered, accept bursts
//! past `echo-lowfd`'s file limit, QoS1 receivers (stopped for up to 20 s, so their sessions
//! time out and log in again) fed through the push API by this process, sessions on
//! `push-b`, and on the cluster: QoS1 receivers on `cluster-2` fed through `cluster-1`'s API,
//! a room listener on each node fed room and everyone broadcasts through either API, and
//! logins moving between the nodes (policy `single`: each must kick the old session). Cluster
//! faults: `kill -9` of Redis, down 5 s (the API answers 503 meanwhile), restarted on its
//! append-only file, and `kill -9` of `cluster-2`, restarted. Every second it samples each
//! server's VmRSS and open files.
//!
//! At the end it prints a Markdown table and exits with status 1 if a check failed: every
//! server alive and answering; resident memory within the bound its watermarks give
//! (`checks::Samples::bound_kib`) and, after the warm-up (the first fifth), never more than
//! 10 % above the warm-up's peak; open files back to the idle baseline once the loads are
//! gone; no QoS1 message lost (every sequence number the API accepted was received); no
//! wrong echo or RESP answer; `echo-lowfd` answering after every burst; no `panicked at` on
//! any server's stderr; on the cluster, every QoS1 message the API accepted (2xx) received
//! at least once in per-user order across the Redis restart, 503 exactly while Redis is down,
//! broadcasts on both nodes, the cross-node kicks (see [`cluster::Driver::checks`]). Without
//! `redis-server` (and not root to install it) the cluster part fails with one check saying so.

mod checks;
mod cluster;
mod cluster_traffic;
mod faults;
mod proto;
mod servers;
mod traffic;
mod workers;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use loopwire_bench::server::free_port;
use loopwire_bench::{Error, tools};
use loopwire_examples::cli::BoxError;

use checks::{Check, Samples, mib, table};
use servers::{Running, Spec, fd_count, peak_rss_kib, rss_kib};
use workers::{Kind, Targets, Worker, WorkerArgs};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "soak: echo, resp and push under mixed load and injected faults, then checks")]
struct Args {
    /// Minutes of load.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    minutes: u64,
    /// Slowloris connections in all (split over three processes and three servers).
    #[arg(long, default_value_t = 10_000)]
    slowloris: usize,
    /// MiB offered to the clients that never read.
    #[arg(long, default_value_t = 1024)]
    offer_mib: u64,
    /// Do not build the release binaries first.
    #[arg(long)]
    no_build: bool,
    #[command(subcommand)]
    worker: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// One load process (started by the soak itself).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// QoS1 receivers (users `q0` .. `q7`).
const QOS1_USERS: usize = 8;
/// How long QoS1 receivers keep going after the load, to collect retransmissions.
const DRAIN_SECS: u64 = 25;

fn main() -> std::process::ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    if let Some(Sub::Worker(w)) = &args.worker {
        workers::run(w);
        return Ok(());
    }
    let total = args.minutes * 60;
    if !args.no_build {
        build()?;
    }
    let bins = tools::bin_dir()?;
    let dir = std::env::temp_dir().join(format!("loopwire-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create the soak directory", e))?;
    let soak = Soak::start(&bins, &dir)?;
    eprintln!(
        "soak: {} minutes, servers' stderr in {}",
        args.minutes,
        dir.display()
    );
    let checks = soak.run(&args, total)?;
    println!("{}", table(&checks));
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        return Err(format!("{failed} of {} checks failed", checks.len()).into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Builds the servers' release binaries.
fn build() -> Result<(), Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "-q"])
        .args(["-p", "loopwire-examples", "--bin", "echo"])
        .args(["-p", "loopwire-resp", "--bin", "resp"])
        .args(["-p", "loopwire-push", "--bin", "push"])
        .status()
        .map_err(|e| Error::io("cannot run cargo", e))?;
    if !status.success() {
        return Err(Error::msg("the release build failed"));
    }
    Ok(())
}

/// Where the push cluster joins: `redis-server` (found, or installed as root) on its free
/// port with its data in a temporary directory, then the two clustered gateways on it.
fn cluster_hook(
    bins: &Path,
    dir: &Path,
    a: &cluster::Addrs,
) -> Result<(Vec<Running>, cluster::DataDir), BoxError> {
    let redis = cluster::redis_server()?;
    let data = cluster::DataDir(
        std::env::temp_dir().join(format!("loopwire-soak-redis-{}", std::process::id())),
    );
    std::fs::create_dir_all(&data.0)
        .map_err(|e| Error::io("cannot create Redis's data directory", e))?;
    let mut out = Vec::new();
    for s in cluster::specs(&redis, bins, &data.0, a) {
        out.push(Running::start(s, dir)?);
    }
    Ok((out, data))
}

/// The servers and where they listen.
struct Soak {
    servers: Vec<Running>,
    targets: Targets,
    api_b: SocketAddr,
    /// The cluster's side of the soak, or why the cluster could not run.
    cluster: Result<cluster::Driver, String>,
    /// Dropped after `servers` (Redis killed first).
    _redis_data: Option<cluster::DataDir>,
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Soak {
    fn start(bins: &Path, dir: &Path) -> Result<Self, BoxError> {
        let bin = |name: &str| -> String { bins.join(name).display().to_string() };
        let t = Targets {
            echo: local(free_port()?),
            lowfd: local(free_port()?),
            resp: local(free_port()?),
            push: local(free_port()?),
            api: local(free_port()?),
            push_b: local(free_port()?),
            c1: local(free_port()?),
            c2: local(free_port()?),
        };
        let api_b = local(free_port()?);
        let ca = cluster::Addrs {
            redis: local(free_port()?),
            c1: t.c1,
            api1: local(free_port()?),
            c2: t.c2,
            api2: local(free_port()?),
        };
        let echo = |name, addr: SocketAddr, nofile| Spec {
            name,
            argv: vec![
                bin("echo"),
                "--addr".into(),
                format!("tcp://{addr}"),
                "--loops".into(),
                "2".into(),
            ],
            addr,
            nofile,
        };
        let push = |name, addr: SocketAddr, api: SocketAddr| Spec {
            name,
            argv: vec![
                bin("push"),
                "--dev".into(),
                "--addr".into(),
                addr.to_string(),
                "--api-addr".into(),
                api.to_string(),
                "--loops".into(),
                "2".into(),
            ],
            addr,
            nofile: None,
        };
        let specs = vec![
            echo("echo", t.echo, None),
            echo("echo-lowfd", t.lowfd, Some(256)),
            Spec {
                name: "resp",
                argv: vec![
                    bin("resp"),
                    "--addr".into(),
                    t.resp.to_string(),
                    "--loops".into(),
                    "2".into(),
                ],
                addr: t.resp,
                nofile: None,
            },
            push("push-a", t.push, t.api),
            push("push-b", t.push_b, api_b),
        ];
        let mut servers = Vec::new();
        for s in specs {
            servers.push(Running::start(s, dir)?);
        }
        let (cluster, redis_data) = match cluster_hook(bins, dir, &ca) {
            Ok((running, data)) => {
                servers.extend(running);
                (Ok(cluster::Driver::new(ca)), Some(data))
            }
            Err(e) => {
                eprintln!("soak: {e}");
                (Err(e.to_string()), None)
            }
        };
        Ok(Self {
            servers,
            targets: t,
            api_b,
            cluster,
            _redis_data: redis_data,
        })
    }

    fn server(&mut self, name: &str) -> &mut Running {
        let i = self
            .servers
            .iter()
            .position(|s| s.spec.name == name)
            .unwrap_or(0);
        &mut self.servers[i]
    }

    fn run(mut self, args: &Args, total: u64) -> Result<Vec<Check>, BoxError> {
        let t = self.targets;
        // The 64 KiB value the resetting and never-reading clients GET.
        let mut r = std::io::BufReader::new(proto::connect(t.resp)?);
        std::io::Write::write_all(
            r.get_mut(),
            &proto::resp_command(&[b"SET", b"soak:big", &vec![b'b'; 64 * 1024]]),
        )?;
        proto::resp_reply(&mut r)?;
        drop(r);
        std::thread::sleep(Duration::from_secs(1));
        let mut samples: Vec<Samples> = self
            .servers
            .iter()
            .map(|s| Samples {
                base_rss: rss_kib(s.pid()).unwrap_or(0),
                base_fds: fd_count(s.pid()).unwrap_or(0),
                points: Vec::new(),
            })
            .collect();

        let per_proc = args.slowloris.div_ceil(9);
        let offer = args.offer_mib * 1024 * 1024;
        let mut ws = vec![
            Worker::start("mixed", Kind::Mixed, total, 0, 0, &t)?,
            Worker::start("half-open", Kind::HalfOpen, total, 100, 0, &t)?,
            Worker::start("reset", Kind::Reset, total, 0, 0, &t)?,
            Worker::start("never-read", Kind::NeverRead, total, 0, offer, &t)?,
            Worker::start("fd-burst", Kind::FdBurst, total, 600, 0, &t)?,
            Worker::start("qos1", Kind::Qos1, total + DRAIN_SECS, QOS1_USERS, 0, &t)?,
            Worker::start("push-b sessions", Kind::Sessions, total, 20, 0, &t)?,
        ];
        if self.cluster.is_ok() {
            ws.push(Worker::start_late(
                "cluster receivers",
                Kind::ClusterReceivers,
                total + DRAIN_SECS,
                cluster::RECEIVERS,
                0,
                total / 2,
                &t,
            )?);
            ws.push(Worker::start(
                "cluster movers",
                Kind::ClusterMovers,
                total,
                cluster::MOVERS,
                0,
                &t,
            )?);
        }
        for i in 0..3 {
            ws.push(Worker::start(
                &format!("slowloris-{i}"),
                Kind::Slowloris,
                total,
                per_proc,
                0,
                &t,
            )?);
        }

        let start = Instant::now();
        let at = |f: f64| Duration::from_secs_f64(total as f64 * f);
        let qos1_stop = (total / 6).clamp(5, 20);
        let mut events: Vec<(Duration, Event)> = vec![
            (at(0.3), Event::Stop("mixed")),
            (at(0.3) + Duration::from_secs(5), Event::Cont("mixed")),
            (at(0.4), Event::Kill),
            (at(0.5), Event::Stop("qos1")),
            (
                at(0.5) + Duration::from_secs(qos1_stop),
                Event::Cont("qos1"),
            ),
            (at(0.7), Event::Kill),
        ];
        if self.cluster.is_ok() {
            events.extend([
                (at(0.35), Event::RedisKill),
                (at(0.35) + cluster::REDIS_DOWN, Event::RedisStart),
                (at(0.6), Event::ClusterKill),
            ]);
        }
        events.sort_by_key(|e| e.0);
        let mut events = events.into_iter().peekable();
        let (mut published, mut publish_errors) = (BTreeSet::new(), 0u64);
        let mut api = proto::Api::connect(t.api).ok();
        let (mut seq, mut restarts_ok, mut restarts) = (0u64, 0u32, 0u32);
        let mut next_sample = Duration::ZERO;
        while start.elapsed() < at(1.0) {
            let now = start.elapsed();
            while let Some((when, ev)) = events.next_if(|e| e.0 <= now) {
                eprintln!("soak: {:>5.0} s {ev:?}", when.as_secs_f64());
                match ev {
                    Event::Stop(w) | Event::Cont(w) => {
                        let sig = if matches!(ev, Event::Stop(_)) {
                            libc::SIGSTOP
                        } else {
                            libc::SIGCONT
                        };
                        ws.iter()
                            .filter(|x| x.name == w)
                            .for_each(|x| x.signal(sig));
                    }
                    Event::RedisKill | Event::RedisStart | Event::ClusterKill => {
                        let name = if matches!(ev, Event::ClusterKill) {
                            "cluster-2"
                        } else {
                            "redis"
                        };
                        let i = self.servers.iter().position(|s| s.spec.name == name);
                        if let (Ok(d), Some(i)) = (self.cluster.as_mut(), i) {
                            let s = &mut self.servers[i];
                            match ev {
                                Event::RedisKill => d.kill_redis(s),
                                Event::RedisStart => d.start_redis(s),
                                _ => d.kill_gateway(s),
                            }
                        }
                    }
                    Event::Kill => {
                        restarts += 1;
                        let b = self.server("push-b");
                        b.kill9();
                        std::thread::sleep(Duration::from_millis(500));
                        match b.restart() {
                            Ok(()) => restarts_ok += 1,
                            Err(e) => eprintln!("soak: {e}"),
                        }
                    }
                }
            }
            if now >= next_sample {
                next_sample += Duration::from_secs(1);
                for (s, smp) in self.servers.iter().zip(samples.iter_mut()) {
                    if let (Some(rss), Some(fds)) = (rss_kib(s.pid()), fd_count(s.pid())) {
                        smp.points.push((now.as_secs_f64(), rss, fds));
                    }
                }
            }
            // QoS1 through the API, about 20 a second, until 85 % of the run.
            if now >= Duration::from_secs(2) && now < at(0.85) {
                let user = format!("q{}", seq % QOS1_USERS as u64);
                let body = format!(r#"{{"user":"{user}","payload":"q{seq}","qos":1}}"#);
                match api.as_mut().map(|a| a.post("/v1/push/user", &body)) {
                    Some(Ok((200, _))) => {
                        published.insert(seq);
                    }
                    _ => {
                        publish_errors += 1;
                        api = proto::Api::connect(t.api).ok();
                    }
                }
                seq += 1;
                if let Ok(d) = self.cluster.as_mut() {
                    d.tick();
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("soak: load over, collecting the workers");
        let mut results = Vec::new();
        for w in ws {
            let name = w.name.clone();
            let grace = if name == "qos1" || name == "cluster receivers" {
                Duration::from_secs(DRAIN_SECS + 20)
            } else {
                Duration::from_secs(30)
            };
            results.push((name, w.finish(grace)));
        }
        self.verdict(
            &samples,
            total,
            results,
            &published,
            publish_errors,
            (restarts, restarts_ok),
        )
    }

    fn verdict(
        &mut self,
        samples: &[Samples],
        total: u64,
        results: Vec<(String, Option<workers::Summary>)>,
        published: &BTreeSet<u64>,
        publish_errors: u64,
        (restarts, restarts_ok): (u32, u32),
    ) -> Result<Vec<Check>, BoxError> {
        let mut checks = Vec::new();
        let result = |name: &str| {
            results
                .iter()
                .find(|r| r.0 == name)
                .and_then(|r| r.1.clone())
        };
        for (name, r) in &results {
            if r.is_none() {
                checks.push(Check::new(format!("worker {name}"), "no summary", false));
            }
        }
        let warm = total as f64 / 5.0;
        // Files back to the idle baseline: the loads are gone; wait (bounded) for the
        // servers to see every close.
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let back = self
                .servers
                .iter()
                .zip(samples)
                .all(|(s, smp)| fd_count(s.pid()).is_some_and(|n| n <= smp.base_fds));
            if back || Instant::now() > end {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        for (s, smp) in self.servers.iter_mut().zip(samples) {
            let name = s.spec.name;
            // Counted before the probe below opens a connection of its own.
            let fds = fd_count(s.pid()).unwrap_or(usize::MAX);
            let alive = s.alive();
            let mut apis = vec![("push-a", self.targets.api), ("push-b", self.api_b)];
            if let Ok(d) = &self.cluster {
                apis.extend(d.apis());
            }
            let answers = alive && answers(name, &s.spec, &apis);
            checks.push(Check::new(
                format!("{name}: alive and answering"),
                format!("started {} time(s)", s.starts),
                answers,
            ));
            let extra = match name {
                // One never-reading session: its mailbox (256) and window (64) of 16 KiB frames.
                "push-a" | "push-b" | "cluster-1" | "cluster-2" => (256 + 64) * 16,
                // The 1000 soak keys and the 64 KiB value (RESP asks `is_writable` before
                // each command, so a reply of it passes the watermark by one value at most,
                // within PER_CONN_KIB).
                "resp" => 1024,
                _ => 0,
            };
            let bound = if name == "redis" {
                // Not a loopwire server: a sanity bound, its idle size plus 64 MiB (the
                // soak's data set is a few thousand short messages and registry entries).
                smp.base_rss + 64 * 1024
            } else {
                smp.bound_kib(extra)
            };
            // The kernel's high-water mark, not the samples: a spike between two samples
            // counts too.
            let peak = peak_rss_kib(s.pid())
                .unwrap_or(0)
                .max(smp.max_rss(0.0, f64::MAX).unwrap_or(0));
            checks.push(Check::new(
                if name == "redis" {
                    format!("{name}: RSS within idle + 64 MiB")
                } else {
                    format!("{name}: RSS within the watermark bound")
                },
                format!(
                    "peak {} ≤ {} (idle {}, {} connections at peak)",
                    mib(peak),
                    mib(bound),
                    mib(smp.base_rss),
                    smp.peak_fds().saturating_sub(smp.base_fds)
                ),
                peak <= bound,
            ));
            if s.starts == 1 {
                let warm_peak = smp.max_rss(0.0, warm).unwrap_or(0);
                let after = smp.max_rss(warm, f64::MAX).unwrap_or(0);
                let ratio = after as f64 / warm_peak.max(1) as f64;
                checks.push(Check::new(
                    format!("{name}: RSS flat after warm-up"),
                    format!(
                        "max after {} / max during warm-up {} = {ratio:.3} (≤ 1.10)",
                        mib(after),
                        mib(warm_peak)
                    ),
                    ratio <= 1.10,
                ));
            }
            checks.push(Check::new(
                format!("{name}: open files back to baseline"),
                format!(
                    "{fds} at the end, {} idle, {} at peak",
                    smp.base_fds,
                    smp.peak_fds()
                ),
                fds <= smp.base_fds,
            ));
            let panics = s.panics();
            checks.push(Check::new(
                format!("{name}: no `panicked at` on stderr"),
                format!("{panics}"),
                panics == 0,
            ));
        }
        // QoS1.
        let got: BTreeSet<u64> = result("qos1")
            .and_then(|r| r.texts.get("seqs").cloned())
            .map(|l| l.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        let lost: Vec<&u64> = published.iter().filter(|s| !got.contains(s)).collect();
        checks.push(Check::new(
            "push-a: no QoS1 message lost",
            format!(
                "{} accepted by the API, {} received, {} lost{} ({} API calls failed, not counted)",
                published.len(),
                published.iter().filter(|s| got.contains(s)).count(),
                lost.len(),
                if lost.is_empty() {
                    String::new()
                } else {
                    format!(" (first: {:?})", &lost[..lost.len().min(5)])
                },
                publish_errors
            ),
            !published.is_empty() && lost.is_empty(),
        ));
        match &self.cluster {
            Ok(d) => checks.extend(d.checks(
                result("cluster receivers").as_ref(),
                result("cluster movers").as_ref(),
            )),
            Err(e) => checks.push(Check::new("cluster: redis-server available", e, false)),
        }
        if let Some(m) = result("mixed") {
            checks.push(Check::new(
                "echo + resp: every answer right",
                format!(
                    "{} checked operations, {} wrong, {} reconnects",
                    m.get("ops"),
                    m.get("mismatches"),
                    m.get("reconnects")
                ),
                m.get("ops") > 0 && m.get("mismatches") == 0,
            ));
        }
        if let Some(f) = result("fd-burst") {
            checks.push(Check::new(
                "echo-lowfd: answers after every accept burst",
                format!(
                    "{} bursts of up to {} connections (limit 256 files), {} probes ok, {} failed",
                    f.get("bursts"),
                    f.get("most_opened"),
                    f.get("probes_ok"),
                    f.get("probes_failed")
                ),
                f.get("bursts") > 0 && f.get("probes_failed") == 0,
            ));
        }
        checks.push(Check::new(
            "push-b: kill -9 and restart",
            format!("{restarts_ok} of {restarts} restarts served again"),
            restarts > 0 && restarts_ok == restarts,
        ));
        // Figures without a verdict of their own.
        let info = |name: &str, keys: &[&str]| {
            result(name).map(|r| {
                keys.iter()
                    .map(|k| format!("{k} {}", r.get(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        let slow: u64 = (0..3)
            .filter_map(|i| result(&format!("slowloris-{i}")))
            .map(|r| r.get("conns"))
            .sum();
        let figures = [
            ("slowloris connections", Some(format!("{slow} held"))),
            (
                "never-read (bytes)",
                info(
                    "never-read",
                    &[
                        "echo_offered",
                        "echo_taken",
                        "echo_closed",
                        "resp_offered",
                        "push_offered",
                    ],
                ),
            ),
            ("resets mid-write", info("reset", &["resets"])),
            ("half-open peers", info("half-open", &["opened"])),
            ("QoS1 receivers", info("qos1", &["connections", "distinct"])),
            ("push-b sessions", info("push-b sessions", &["connections"])),
        ];
        for (what, f) in figures {
            checks.push(Check::new(
                what,
                f.unwrap_or_else(|| "no summary".into()),
                true,
            ));
        }
        // A graceful stop last (SIGTERM); a panic on the way out shows on stderr too.
        let mut late = 0;
        for s in &mut self.servers {
            let before = s.panics();
            s.stop();
            late += s.panics().saturating_sub(before);
        }
        checks.push(Check::new(
            "every server: SIGTERM stop without a panic",
            format!("{late} panics"),
            late == 0,
        ));
        Ok(checks)
    }
}

/// A scheduled fault.
#[derive(Debug, Clone, Copy)]
enum Event {
    /// SIGSTOP to the named worker.
    Stop(&'static str),
    /// SIGCONT to it.
    Cont(&'static str),
    /// `kill -9` of push-b, then its restart.
    Kill,
    /// `kill -9` of the cluster's Redis.
    RedisKill,
    /// Redis started again.
    RedisStart,
    /// `kill -9` of `cluster-2`, then its restart.
    ClusterKill,
}

/// Whether the server answers its protocol on a new connection.
fn answers(name: &str, spec: &Spec, apis: &[(&str, SocketAddr)]) -> bool {
    match name {
        "echo" | "echo-lowfd" => faults::probe_echo(spec.addr, Duration::from_secs(5)),
        "resp" | "redis" => (|| -> std::io::Result<bool> {
            let mut r = std::io::BufReader::new(proto::connect(spec.addr)?);
            std::io::Write::write_all(r.get_mut(), &proto::resp_command(&[b"PING"]))?;
            Ok(proto::resp_reply(&mut r)? == proto::Reply::Line("+PONG".into()))
        })()
        .unwrap_or(false),
        "push-a" | "push-b" | "cluster-1" | "cluster-2" => {
            let Some(&(_, api)) = apis.iter().find(|a| a.0 == name) else {
                return false;
            };
            let opts = loopwire_push::client::ClientOptions {
                reconnect: false,
                io_timeout: Duration::from_secs(5),
                ..Default::default()
            };
            let login =
                loopwire_push::client::Client::connect(spec.addr, &proto::token("probe"), opts)
                    .is_ok();
            let health = proto::Api::connect(api)
                .and_then(|mut a| a.call("GET", "/health", ""))
                .is_ok_and(|(code, _)| code == 200);
            login && health
        }
        _ => false,
    }
}

//! Load processes: the soak runs each load as a child process of its own executable
//! (`soak worker KIND ...`), so that one can be stopped and continued (SIGSTOP / SIGCONT)
//! and no process holds more than 20 000 open files. A worker runs until its deadline and
//! prints one line, `result key=value ...`, which the soak reads back.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use loopwire_bench::Error;

use super::{cluster_traffic, faults, traffic};

/// A worker's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// Echo and RESP with checked answers (the process that is stopped and continued).
    Mixed,
    /// Connections trickling one byte every ~10 s.
    Slowloris,
    /// Connections that send half a frame and stop.
    HalfOpen,
    /// Peers that reset mid-write.
    Reset,
    /// Clients that never read while a lot is offered.
    NeverRead,
    /// Accept bursts past the low-file-limit server's limit.
    FdBurst,
    /// QoS1 receivers on the stable gateway.
    Qos1,
    /// Sessions on the gateway that is killed and restarted.
    Sessions,
    /// QoS1 receivers and room listeners on the push cluster.
    ClusterReceivers,
    /// Logins moving between the cluster's nodes.
    ClusterMovers,
}

/// The hidden `worker` subcommand's options.
#[derive(Debug, Clone, Args)]
pub(crate) struct WorkerArgs {
    /// The load.
    #[arg(value_enum)]
    pub(crate) kind: Kind,
    /// Seconds to run.
    #[arg(long)]
    pub(crate) secs: u64,
    /// Connections per server, sessions or users (the load's own count).
    #[arg(long, default_value_t = 1)]
    pub(crate) n: usize,
    /// Bytes offered to never-reading clients.
    #[arg(long, default_value_t = 0)]
    pub(crate) offer: u64,
    /// Seconds before the cluster's late QoS1 receiver logs in.
    #[arg(long, default_value_t = 0)]
    pub(crate) late_secs: u64,
    #[command(flatten)]
    pub(crate) targets: Targets,
}

/// Where the servers are.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Targets {
    /// The echo server.
    #[arg(long)]
    pub(crate) echo: SocketAddr,
    /// The echo server with the low file limit.
    #[arg(long)]
    pub(crate) lowfd: SocketAddr,
    /// The RESP server.
    #[arg(long)]
    pub(crate) resp: SocketAddr,
    /// The stable push gateway.
    #[arg(long)]
    pub(crate) push: SocketAddr,
    /// Its HTTP API.
    #[arg(long)]
    pub(crate) api: SocketAddr,
    /// The push gateway that is killed and restarted.
    #[arg(long)]
    pub(crate) push_b: SocketAddr,
    /// The cluster's first node (its API takes the soak's pushes).
    #[arg(long)]
    pub(crate) c1: SocketAddr,
    /// The cluster's second node (its QoS1 receivers' node; the one killed and restarted).
    #[arg(long)]
    pub(crate) c2: SocketAddr,
}

impl Targets {
    fn argv(&self) -> Vec<String> {
        [
            ("--echo", self.echo),
            ("--lowfd", self.lowfd),
            ("--resp", self.resp),
            ("--push", self.push),
            ("--api", self.api),
            ("--push-b", self.push_b),
            ("--c1", self.c1),
            ("--c2", self.c2),
        ]
        .iter()
        .flat_map(|(k, v)| [(*k).to_owned(), v.to_string()])
        .collect()
    }
}

/// What a worker reports: counters, and texts (the QoS1 sequence list).
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub(crate) counts: BTreeMap<String, u64>,
    pub(crate) texts: BTreeMap<String, String>,
}

impl Summary {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn with(mut self, k: &str, v: u64) -> Self {
        self.counts.insert(k.to_owned(), v);
        self
    }

    pub(crate) fn with_text(mut self, k: &str, v: String) -> Self {
        self.texts.insert(k.to_owned(), v);
        self
    }

    /// A counter, 0 when absent.
    pub(crate) fn get(&self, k: &str) -> u64 {
        self.counts.get(k).copied().unwrap_or(0)
    }

    /// The `result ...` line.
    fn line(&self) -> String {
        let mut s = "result".to_owned();
        for (k, v) in &self.counts {
            let _ = write!(s, " {k}={v}");
        }
        for (k, v) in &self.texts {
            let _ = write!(s, " {k}={v}");
        }
        s
    }

    fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("result")?;
        let mut out = Self::new();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            match v.parse() {
                Ok(n) => {
                    out.counts.insert(k.to_owned(), n);
                }
                Err(_) => {
                    out.texts.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Some(out)
    }
}

/// Runs a worker (the `worker` subcommand) and prints its summary.
pub(crate) fn run(a: &WorkerArgs) {
    let until = Instant::now() + Duration::from_secs(a.secs);
    let t = &a.targets;
    let s = match a.kind {
        Kind::Mixed => traffic::mixed(t, until),
        Kind::Slowloris => faults::slowloris(t, a.n, until),
        Kind::HalfOpen => faults::half_open(t, a.n, until),
        Kind::Reset => faults::resets(t, until),
        Kind::NeverRead => faults::never_read(t, a.offer, until),
        Kind::FdBurst => faults::fd_bursts(t.lowfd, a.n, until),
        Kind::Qos1 => traffic::qos1(t, a.n, until),
        Kind::Sessions => traffic::sessions(t.push_b, a.n, until),
        Kind::ClusterReceivers => {
            cluster_traffic::receivers(t, a.n, Duration::from_secs(a.late_secs), until)
        }
        Kind::ClusterMovers => cluster_traffic::movers(t, a.n, until),
    };
    println!("{}", s.line());
}

/// A running worker process.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) name: String,
    child: Child,
    out: Option<std::thread::JoinHandle<Option<Summary>>>,
}

impl Worker {
    /// Starts `soak worker KIND` for `secs` seconds.
    pub(crate) fn start(
        name: &str,
        kind: Kind,
        secs: u64,
        n: usize,
        offer: u64,
        t: &Targets,
    ) -> Result<Self, Error> {
        Self::start_late(name, kind, secs, n, offer, 0, t)
    }

    /// [`start`](Self::start) with `--late-secs`.
    pub(crate) fn start_late(
        name: &str,
        kind: Kind,
        secs: u64,
        n: usize,
        offer: u64,
        late_secs: u64,
        t: &Targets,
    ) -> Result<Self, Error> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::io("cannot find the soak's own executable", e))?;
        let kind = kind
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        let mut child = Command::new(exe)
            .args(["worker", &kind, "--secs", &secs.to_string()])
            .args(["--n", &n.to_string(), "--offer", &offer.to_string()])
            .args(["--late-secs", &late_secs.to_string()])
            .args(t.argv())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::io(format!("cannot start worker {name}"), e))?;
        let out = child.stdout.take().map(|o| {
            std::thread::spawn(move || {
                BufReader::new(o)
                    .lines()
                    .map_while(Result::ok)
                    .find_map(|l| Summary::parse(&l))
            })
        });
        Ok(Self {
            name: name.to_owned(),
            child,
            out,
        })
    }

    /// Sends `sig` (SIGSTOP, SIGCONT).
    pub(crate) fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid; no memory is passed.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    /// Waits for it to finish (at most `grace`, then kills it) and returns its summary.
    pub(crate) fn finish(mut self, grace: Duration) -> Option<Summary> {
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.out.take().and_then(|h| h.join().ok().flatten())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_reads_back_from_its_line() {
        let s = Summary::new()
            .with("ops", 12)
            .with("zero", 0)
            .with_text("seqs", "1,2,5".into());
        let back = Summary::parse(&s.line()).expect("parses");
        assert_eq!(back.get("ops"), 12);
        assert_eq!(back.get("zero"), 0);
        assert_eq!(back.get("absent"), 0);
        assert_eq!(back.texts.get("seqs").map(String::as_str), Some("1,2,5"));
        assert!(Summary::parse("noise").is_none());
    }
}

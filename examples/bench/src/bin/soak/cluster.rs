//! The push cluster under soak: a real `redis-server` on a free port (append-only file,
//! `appendfsync always`, in a temporary directory removed at the end) and two `push`
//! gateways in cluster mode on it (`cluster-1`, `cluster-2`, policy `single`), started like
//! the other servers. [`Driver`] is the soak's side of the cluster's traffic and faults:
//! QoS1 pushes through `cluster-1`'s API to users on `cluster-2`, room and everyone QoS0
//! broadcasts through either API, `kill -9` and restart of Redis (the API must answer 503
//! meanwhile) and of `cluster-2`, the recovery times, and the cluster's checks.
//!
//! Why the append-only file: a Redis restarted without persistence comes back empty, and the
//! stored QoS1 messages of users who were offline would be gone with it: "no QoS1 message
//! lost" could then only cover what was delivered before the restart. With every write
//! fsynced before Redis replies, a message the API accepted (2xx) survives the restart, so
//! the check covers the whole run.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::checks::Check;
use super::cluster_traffic::{LATE, ROOM, unix_ms};
use super::proto::Api;
use super::servers::{Running, Spec};
use super::workers::Summary;

/// QoS1 receivers on `cluster-2` (users `c0` ..), besides [`LATE`].
pub(crate) const RECEIVERS: usize = 6;
/// Users whose logins move between the nodes (`m0` ..).
pub(crate) const MOVERS: usize = 4;
/// How long Redis stays down.
pub(crate) const REDIS_DOWN: Duration = Duration::from_secs(5);
/// Time after a fault's recovery during which a move may still miss its kick: the registry
/// entries' lifetime with the default refresh (3 × 5 s), within which a killed node's
/// entries linger and the nodes re-register their users.
const SETTLE_MS: u64 = 15_000;

/// The `redis-server` to run: on the `PATH` or `/usr/bin`; when missing and the soak runs as
/// root, Debian's `redis-server` package is installed first (as `.ci/run` does).
pub(crate) fn redis_server() -> Result<PathBuf, String> {
    let find = || {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([PathBuf::from("/usr/bin")])
            .map(|d| d.join("redis-server"))
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("soak: redis-server is missing: installing Debian's redis-server");
        let ok = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                 --no-install-recommends redis-server >/dev/null",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if let (true, Some(p)) = (ok, find()) {
            return Ok(p);
        }
    }
    Err(
        "redis-server is not installed (Debian: `apt-get install redis-server`): \
         the push cluster part cannot run"
            .into(),
    )
}

/// Where the cluster's processes listen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addrs {
    pub(crate) redis: SocketAddr,
    pub(crate) c1: SocketAddr,
    pub(crate) api1: SocketAddr,
    pub(crate) c2: SocketAddr,
    pub(crate) api2: SocketAddr,
}

/// Redis's data directory (its append-only file); removed when dropped, after Redis.
#[derive(Debug)]
pub(crate) struct DataDir(pub(crate) PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cluster's servers: Redis first, then the two gateways.
pub(crate) fn specs(redis: &Path, bins: &Path, data: &Path, a: &Addrs) -> Vec<Spec> {
    let s = |p: &Path| p.display().to_string();
    let url = format!("redis://{}", a.redis);
    let gw = |name, node: &str, addr: SocketAddr, api: SocketAddr| Spec {
        name,
        argv: [
            &s(&bins.join("push")),
            "--dev",
            "--addr",
            &addr.to_string(),
            "--api-addr",
            &api.to_string(),
            "--loops",
            "2",
            "--redis",
            &url,
            "--node-id",
            node,
            "--policy",
            "single",
        ]
        .map(str::to_owned)
        .to_vec(),
        addr,
        nofile: None,
    };
    vec![
        Spec {
            name: "redis",
            argv: [
                &s(redis),
                "--port",
                &a.redis.port().to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &s(data),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]
            .map(str::to_owned)
            .to_vec(),
            addr: a.redis,
            nofile: None,
        },
        gw("cluster-1", "soak-1", a.c1, a.api1),
        gw("cluster-2", "soak-2", a.c2, a.api2),
    ]
}

/// The soak's side of the cluster (see the module docs).
#[derive(Debug)]
pub(crate) struct Driver {
    a: Addrs,
    api: [Option<Api>; 2],
    ticks: u64,
    seq: u64,
    /// QoS1 sequence numbers `cluster-1`'s API accepted (2xx).
    accepted: BTreeSet<u64>,
    /// Those for [`LATE`] accepted before Redis was killed (offline, stored in Redis only).
    late_stored: BTreeSet<u64>,
    /// 503 answers while Redis was down (kill to the first 2xx after its restart).
    unavailable_down: u64,
    /// 503 answers while Redis was up: there should be none.
    unavailable_up: u64,
    /// 2xx answers while Redis was down: there should be none.
    accepted_down: u64,
    /// Other answers and broken connections.
    failed: u64,
    kseq: u64,
    room_ok: BTreeSet<u64>,
    all_ok: BTreeSet<u64>,
    bcast_failed: u64,
    redis_killed: Option<Instant>,
    redis_started: Option<Instant>,
    first_503: Option<Duration>,
    redis_recovery: Option<Duration>,
    redis_restarts: (u32, u32),
    gw_killed: Option<Instant>,
    gw_accepting: Option<Duration>,
    gw_users_back: Option<Duration>,
    gw_restarts: (u32, u32),
    /// Fault windows, Unix ms (end `u64::MAX` while open).
    windows: Vec<(u64, u64)>,
    /// When the driver was made, Unix ms (times in the figures count from it).
    t0: u64,
}

/// Whether an answer is a 2xx.
fn ok(code: u16) -> bool {
    (200..300).contains(&code)
}

impl Driver {
    pub(crate) fn new(a: Addrs) -> Self {
        Self {
            a,
            api: [None, None],
            ticks: 0,
            seq: 0,
            accepted: BTreeSet::new(),
            late_stored: BTreeSet::new(),
            unavailable_down: 0,
            unavailable_up: 0,
            accepted_down: 0,
            failed: 0,
            kseq: 0,
            room_ok: BTreeSet::new(),
            all_ok: BTreeSet::new(),
            bcast_failed: 0,
            redis_killed: None,
            redis_started: None,
            first_503: None,
            redis_recovery: None,
            redis_restarts: (0, 0),
            gw_killed: None,
            gw_accepting: None,
            gw_users_back: None,
            gw_restarts: (0, 0),
            windows: Vec::new(),
            t0: unix_ms(),
        }
    }

    /// The gateways' API addresses by server name.
    pub(crate) fn apis(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![("cluster-1", self.a.api1), ("cluster-2", self.a.api2)]
    }

    fn redis_down(&self) -> bool {
        self.redis_killed.is_some() && self.redis_recovery.is_none()
    }

    /// One call on node `i`'s API (a new connection when the last one broke).
    fn call(&mut self, i: usize, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let addr = [self.a.api1, self.a.api2][i];
        if self.api[i].is_none() {
            self.api[i] = Api::connect(addr).ok();
        }
        match self.api[i].as_mut()?.call(method, path, body) {
            Ok(r) => Some(r),
            Err(_) => {
                self.api[i] = None;
                None
            }
        }
    }

    /// Called every 50 ms while the load runs and pushes are due: one QoS1 push to a user on
    /// `cluster-2` through `cluster-1`'s API; every second a room and an everyone broadcast
    /// (QoS0) through one API or the other; after `cluster-2`'s restart, the recovery probe.
    pub(crate) fn tick(&mut self) {
        self.ticks += 1;
        let k = self.seq % (RECEIVERS as u64 + 1);
        let user = if k == RECEIVERS as u64 {
            LATE.to_owned()
        } else {
            format!("c{k}")
        };
        let body = format!(r#"{{"user":"{user}","payload":"c{}","qos":1}}"#, self.seq);
        let answer = self.call(0, "POST", "/v1/push/user", &body);
        match answer.map(|r| r.0) {
            Some(c) if ok(c) => {
                self.accepted.insert(self.seq);
                if user == LATE && self.redis_killed.is_none() {
                    self.late_stored.insert(self.seq);
                }
                if self.redis_down() {
                    match self.redis_started {
                        Some(at) => {
                            self.redis_recovery = Some(at.elapsed());
                            if let Some(w) = self.windows.iter_mut().find(|w| w.1 == u64::MAX) {
                                w.1 = unix_ms() + SETTLE_MS;
                            }
                        }
                        None => self.accepted_down += 1,
                    }
                }
            }
            Some(503) if self.redis_down() => {
                self.unavailable_down += 1;
                if self.first_503.is_none() {
                    self.first_503 = self.redis_killed.map(|k| k.elapsed());
                }
            }
            Some(503) => self.unavailable_up += 1,
            _ => self.failed += 1,
        }
        self.seq += 1;
        if self.ticks.is_multiple_of(20) {
            self.broadcast();
        }
        self.probe_users();
    }

    fn broadcast(&mut self) {
        let (k, i) = (self.kseq, (self.kseq % 2) as usize);
        self.kseq += 1;
        let room = format!(r#"{{"room":"{ROOM}","payload":"r{k}","qos":0}}"#);
        match self.call(i, "POST", "/v1/push/room", &room) {
            Some((c, _)) if ok(c) => {
                self.room_ok.insert(k);
            }
            _ => self.bcast_failed += 1,
        }
        let all = format!(r#"{{"payload":"a{k}","qos":0}}"#);
        match self.call(i, "POST", "/v1/push/all", &all) {
            Some((c, _)) if ok(c) => {
                self.all_ok.insert(k);
            }
            _ => self.bcast_failed += 1,
        }
    }

    /// After `cluster-2`'s restart: whether its receivers (`c0..`, [`LATE`]) and room
    /// listener are back on it, by the new process's own session count (`GET /v1/stats`; the
    /// registry would still list the killed process's sessions until they expire).
    fn probe_users(&mut self) {
        let (Some(killed), None) = (self.gw_killed, self.gw_users_back) else {
            return;
        };
        let sessions = self
            .call(1, "GET", "/v1/stats", "")
            .and_then(|(code, text)| {
                let rest = text.split_once(r#""push_sessions":"#)?.1;
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                (code == 200)
                    .then(|| digits.parse::<usize>().ok())
                    .flatten()
            });
        if sessions.is_some_and(|n| n >= RECEIVERS + 2) {
            self.gw_users_back = Some(killed.elapsed());
            if let Some(w) = self.windows.iter_mut().find(|w| w.1 == u64::MAX) {
                w.1 = unix_ms() + SETTLE_MS;
            }
        }
    }

    /// `kill -9` of Redis (it stays down for [`REDIS_DOWN`]; pushes go on meanwhile).
    pub(crate) fn kill_redis(&mut self, redis: &mut Running) {
        redis.kill9();
        self.redis_killed = Some(Instant::now());
        self.windows.push((unix_ms(), u64::MAX));
    }

    /// Starts Redis again on its port and directory (it loads its append-only file).
    pub(crate) fn start_redis(&mut self, redis: &mut Running) {
        self.redis_restarts.1 += 1;
        match redis.restart() {
            Ok(()) => self.redis_restarts.0 += 1,
            Err(e) => eprintln!("soak: {e}"),
        }
        self.redis_started = Some(Instant::now());
    }

    /// `kill -9` of `cluster-2`, its restart half a second later on the same ports.
    pub(crate) fn kill_gateway(&mut self, gw: &mut Running) {
        self.gw_restarts.1 += 1;
        self.windows.push((unix_ms(), u64::MAX));
        gw.kill9();
        let killed = Instant::now();
        self.gw_killed = Some(killed);
        std::thread::sleep(Duration::from_millis(500));
        match gw.restart() {
            Ok(()) => {
                self.gw_restarts.0 += 1;
                self.gw_accepting = Some(killed.elapsed());
            }
            Err(e) => eprintln!("soak: {e}"),
        }
    }

    /// The cluster's checks, from the receivers' and the movers' summaries.
    pub(crate) fn checks(&self, recv: Option<&Summary>, movers: Option<&Summary>) -> Vec<Check> {
        let mut out = Vec::new();
        let secs = |d: Option<Duration>| {
            d.map_or_else(
                || "never".to_owned(),
                |d| format!("{:.2} s", d.as_secs_f64()),
            )
        };
        let set = |s: Option<&Summary>, k: &str| -> BTreeSet<u64> {
            s.and_then(|s| s.texts.get(k))
                .map(|l| l.split(',').filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_default()
        };
        let got = set(recv, "seqs");
        let lost: Vec<&u64> = self.accepted.iter().filter(|s| !got.contains(s)).collect();
        out.push(Check::new(
            "cluster: no QoS1 message lost (cluster-1 API → users on cluster-2)",
            format!(
                "{} accepted (2xx), {} received, {} lost{}; not accepted: {} × 503 while Redis \
                 was down, {} other failures",
                self.accepted.len(),
                self.accepted.iter().filter(|s| got.contains(s)).count(),
                lost.len(),
                if lost.is_empty() {
                    String::new()
                } else {
                    format!(" (first: {:?})", &lost[..lost.len().min(5)])
                },
                self.unavailable_down,
                self.failed
            ),
            recv.is_some() && !self.accepted.is_empty() && lost.is_empty(),
        ));
        let get = |s: Option<&Summary>, k: &str| s.map_or(0, |s| s.get(k));
        out.push(Check::new(
            "cluster: QoS1 in per-user order",
            format!(
                "{} first deliveries below an earlier one, {} duplicates (at least once)",
                get(recv, "disorder"),
                get(recv, "duplicates")
            ),
            recv.is_some() && get(recv, "disorder") == 0,
        ));
        out.push(Check::new(
            "cluster: 503 exactly while Redis is down",
            format!(
                "{} × 503 while down, {} × 503 while up, {} × 2xx while down",
                self.unavailable_down, self.unavailable_up, self.accepted_down
            ),
            self.unavailable_down > 0 && self.unavailable_up == 0 && self.accepted_down == 0,
        ));
        let (rok, rall) = self.redis_restarts;
        let late_got = self.late_stored.iter().filter(|s| got.contains(s)).count();
        out.push(Check::new(
            "cluster: Redis kill -9 and restart (append-only file)",
            format!(
                "down {:.0} s; first 503 {} after the kill; first 2xx {} after the restart; \
                 {} messages stored for the offline `{LATE}` before the kill, {late_got} \
                 received after its login past the restart",
                REDIS_DOWN.as_secs_f64(),
                secs(self.first_503),
                secs(self.redis_recovery),
                self.late_stored.len()
            ),
            rall > 0
                && rok == rall
                && self.redis_recovery.is_some()
                && !self.late_stored.is_empty()
                && late_got == self.late_stored.len(),
        ));
        let (gok, gall) = self.gw_restarts;
        out.push(Check::new(
            "cluster: kill -9 and restart of cluster-2",
            format!(
                "{gok} of {gall} restarts; accepting {} after the kill; its {} receivers \
                 and its room listener logged in again {} after the kill",
                secs(self.gw_accepting),
                RECEIVERS + 1,
                secs(self.gw_users_back)
            ),
            gall > 0 && gok == gall && self.gw_users_back.is_some(),
        ));
        let share = |got: &BTreeSet<u64>, sent: &BTreeSet<u64>| {
            sent.iter().filter(|k| got.contains(k)).count()
        };
        let mut figs = Vec::new();
        let mut bcast_ok = recv.is_some();
        for (i, node) in ["cluster-1", "cluster-2"].iter().enumerate() {
            let room = share(&set(recv, &format!("room{}", i + 1)), &self.room_ok);
            let all = share(&set(recv, &format!("all{}", i + 1)), &self.all_ok);
            figs.push(format!(
                "on {node}: room {room}/{}, everyone {all}/{}",
                self.room_ok.len(),
                self.all_ok.len()
            ));
            bcast_ok &= room * 2 >= self.room_ok.len() && all * 2 >= self.all_ok.len();
        }
        out.push(Check::new(
            "cluster: QoS0 room and everyone broadcasts reach both nodes (≥ 50 %)",
            format!("{} ({} calls failed)", figs.join("; "), self.bcast_failed),
            bcast_ok && !self.room_ok.is_empty() && !self.all_ok.is_empty(),
        ));
        // A list, not a set: two movers may miss a kick in the same millisecond.
        let unkicked: Vec<u64> = movers
            .and_then(|s| s.texts.get("unkicked"))
            .map(|l| l.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        let outside: Vec<String> = unkicked
            .iter()
            .filter(|&&t| !self.windows.iter().any(|w| t + 1000 >= w.0 && t <= w.1))
            .map(|t| format!("{:.1} s", t.saturating_sub(self.t0) as f64 / 1000.0))
            .collect();
        out.push(Check::new(
            "cluster: a login on the other node kicks the old session (policy single)",
            format!(
                "{} moves, {} kicked, {} not kicked in fault windows, {} outside them{}; {} \
                 of them still open after 5 s; {} logins failed",
                get(movers, "moves"),
                get(movers, "kicked"),
                unkicked.len() - outside.len(),
                outside.len(),
                if outside.is_empty() {
                    String::new()
                } else {
                    format!(" (at {})", outside.join(", "))
                },
                get(movers, "still_open"),
                get(movers, "login_failed")
            ),
            movers.is_some() && get(movers, "kicked") > 0 && outside.is_empty(),
        ));
        out
    }
}

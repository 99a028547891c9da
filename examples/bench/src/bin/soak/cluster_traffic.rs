//! The push cluster's loads, each in its own worker process: QoS1 receivers on the second
//! node (the soak pushes to them through the first node's API), one room listener on each
//! node, and users whose logins move between the nodes (policy `single`: each login must
//! kick the session on the other node).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loopwire_push::client::{Client, ClientError, ClientOptions, Event};

use super::proto::token;
use super::traffic::{options, receive_in};
use super::workers::{Summary, Targets};

/// The room the listeners join and the soak broadcasts to.
pub(crate) const ROOM: &str = "soak";
/// The QoS1 receiver that logs in only at half of the run, after the Redis restart: its
/// messages from before wait in Redis, offline, through the restart.
pub(crate) const LATE: &str = "clate";
/// How long the session a move replaces may take to be kicked.
const KICK_WAIT: Duration = Duration::from_secs(5);

/// The number after `prefix` in a payload such as `c12`.
fn seq(payload: &[u8], prefix: char) -> Option<u64> {
    std::str::from_utf8(payload)
        .ok()?
        .strip_prefix(prefix)?
        .parse()
        .ok()
}

fn comma_list(set: &BTreeSet<u64>) -> String {
    set.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// Unix milliseconds now (the soak compares them with its fault windows).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `users` QoS1 receivers (`c0`, `c1`, ...) on the second node, ACKing as they go, [`LATE`]
/// which joins them `late` after the start, and the room listeners `r1` (first node) and
/// `r2` (second). A receiver records every QoS1 payload `c<seq>`; a new one below the highest
/// it got before is an order violation (the soak pushes each user's messages one after the
/// other, so their ids grow with `seq`). A listener records the room (`r<k>`) and everyone
/// (`a<k>`) broadcasts it got.
pub(crate) fn receivers(t: &Targets, users: usize, late: Duration, until: Instant) -> Summary {
    let start = Instant::now();
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let (dups, disorder) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut threads: Vec<_> = (0..=users)
        .map(|u| {
            let (addr, seen) = (t.c2, Arc::clone(&seen));
            let (dups, disorder) = (Arc::clone(&dups), Arc::clone(&disorder));
            std::thread::spawn(move || {
                let user = if u == users {
                    std::thread::sleep((start + late).saturating_duration_since(Instant::now()));
                    LATE.to_owned()
                } else {
                    format!("c{u}")
                };
                let mut last = 0;
                receive_in(addr, &user, &[], until, |p| {
                    let Some(s) = seq(p, 'c') else { return };
                    if !seen.lock().unwrap_or_else(|e| e.into_inner()).insert(s) {
                        dups.fetch_add(1, Relaxed);
                    } else if s < last {
                        disorder.fetch_add(1, Relaxed);
                    } else {
                        last = s;
                    }
                })
            })
        })
        .collect();
    let listeners: Vec<_> = [t.c1, t.c2]
        .into_iter()
        .enumerate()
        .map(|(i, addr)| {
            let got = Arc::new(Mutex::new((BTreeSet::new(), BTreeSet::new())));
            let g = Arc::clone(&got);
            threads.push(std::thread::spawn(move || {
                receive_in(addr, &format!("r{}", i + 1), &[ROOM], until, |p| {
                    let mut g = g.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(k) = seq(p, 'r') {
                        g.0.insert(k);
                    } else if let Some(k) = seq(p, 'a') {
                        g.1.insert(k);
                    }
                })
            }));
            got
        })
        .collect();
    let connections: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Summary::new()
        .with("connections", connections)
        .with("distinct", seen.len() as u64)
        .with("duplicates", dups.load(Relaxed))
        .with("disorder", disorder.load(Relaxed))
        .with_text("seqs", comma_list(&seen));
    for (i, got) in listeners.iter().enumerate() {
        let g = got.lock().unwrap_or_else(|e| e.into_inner());
        s = s
            .with_text(&format!("room{}", i + 1), comma_list(&g.0))
            .with_text(&format!("all{}", i + 1), comma_list(&g.1));
    }
    s
}

/// What happened to the session a move replaced.
enum Fate {
    Kicked,
    /// Closed without a KICK (its node was killed).
    Closed,
    /// Still open after [`KICK_WAIT`].
    Open,
}

fn fate(old: &mut Client) -> Fate {
    let end = Instant::now() + KICK_WAIT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Fate::Open;
        }
        match old.recv_timeout(left) {
            Ok(Some(Event::Kicked { .. })) | Err(ClientError::Replaced { .. }) => {
                return Fate::Kicked;
            }
            Ok(_) => {}
            Err(_) => return Fate::Closed,
        }
    }
}

/// `n` users (`m0`, ...) that log in on one node, then on the other, and so on, about every
/// 1.5 s; each login must kick the session on the other node. Moves whose old session was
/// not kicked are listed by time (Unix ms): the soak accepts them only inside a fault window.
pub(crate) fn movers(t: &Targets, n: usize, until: Instant) -> Summary {
    let nodes = [t.c1, t.c2];
    let unkicked = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let unkicked = Arc::clone(&unkicked);
            std::thread::spawn(move || {
                let opts = ClientOptions {
                    reconnect: false,
                    ..options()
                };
                let user = format!("m{i}");
                let (mut side, mut held) = (i % 2, None::<Client>);
                let (mut moves, mut kicked, mut failed, mut open) = (0u64, 0u64, 0u64, 0u64);
                while Instant::now() < until {
                    let Ok(next) = Client::connect(nodes[side], &token(&user), opts.clone()) else {
                        failed += 1;
                        side ^= 1;
                        std::thread::sleep(Duration::from_millis(500));
                        continue;
                    };
                    if let Some(mut old) = held.take() {
                        moves += 1;
                        let f = fate(&mut old);
                        match f {
                            Fate::Kicked => kicked += 1,
                            Fate::Closed | Fate::Open => {
                                open += u64::from(matches!(f, Fate::Open));
                                unkicked
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .push(unix_ms());
                            }
                        }
                    }
                    let mut c = next;
                    // Serve the new session for a while (heartbeats, broadcasts ignored).
                    let serve = Instant::now() + Duration::from_millis(1500);
                    while let Some(left) = serve.checked_duration_since(Instant::now()) {
                        if c.recv_timeout(left).is_err() {
                            break;
                        }
                    }
                    held = Some(c);
                    side ^= 1;
                }
                (moves, kicked, failed, open)
            })
        })
        .collect();
    let (mut moves, mut kicked, mut failed, mut open) = (0, 0, 0, 0);
    for t in threads {
        let (m, k, f, o) = t.join().unwrap_or((0, 0, 0, 0));
        moves += m;
        kicked += k;
        failed += f;
        open += o;
    }
    let list = unkicked.lock().unwrap_or_else(|e| e.into_inner());
    Summary::new()
        .with("moves", moves)
        .with("kicked", kicked)
        .with("login_failed", failed)
        .with("still_open", open)
        .with_text(
            "unkicked",
            list.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
}

//! The fault-injecting loads, each run in its own worker process: slowloris connections,
//! half-open peers, peers that reset mid-write, clients that never read while a lot is
//! offered, and accept bursts past a server's file limit.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use loopwire_push::frame::ClientFrame;
use socket2::SockRef;

use super::proto::{self, Api, resp_command, token};
use super::workers::{Summary, Targets};

/// One slowloris pattern per server kind: the bytes trickled, one at a time, cyclically.
fn patterns() -> [Vec<u8>; 3] {
    [
        b"slowloris\n".to_vec(),
        resp_command(&[b"PING"]),
        proto::frame(&ClientFrame::Auth {
            heartbeat_ms: 0,
            token: token("slowloris").as_bytes(),
        }),
    ]
}

/// A non-blocking connection, or `None`.
fn open(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// Reads and drops whatever is waiting; false when the peer closed or reset.
fn drain(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

/// `n` connections to each of echo, resp and push, each sending one byte of its pattern
/// about every 10 s; a connection the server closes (push's AUTH deadline) is opened again.
pub(crate) fn slowloris(t: &Targets, n: usize, until: Instant) -> Summary {
    let pats = patterns();
    let addrs = [t.echo, t.resp, t.push];
    let mut conns: Vec<(usize, Option<TcpStream>, usize)> = Vec::with_capacity(3 * n);
    for (k, &addr) in addrs.iter().enumerate() {
        for _ in 0..n {
            conns.push((k, open(addr), 0));
        }
    }
    let (mut reopened, mut bytes) = (0u64, 0u64);
    let tick = Duration::from_millis(100);
    let per_tick = (conns.len() / 100).max(1);
    let mut next = 0;
    while Instant::now() < until {
        let started = Instant::now();
        for _ in 0..per_tick {
            let len = conns.len();
            let (k, conn, pos) = &mut conns[next];
            next = (next + 1) % len;
            let ok = match conn {
                Some(s) => {
                    let byte = [pats[*k][*pos]];
                    let sent = matches!(s.write(&byte), Ok(1));
                    if sent {
                        bytes += 1;
                        *pos = (*pos + 1) % pats[*k].len();
                    }
                    sent && drain(s)
                }
                None => false,
            };
            if !ok {
                *conn = open(addrs[*k]);
                *pos = 0;
                reopened += 1;
            }
        }
        if let Some(rest) = tick.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let open_at_end = conns.iter().filter(|c| c.1.is_some()).count();
    Summary::new()
        .with("conns", conns.len() as u64)
        .with("open_at_end", open_at_end as u64)
        .with("reopened", reopened)
        .with("bytes", bytes)
}

/// `n` connections to each server that send half a frame and then nothing; every 30 s they
/// are closed and opened again.
pub(crate) fn half_open(t: &Targets, n: usize, until: Instant) -> Summary {
    let halves: [Vec<u8>; 3] = patterns().map(|p| p[..p.len() / 2].to_vec());
    let addrs = [t.echo, t.resp, t.push];
    let mut opened = 0u64;
    while Instant::now() < until {
        let mut held = Vec::with_capacity(3 * n);
        for k in 0..3 {
            for _ in 0..n {
                if let Some(mut s) = open(addrs[k]) {
                    let _ = s.write(&halves[k]);
                    held.push(s);
                    opened += 1;
                }
            }
        }
        sleep_until(until.min(Instant::now() + Duration::from_secs(30)));
    }
    Summary::new().with("opened", opened)
}

/// Connects, starts a large exchange and closes with `SO_LINGER` 0 (a reset) while the
/// server is still writing: echo (256 KiB sent), RESP (200 pipelined GETs of a 64 KiB
/// value), push (AUTH and 50 PINGs). About 20 a second.
pub(crate) fn resets(t: &Targets, until: Instant) -> Summary {
    let echo = vec![b'r'; 256 * 1024];
    let resp: Vec<u8> = resp_command(&[b"GET", b"soak:big"]).repeat(200);
    let mut push = proto::frame(&ClientFrame::Auth {
        heartbeat_ms: 0,
        token: token("resetter").as_bytes(),
    });
    for _ in 0..50 {
        push.extend(proto::frame(&ClientFrame::Ping(b"reset")));
    }
    let jobs: [(SocketAddr, &[u8]); 3] = [(t.echo, &echo), (t.resp, &resp), (t.push, &push)];
    let mut resets = 0u64;
    let mut i = 0;
    while Instant::now() < until {
        let (addr, data) = jobs[i % 3];
        i += 1;
        if let Some(mut s) = open(addr) {
            let _ = s.write(data);
            std::thread::sleep(Duration::from_millis(5));
            let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
            drop(s);
            resets += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Summary::new().with("resets", resets)
}

/// Clients that never read while `offer` bytes are offered to them: half to echo (written
/// until the server stops taking), a quarter as replies RESP would send (pipelined GETs of
/// a 64 KiB value), a quarter as QoS0 pushes of 8 KiB to a room whose only member never
/// reads. They stay connected, unread, until the end.
pub(crate) fn never_read(t: &Targets, offer: u64, until: Instant) -> Summary {
    let echo = {
        let addr = t.echo;
        std::thread::spawn(move || -> (u64, u64, u64) {
            // The client keeps trying to send its half for the whole run; the server takes
            // only what its watermark (and the kernel's buffers both ways) allow. Were the
            // connection closed (a server that buffered up to its hard limit), it connects
            // again and goes on.
            let chunk = vec![b'n'; 64 * 1024];
            let (mut taken, mut closed) = (0u64, 0u64);
            let mut s: Option<TcpStream> = None;
            while taken < offer / 2 && Instant::now() < until {
                let Some(conn) = s.as_mut() else {
                    s = TcpStream::connect(addr).ok();
                    if let Some(c) = &s {
                        let _ = c.set_write_timeout(Some(Duration::from_secs(1)));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                match conn.write(&chunk) {
                    Ok(n) => taken += n as u64,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => {
                        closed += 1;
                        s = None;
                    }
                }
            }
            sleep_until(until);
            (taken, offer / 2, closed)
        })
    };
    let resp = {
        let addr = t.resp;
        std::thread::spawn(move || -> u64 {
            let Ok(mut s) = TcpStream::connect(addr) else {
                return 0;
            };
            let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
            let batch = resp_command(&[b"GET", b"soak:big"]).repeat(256);
            let gets = offer / 4 / (64 * 1024);
            let mut sent = 0u64;
            while sent < gets && Instant::now() < until {
                match s.write_all(&batch) {
                    Ok(()) => sent += 256,
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
            sleep_until(until);
            sent
        })
    };
    // The push side: a session that joins "sink" and never reads, and the publisher.
    let mut sink = TcpStream::connect(t.push).ok();
    if let Some(s) = sink.as_mut() {
        let _ = s.write_all(&proto::frame(&ClientFrame::Auth {
            heartbeat_ms: 600_000,
            token: token("sink").as_bytes(),
        }));
        let _ = s.write_all(&proto::frame(&ClientFrame::Join(b"sink")));
    }
    std::thread::sleep(Duration::from_millis(200));
    let payload = "s".repeat(8 * 1024);
    let body = format!(r#"{{"room":"sink","payload":"{payload}","qos":0}}"#);
    let posts = offer / 4 / (8 * 1024);
    let (mut pushed, mut api_errors) = (0u64, 0u64);
    let mut api = Api::connect(t.api).ok();
    while pushed < posts && Instant::now() < until {
        let ok = api
            .as_mut()
            .and_then(|a| a.post("/v1/push/room", &body).ok())
            .is_some_and(|(code, _)| code == 200);
        if ok {
            pushed += 1;
        } else {
            api_errors += 1;
            std::thread::sleep(Duration::from_millis(100));
            api = Api::connect(t.api).ok();
        }
        // At most about 500 a second: the gateway also serves everyone else.
        std::thread::sleep(Duration::from_millis(2));
    }
    sleep_until(until);
    drop(sink);
    let (echo_taken, echo_tried, echo_closed) = echo.join().unwrap_or((0, 0, 0));
    let resp_gets = resp.join().unwrap_or(0);
    Summary::new()
        .with("echo_offered", echo_tried)
        .with("echo_taken", echo_taken)
        .with("echo_closed", echo_closed)
        .with("resp_offered", resp_gets * 64 * 1024)
        .with("push_offered", pushed * 8 * 1024)
        .with("api_errors", api_errors)
}

/// Every 20 s: opens up to `n` connections to the server with the low file limit (more than
/// it can accept), holds them 2 s, closes them, then checks it echoes on a new connection
/// within 10 s.
pub(crate) fn fd_bursts(addr: SocketAddr, n: usize, until: Instant) -> Summary {
    let (mut bursts, mut ok, mut failed, mut most) = (0u64, 0u64, 0u64, 0u64);
    while Instant::now() + Duration::from_secs(15) < until {
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        most = most.max(held.len() as u64);
        bursts += 1;
        std::thread::sleep(Duration::from_secs(2));
        drop(held);
        if probe_echo(addr, Duration::from_secs(10)) {
            ok += 1;
        } else {
            failed += 1;
        }
        sleep_until(until.min(Instant::now() + Duration::from_secs(18)));
    }
    Summary::new()
        .with("bursts", bursts)
        .with("most_opened", most)
        .with("probes_ok", ok)
        .with("probes_failed", failed)
}

/// Whether a new connection to `addr` echoes within `within` (retried).
pub(crate) fn probe_echo(addr: SocketAddr, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Ok(mut s) = proto::connect(addr) {
            let mut back = [0u8; 5];
            if s.write_all(b"probe").is_ok() && s.read_exact(&mut back).is_ok() && &back == b"probe"
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn sleep_until(t: Instant) {
    if let Some(d) = t.checked_duration_since(Instant::now()) {
        std::thread::sleep(d);
    }
}

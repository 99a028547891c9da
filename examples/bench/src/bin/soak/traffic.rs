//! The well-behaved loads, each in its own worker process: echo and RESP request/response
//! with every answer checked, QoS1 receivers that count what they got, and sessions on the
//! gateway that is killed and restarted.

use std::collections::BTreeSet;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopwire_push::client::{Client, ClientOptions, Event, SessionOptions};

use super::proto::{self, Reply, resp_command, resp_reply, token};
use super::workers::{Summary, Targets};

/// Echo and RESP connections used in turn: echo sends 1 to 4096 bytes and checks they come
/// back; RESP SETs one of 1000 keys (this process is their only writer) and GETs it back.
/// A broken connection is opened again and counted; a wrong answer is a mismatch.
pub(crate) fn mixed(t: &Targets, until: Instant) -> Summary {
    let (mut ops, mut mismatches, mut reconnects) = (0u64, 0u64, 0u64);
    let mut echo: Vec<Option<TcpStream>> = (0..4).map(|_| proto::connect(t.echo).ok()).collect();
    let mut resp: Vec<Option<BufReader<TcpStream>>> = (0..4)
        .map(|_| proto::connect(t.resp).ok().map(BufReader::new))
        .collect();
    let mut seq: u64 = 0;
    while Instant::now() < until {
        seq += 1;
        let i = (seq % 4) as usize;
        // Echo.
        let len = 1 + (seq.wrapping_mul(2_654_435_761) % 4096) as usize;
        let msg: Vec<u8> = (0..len).map(|k| (seq as usize + k) as u8).collect();
        let done = echo[i].as_mut().map(|s| {
            let mut back = vec![0u8; len];
            s.write_all(&msg)
                .and_then(|()| s.read_exact(&mut back))
                .map(|()| back == msg)
        });
        match done {
            Some(Ok(true)) => ops += 1,
            Some(Ok(false)) => mismatches += 1,
            _ => {
                reconnects += 1;
                echo[i] = proto::connect(t.echo).ok();
            }
        }
        // RESP.
        let key = format!("soak:k{}", seq % 1000);
        let value = format!("v{seq}");
        let done = resp[i].as_mut().map(|r| -> std::io::Result<bool> {
            let mut req = resp_command(&[b"SET", key.as_bytes(), value.as_bytes()]);
            req.extend(resp_command(&[b"GET", key.as_bytes()]));
            r.get_mut().write_all(&req)?;
            let set = resp_reply(r)?;
            let get = resp_reply(r)?;
            Ok(set == Reply::Line("+OK".into())
                && get == Reply::Bulk(Some(value.clone().into_bytes())))
        });
        match done {
            Some(Ok(true)) => ops += 1,
            Some(Ok(false)) => mismatches += 1,
            _ => {
                reconnects += 1;
                resp[i] = proto::connect(t.resp).ok().map(BufReader::new);
            }
        }
        // About 400 operations a second: a steady background, not a benchmark.
        std::thread::sleep(Duration::from_millis(5));
    }
    Summary::new()
        .with("ops", ops)
        .with("mismatches", mismatches)
        .with("reconnects", reconnects)
}

/// The options of a receiving session: a 5 s heartbeat (the gateway closes it after 7.5 s
/// without a word, so a stopped process loses its sessions), QoS1 ACKed as it arrives.
pub(crate) fn options() -> ClientOptions {
    ClientOptions {
        session: SessionOptions {
            heartbeat: Duration::from_secs(5),
            auto_ack: true,
            ..SessionOptions::default()
        },
        io_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// Runs `on_push` for every push `user` receives at `addr` until `until`, connecting again
/// (a new client) whenever the session ends; returns the number of connections made.
fn receive(addr: SocketAddr, user: &str, until: Instant, on_push: impl FnMut(&[u8])) -> u64 {
    receive_in(addr, user, &[], until, on_push)
}

/// [`receive`] with the session joining `rooms` at every connection.
pub(crate) fn receive_in(
    addr: SocketAddr,
    user: &str,
    rooms: &[&str],
    until: Instant,
    mut on_push: impl FnMut(&[u8]),
) -> u64 {
    let mut connections = 0;
    while Instant::now() < until {
        let mut opts = options();
        opts.rooms = rooms.iter().map(|r| (*r).to_owned()).collect();
        let Ok(mut c) = Client::connect(addr, &token(user), opts) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        while Instant::now() < until {
            match c.recv_timeout(Duration::from_millis(500)) {
                Ok(Some(Event::Push { payload, .. })) => on_push(&payload),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        connections += c.connections();
    }
    connections
}

/// `users` QoS1 receivers (`q0`, `q1`, ...): every payload `q<seq>` they get is recorded;
/// the summary lists the distinct sequence numbers.
pub(crate) fn qos1(t: &Targets, users: usize, until: Instant) -> Summary {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let threads: Vec<_> = (0..users)
        .map(|u| {
            let (addr, seen) = (t.push, Arc::clone(&seen));
            std::thread::spawn(move || {
                receive(addr, &format!("q{u}"), until, |p| {
                    if let Some(seq) = std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| s.strip_prefix('q'))
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        seen.lock().unwrap_or_else(|e| e.into_inner()).insert(seq);
                    }
                })
            })
        })
        .collect();
    let connections: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let list: Vec<String> = seen.iter().map(u64::to_string).collect();
    Summary::new()
        .with("connections", connections)
        .with("distinct", seen.len() as u64)
        .with_text("seqs", list.join(","))
}

/// `n` sessions on the gateway that is killed and restarted; each connects again when its
/// session ends.
pub(crate) fn sessions(addr: SocketAddr, n: usize, until: Instant) -> Summary {
    let threads: Vec<_> = (0..n)
        .map(|i| std::thread::spawn(move || receive(addr, &format!("b{i}"), until, |_| {})))
        .collect();
    let connections: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    Summary::new().with("connections", connections)
}

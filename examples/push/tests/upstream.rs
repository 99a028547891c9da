//! Upstream end to end: UP frames and online / offline events reach a real HTTP server (a
//! std `TcpListener` thread in the test) as JSON POSTs through the webhook, in order; the
//! UP rate limit at exact test-clock readings; a full queue drops and counts (a sink that
//! blocks until the test releases it).

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire_push::upstream::webhook::Webhook;
use loopwire_push::upstream::{Event, EventKind, Sink, SinkError};
use loopwire_push::{ClientFrame, Config};
use serde_json::Value;

use util::{EPOCH, Server, WAIT, ms, test_config};

/// A keep-alive HTTP server answering 200 to every request; sends each body, parsed.
fn http_server() -> (String, Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = 0;
                    let mut line = String::new();
                    let mut first = true;
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if first {
                            assert!(line.starts_with("POST /hook HTTP/1.1"), "{line}");
                            first = false;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().expect("length");
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).expect("body");
                    let _ = tx.send(serde_json::from_slice(&body).expect("JSON"));
                    r.get_mut()
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .expect("answer");
                }
            });
        }
    });
    (url, rx)
}

fn next(rx: &Receiver<Value>) -> Value {
    rx.recv_timeout(WAIT).expect("a webhook call")
}

#[test]
fn up_frames_and_presence_reach_the_webhook_as_json_in_order() {
    let (url, rx) = http_server();
    let server = Server::on_loops(test_config(), 1);
    let hook = Webhook::new(&url, WAIT).expect("url");
    server.gw.set_sink(Arc::new(hook), 1).expect("sink");
    server.advance_to(ms(250));
    let mut c = server.client("alice");
    c.send(ClientFrame::Up(b"\x00hi\xff"));
    assert!(c.sync(b"s").is_empty());
    drop(c);
    let ts = (EPOCH * 1000 + 250) as i64;
    let online = next(&rx);
    assert_eq!(online["event"], "online");
    assert_eq!(
        (online["user"].as_str(), online["ts_ms"].as_i64()),
        (Some("alice"), Some(ts))
    );
    assert!(online["device"].is_null());
    let up = next(&rx);
    assert_eq!(up["event"], "up");
    assert_eq!(up["payload_base64"], "AGhp/w==");
    assert_eq!(up["ts_ms"].as_i64(), Some(ts));
    let offline = next(&rx);
    assert_eq!(
        (offline["event"].as_str(), offline["user"].as_str()),
        (Some("offline"), Some("alice"))
    );
    server.wait_stats("counted", |s| s.up_frames == 1 && s.upstream_dropped == 0);
}

#[test]
fn up_over_the_rate_is_error_13_at_exact_clock_readings() {
    let config = Config {
        up_rate: 10, // one per 100 ms
        up_burst: 2,
        ..test_config()
    };
    let server = Server::on_loops(config, 1);
    let mut c = server.client("u");
    for _ in 0..2 {
        c.send(ClientFrame::Up(b"x"));
    }
    assert!(c.sync(b"burst").is_empty());
    server.advance_to(ms(99));
    c.send(ClientFrame::Up(b"early")); // the bucket refills at 100
    c.expect_error_and_close(13);
    let mut d = server.client("v");
    for _ in 0..2 {
        d.send(ClientFrame::Up(b"x"));
    }
    assert!(d.sync(b"burst at 99").is_empty());
    server.advance_to(ms(199)); // d's burst was at 99: one more at 199
    d.send(ClientFrame::Up(b"ok"));
    assert!(d.sync(b"one more").is_empty());
    d.send(ClientFrame::Up(b"too soon"));
    d.expect_error_and_close(13);
    server.wait_stats("counted", |s| s.up_frames == 5 && s.protocol_errors == 2);
}

/// A sink that blocks every delivery until the test releases it.
struct Gate {
    open: Mutex<Receiver<()>>,
    seen: Mutex<Vec<EventKind>>,
}

impl Sink for Gate {
    fn deliver(&self, e: &Event) -> Result<(), SinkError> {
        let _ = self.open.lock().unwrap().recv_timeout(WAIT);
        self.seen.lock().unwrap().push(e.kind.clone());
        Ok(())
    }
}

#[test]
fn a_full_queue_drops_and_counts_and_never_blocks_the_loop() {
    let config = Config {
        upstream_queue: 3,
        up_rate: 0,
        ..test_config()
    };
    let server = Server::on_loops(config, 1);
    let (release, open) = mpsc::channel();
    let gate = Arc::new(Gate {
        open: Mutex::new(open),
        seen: Mutex::new(Vec::new()),
    });
    server.gw.set_sink(gate.clone(), 1).expect("sink");
    let mut c = server.client("u"); // online: taken by the worker, which blocks on it
    server.wait_stats("online queued", |_| server.gw.upstream_counts().0 == 1);
    // Wait until the worker holds `online` (the queue is empty again).
    let t = std::time::Instant::now();
    while gate.open.try_lock().is_ok() {
        assert!(t.elapsed() < WAIT, "the worker never took the event");
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..5u8 {
        c.send(ClientFrame::Up(&[i]));
    }
    assert!(c.sync(b"s").is_empty()); // the loop answers: it did not block
    let (queued, dropped, ..) = server.gw.upstream_counts();
    assert_eq!((queued, dropped), (4, 2));
    assert_eq!(server.stats().upstream_dropped, 2);
    for _ in 0..4 {
        release.send(()).unwrap();
    }
    server.wait_stats("delivered", |_| server.gw.upstream_counts().2 == 4);
    let seen = gate.seen.lock().unwrap().clone();
    let ups: Vec<EventKind> = (0..3u8)
        .map(|i| EventKind::Up(loopwire::Bytes::copy_from_slice(&[i])))
        .collect();
    assert_eq!(seen[0], EventKind::Online);
    assert_eq!(seen[1..], ups[..]);
}

//! The HTTP plaintext server end to end: the handler runs in-process on an engine bound to
//! 127.0.0.1 port 0, and each test speaks HTTP/1.x to it over a `TcpStream` with timeouts.
//!
//! Covered: the plaintext response byte for byte (the `Date` checked for shape, then masked;
//! and against the time of day), `HEAD`, `/json`, `POST /echo` (split, pipelined, 1 MiB,
//! closing), 404, 405 with each path's `Allow`, discarded bodies, keep-alive rules
//! (HTTP/1.1, `Connection: close`, HTTP/1.0 with and without `keep-alive`), pipelines split
//! at every byte and sent a byte at a time, each error status followed by a close (chunked bodies: 411), the
//! slow-loris deadline (and that an idle keep-alive connection outlives it), and backpressure
//! against a client that does not read.
//!
//! Time: every server runs on a [`TestClock`], so the request deadline fires only when a test
//! moves the clock, at the reading it asserts, however loaded the machine. No test sleeps or
//! measures elapsed time (the `Date` test reads the time of day: a check of content). Where a
//! test needs the server to have seen something first (the first part of a split request, a
//! client that stopped reading, a turn of the loop at a clock reading) it waits for the
//! server's own record of it ([`Recorder`], [`Probe`], a round trip), bounded only by a hang
//! guard.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loopwire::{EventHandler, TestClock};
use loopwire_examples::testing::{ConnLog, Probe, Recorder, TestServer as Server, eventually};
use loopwire_http::{Http, Limits};

/// Serves `handler` on two loops, on a test clock that stays at zero unless the test moves
/// it: no request deadline fires by the wall clock.
fn start(handler: impl EventHandler) -> (Server, TestClock) {
    let clock = TestClock::new();
    let server = Server::start_with(handler, |b| {
        b.clock(clock.clone());
    });
    (server, clock)
}

/// The client's address, under which the server's [`Recorder`] logs this connection.
fn me(s: &TcpStream) -> SocketAddr {
    s.local_addr().expect("local address")
}

/// `ms` milliseconds.
fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// What every `Date` value is replaced with before comparing.
const MASK: &str = "Xxx, 00 Xxx 0000 00:00:00 GMT";

/// `got` with every `Date` value checked for the IMF-fixdate shape and replaced by [`MASK`].
fn mask_dates(got: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(got).into_owned();
    let mut from = 0;
    while let Some(i) = text[from..].find("\r\nDate: ") {
        let start = from + i + 8;
        let date = text.get(start..start + MASK.len()).unwrap_or_default();
        let b = date.as_bytes();
        assert!(
            b.len() == 29
                && &b[3..5] == b", "
                && b[7] == b' '
                && b[11] == b' '
                && b[16] == b' '
                && b[19] == b':'
                && b[22] == b':'
                && date.ends_with(" GMT"),
            "not an IMF-fixdate: {date:?}"
        );
        text.replace_range(start..start + MASK.len(), MASK);
        from = start;
    }
    text
}

/// The keep-alive response the server sends for `status` (e.g. `"200 OK"`), with `extra`
/// headers before `Content-Length`, and `body` unless `head_only`.
fn response(status: &str, extra: &str, body: &str, head_only: bool) -> String {
    format!(
        "HTTP/1.1 {status}\r\nServer: loopwire\r\nContent-Type: text/plain\r\n{extra}\
         Content-Length: {}\r\nDate: {MASK}\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { body }
    )
}

fn hello() -> String {
    response("200 OK", "", "Hello, World!", false)
}

/// A response whose `Connection` header is `conn`.
fn with_connection(status: &str, body: &str, conn: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nServer: loopwire\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nDate: {MASK}\r\nConnection: {conn}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads exactly as many bytes as `expected` has and compares them, dates masked.
fn expect(s: &mut TcpStream, expected: &str) {
    let mut got = vec![0; expected.len()];
    s.read_exact(&mut got).expect("response");
    assert_eq!(mask_dates(&got), expected);
}

/// Sends `request`, expects `reply`.
fn roundtrip(s: &mut TcpStream, request: &[u8], reply: &str) {
    s.write_all(request).expect("send");
    expect(s, reply);
}

/// Expects the server to close the connection with nothing more to say.
fn expect_eof(s: &mut TcpStream) {
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => {}
        // A close with unread request bytes may arrive as a reset.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected EOF: {e}"),
    }
    assert_eq!(String::from_utf8_lossy(&rest), "");
}

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Sends `bytes` on `s` and waits until the server has been shown them (it was shown all
/// that was sent on `s` before); returns the server's log of `s`.
fn send_seen<H>(rec: &Recorder<H>, s: &mut TcpStream, bytes: &[u8]) -> ConnLog {
    let before = rec.log(me(s)).received;
    s.write_all(bytes).expect("send");
    rec.wait_received(me(s), before + bytes.len())
}

#[test]
fn plaintext_and_friends() {
    let rec = Arc::new(Recorder::new(Http::default()));
    let (server, _clock) = start(rec.clone());
    let mut s = server.connect();
    roundtrip(&mut s, GET, &hello());
    roundtrip(&mut s, b"GET /?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", &hello());
    roundtrip(
        &mut s,
        b"HEAD /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
        &response("200 OK", "", "Hello, World!", true),
    );
    roundtrip(
        &mut s,
        b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n",
        &response("404 Not Found", "", "Not Found", false),
    );
    // A body is read and discarded (in two reads here: the server has been shown the head and
    // the first half before the second half is sent), then 405; the connection stays.
    send_seen(
        &rec,
        &mut s,
        b"POST /plaintext HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234",
    );
    roundtrip(
        &mut s,
        b"56789",
        &response(
            "405 Method Not Allowed",
            "Allow: GET, HEAD\r\n",
            "Method Not Allowed",
            false,
        ),
    );
    roundtrip(&mut s, GET, &hello());
}

/// A keep-alive `200` of `content_type` carrying `body`.
fn ok_with(content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nServer: loopwire\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nDate: {MASK}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn json_and_the_405s_and_404s() {
    let (server, _clock) = start(Http::default());
    let mut s = server.connect();
    let json = r#"{"message":"Hello, World!"}"#;
    roundtrip(
        &mut s,
        b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n",
        &ok_with("application/json", json),
    );
    roundtrip(
        &mut s,
        b"HEAD /json HTTP/1.1\r\nHost: a\r\n\r\n",
        &ok_with("application/json", json).replace(json, ""),
    );
    let get_head = response(
        "405 Method Not Allowed",
        "Allow: GET, HEAD\r\n",
        "Method Not Allowed",
        false,
    );
    roundtrip(&mut s, b"PUT /json HTTP/1.1\r\nHost: a\r\n\r\n", &get_head);
    roundtrip(&mut s, b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", &get_head);
    roundtrip(
        &mut s,
        b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n",
        &response(
            "405 Method Not Allowed",
            "Allow: POST\r\n",
            "Method Not Allowed",
            false,
        ),
    );
    let not_found = response("404 Not Found", "", "Not Found", false);
    roundtrip(
        &mut s,
        b"POST /nope HTTP/1.1\r\nHost: a\r\n\r\n",
        &not_found,
    );
    roundtrip(
        &mut s,
        b"GET /json/ HTTP/1.1\r\nHost: a\r\n\r\n",
        &not_found,
    );
    roundtrip(&mut s, GET, &hello());
}

/// `POST /echo` with `body`, and `extra` header lines.
fn echo_request(body: &[u8], extra: &str) -> Vec<u8> {
    let mut v = format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// The echo response to `body`, with `connection` as its `Connection` header if any.
fn echo_reply(body: &str, connection: Option<&str>) -> String {
    let conn = connection.map_or(String::new(), |c| format!("Connection: {c}\r\n"));
    format!(
        "HTTP/1.1 200 OK\r\nServer: loopwire\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nDate: {MASK}\r\n{conn}\r\n{body}",
        body.len()
    )
}

#[test]
fn echo_answers_the_body_split_pipelined_and_closing() {
    let rec = Arc::new(Recorder::new(Http::default()));
    let (server, _clock) = start(rec.clone());
    let mut s = server.connect();
    roundtrip(
        &mut s,
        &echo_request(b"ping", ""),
        &echo_reply("ping", None),
    );
    roundtrip(&mut s, &echo_request(b"", ""), &echo_reply("", None));
    // The head and the first half first: the head and those bytes come back before the rest
    // is sent (forwarded as they arrive, not held).
    let first = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234";
    send_seen(&rec, &mut s, first);
    let whole = echo_reply("0123456789", None);
    expect(&mut s, &whole[..whole.len() - 5]);
    roundtrip(&mut s, b"56789", "56789");
    // Pipelined with other requests, answered in order.
    let mut all = echo_request(b"a", "");
    all.extend_from_slice(GET);
    all.extend_from_slice(&echo_request(b"GET / HTTP/1.1\r\n\r\n", ""));
    all.extend_from_slice(&echo_request(b"bye", "Connection: close\r\n"));
    let mut reply = echo_reply("a", None);
    reply += &hello();
    reply += &echo_reply("GET / HTTP/1.1\r\n\r\n", None);
    reply += &echo_reply("bye", Some("close"));
    roundtrip(&mut s, &all, &reply);
    expect_eof(&mut s);

    // A large body (the whole limit), and HTTP/1.0.
    let mut s = server.connect();
    let big: String = (0..Limits::default().max_body)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut req = b"POST /echo HTTP/1.0\r\n".to_vec();
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n{big}", big.len()).as_bytes());
    roundtrip(&mut s, &req, &echo_reply(&big, Some("close")));
    expect_eof(&mut s);
}

/// Whole seconds since 1970 at `t`.
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

#[test]
fn the_date_is_current() {
    // The `Date` is the time of day (the system clock, not the engine's): the server reads
    // it between `before` and `after`, and shows its whole second.
    let (server, _clock) = start(Http::default());
    let mut s = server.connect();
    let before = unix_secs(SystemTime::now());
    s.write_all(GET).expect("send");
    let mut got = vec![0; hello().len()];
    s.read_exact(&mut got).expect("response");
    let after = unix_secs(SystemTime::now());
    assert_eq!(mask_dates(&got), hello());
    let text = String::from_utf8_lossy(&got);
    let date = text
        .split("\r\nDate: ")
        .nth(1)
        .and_then(|d| d.get(..29))
        .expect("a Date");
    let shown = unix_secs(httpdate::parse_http_date(date).expect("an HTTP date"));
    // Two seconds of slack, for a system clock stepped meanwhile.
    assert!(
        before.saturating_sub(2) <= shown && shown <= after + 2,
        "{date} is not between {} and {}",
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(before)),
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(after)),
    );
}

#[test]
fn keep_alive_rules() {
    let (server, _clock) = start(Http::default());

    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n",
        &with_connection("200 OK", "Hello, World!", "close"),
    );
    expect_eof(&mut s);

    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"GET /plaintext HTTP/1.0\r\n\r\n",
        &with_connection("200 OK", "Hello, World!", "close"),
    );
    expect_eof(&mut s);

    let mut s = server.connect();
    for _ in 0..3 {
        roundtrip(
            &mut s,
            b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            &with_connection("200 OK", "Hello, World!", "keep-alive"),
        );
    }
}

/// Five requests of different shapes and their responses.
fn pipeline() -> (Vec<u8>, String) {
    let mut req = Vec::new();
    req.extend_from_slice(GET);
    req.extend_from_slice(b"\r\nHEAD / HTTP/1.1\nHost: a\n\n");
    req.extend_from_slice(b"PUT /json HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    req.extend_from_slice(&echo_request(b"xyz", ""));
    req.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n");
    let mut reply = hello();
    reply += &response("200 OK", "", "Hello, World!", true);
    reply += &response(
        "405 Method Not Allowed",
        "Allow: GET, HEAD\r\n",
        "Method Not Allowed",
        false,
    );
    reply += &echo_reply("xyz", None);
    reply += &response("404 Not Found", "", "Not Found", false);
    (req, reply)
}

#[test]
fn pipeline_split_at_every_byte_boundary() {
    let rec = Arc::new(Recorder::new(Http::default()));
    let (server, _clock) = start(rec.clone());
    let (req, reply) = pipeline();
    let mut s = server.connect();
    for cut in 0..=req.len() {
        // The server has been shown exactly the first part (and has answered what it holds)
        // before the rest is sent: it parses the pipeline split at `cut`, whatever the
        // kernel's segmentation; the responses are the same bytes either way.
        send_seen(&rec, &mut s, &req[..cut]);
        s.write_all(&req[cut..]).expect("send");
        expect(&mut s, &reply);
    }
    assert_eq!(rec.log(me(&s)).received, req.len() * (req.len() + 1));
}

#[test]
fn pipeline_one_byte_at_a_time_and_sixteen_deep() {
    let rec = Arc::new(Recorder::new(Http::default()));
    let (server, _clock) = start(rec.clone());
    let (req, reply) = pipeline();
    let mut s = server.connect();
    for b in &req {
        // Shown to the server before the next byte is sent: one read per byte.
        send_seen(&rec, &mut s, std::slice::from_ref(b));
    }
    assert!(rec.log(me(&s)).traffic_at.len() >= req.len());
    expect(&mut s, &reply);
    // wrk's 16-deep pipeline in one write, many times over.
    let sixteen = GET.repeat(16);
    let replies = hello().repeat(16);
    for _ in 0..100 {
        roundtrip(&mut s, &sixteen, &replies);
    }
}

#[test]
fn errors_are_answered_then_the_connection_closes() {
    let (server, _clock) = start(Http::default());
    let limits = Limits::default();
    let huge_head = {
        let mut v = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        v.resize(limits.max_head + 10, b'x');
        v
    };
    let many_headers = {
        let mut v = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..limits.max_headers {
            v.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v
    };
    let too_long = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        limits.max_body + 1
    );
    let cases: [(&[u8], &str, &str); 9] = [
        (b"GET /plaintext\r\n\r\n", "400 Bad Request", "Bad Request"),
        (
            b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
            "400 Bad Request",
            "Bad Request",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", "400 Bad Request", "Bad Request"),
        (
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "505 HTTP Version Not Supported",
            "HTTP Version Not Supported",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "411 Length Required",
            "Length Required",
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            "501 Not Implemented",
            "Not Implemented",
        ),
        (
            too_long.as_bytes(),
            "413 Content Too Large",
            "Content Too Large",
        ),
        (
            &huge_head,
            "431 Request Header Fields Too Large",
            "Request Header Fields Too Large",
        ),
        (
            &many_headers,
            "431 Request Header Fields Too Large",
            "Request Header Fields Too Large",
        ),
    ];
    for (request, status, body) in cases {
        let mut s = server.connect();
        // A good request first: the error closes after answering everything before it.
        let mut all = GET.to_vec();
        all.extend_from_slice(request);
        let mut reply = hello();
        reply += &with_connection(status, body, "close");
        roundtrip(&mut s, &all, &reply);
        expect_eof(&mut s);
    }
}

#[test]
fn arbitrary_bytes_get_a_reply_or_a_wait_never_a_crash() {
    let rec = Arc::new(Recorder::new(Http::default()));
    let (server, clock) = start(rec.clone());
    let timeout = Limits::default().request_timeout;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let (mut answered, mut waited) = (0, 0);
    for _ in 0..50 {
        let mut s = server.connect();
        let junk: Vec<u8> = (0..200)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        // The server may close before it has read it all.
        let _ = s.write_all(&junk);
        let log = rec.wait(me(&s), "all read, or closed", |l| {
            l.received == junk.len() || l.closed.is_some()
        });
        if log.closed.is_none() {
            // Read to the end, nothing closed yet: either the close is on its way, or the
            // server waits for the rest of a request; then the deadline closes it, on the
            // test clock.
            clock.advance(timeout);
        }
        let mut reply = Vec::new();
        match s.read_to_end(&mut reply) {
            Ok(_) => {}
            // A close with unread junk may arrive as a reset.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the server to close: {e}"),
        }
        assert!(
            reply.is_empty() || reply.starts_with(b"HTTP/1.1 "),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        let log = rec.wait(me(&s), "closed", |l| l.closed.is_some());
        match log.close() {
            Some(("Handler", _)) => answered += 1,
            Some(("ReadTimeout", _)) => waited += 1,
            other => panic!("closed by {other:?}"),
        }
    }
    // Both kinds of junk were met.
    assert!(
        answered > 0 && waited > 0,
        "{answered} answered, {waited} waited"
    );
    // Still serving.
    let mut s = server.connect();
    roundtrip(&mut s, GET, &hello());
}

/// Two round trips on `sync`, a keep-alive connection to the server's only loop, after the
/// test clock moved. A loop's turn polls, reads the clock, serves the sockets that are ready
/// and only then fires its due timers, so one response can come back before its turn has
/// fired them. The second request, sent after the first response came back, is read on a
/// later turn than the first turn that read the new time: once its response is back, every
/// deadline due by that time has fired.
fn settle(sync: &mut TcpStream) {
    roundtrip(sync, GET, &hello());
    roundtrip(sync, GET, &hello());
}

/// Moves `clock` to `to` and waits ([`settle`]) for the loop to fire what was due by then.
fn advance_to(clock: &TestClock, to: Duration, sync: &mut TcpStream) {
    let by = to.checked_sub(clock.now()).expect("time moves forward");
    clock.advance(by);
    settle(sync);
}

#[test]
fn a_slow_request_is_closed_at_its_deadline_an_idle_connection_is_not() {
    const TIMEOUT: u64 = 400;
    let rec = Arc::new(Recorder::new(Http::new(Limits {
        request_timeout: ms(TIMEOUT),
        ..Limits::default()
    })));
    let clock = TestClock::new();
    // One loop, so that `settle` on `sync` orders the test after every connection's timers.
    let server = Server::start_with(rec.clone(), |b| {
        b.loops(1).clock(clock.clone());
    });
    let mut sync = server.connect();
    settle(&mut sync);
    let open = |s: &TcpStream| assert_eq!(rec.log(me(s)).closed, None, "{:?} open", me(s));

    // At 0. `idle`: a request in two reads (a deadline set, then cleared), answered.
    let mut idle = server.connect();
    send_seen(&rec, &mut idle, &GET[..10]);
    roundtrip(&mut idle, &GET[10..], &hello());
    // `late`: a head that starts at 0 and never ends: its deadline is TIMEOUT.
    let head = b"GET /plaintext HTTP/1.1\r\nHost: a\r\n";
    let mut late = server.connect();
    let log = send_seen(&rec, &mut late, head);
    assert!(log.traffic_at.iter().all(|&t| t == ms(0)), "{log:?}");
    // `prompt`: the same head, completed at TIMEOUT - 1.
    let mut prompt = server.connect();
    send_seen(&rec, &mut prompt, head);

    // `late` keeps sending header lines, each read at once: reads do not move its deadline.
    for t in [100, 200, 300] {
        clock.advance(ms(100));
        let log = send_seen(&rec, &mut late, format!("X-Slow-{t}: 1\r\n").as_bytes());
        assert_eq!(log.traffic_at.last(), Some(&ms(t)));
    }
    // `stalled`: a body that stops halfway, from 300: its deadline is 300 + TIMEOUT.
    let mut stalled = server.connect();
    let log = send_seen(
        &rec,
        &mut stalled,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhalf",
    );
    assert!(log.traffic_at.iter().all(|&t| t == ms(300)), "{log:?}");

    // TIMEOUT - 1: every timer due by now has fired, and nothing is closed. `late` is still
    // read; `prompt` completes its request, which is answered, and starts the next one in
    // the same read: that one's deadline counts from now.
    advance_to(&clock, ms(TIMEOUT - 1), &mut sync);
    for s in [&idle, &late, &prompt, &stalled] {
        open(s);
    }
    let log = send_seen(&rec, &mut late, b"X-Last: 1");
    assert_eq!(log.traffic_at.last(), Some(&ms(TIMEOUT - 1)));
    roundtrip(&mut prompt, b"\r\nGET /plaintext HTTP/1.1\r\n", &hello());

    // TIMEOUT: `late` is closed, on the turn its deadline passed, with nothing said.
    advance_to(&clock, ms(TIMEOUT), &mut sync);
    assert_eq!(
        rec.log(me(&late)).close(),
        Some(("ReadTimeout", ms(TIMEOUT)))
    );
    expect_eof(&mut late);
    for s in [&idle, &prompt, &stalled] {
        open(s);
    }

    // `stalled`: open and read one millisecond before its deadline, closed at it.
    advance_to(&clock, ms(300 + TIMEOUT - 1), &mut sync);
    open(&stalled);
    let log = send_seen(&rec, &mut stalled, b"f");
    assert_eq!(log.traffic_at.last(), Some(&ms(300 + TIMEOUT - 1)));
    advance_to(&clock, ms(300 + TIMEOUT), &mut sync);
    assert_eq!(
        rec.log(me(&stalled)).close(),
        Some(("ReadTimeout", ms(300 + TIMEOUT)))
    );
    expect_eof(&mut stalled);

    // `prompt`'s second request, begun at TIMEOUT - 1: the same.
    advance_to(&clock, ms(2 * TIMEOUT - 2), &mut sync);
    open(&prompt);
    let log = send_seen(&rec, &mut prompt, b"Host: a\r\n");
    assert_eq!(log.traffic_at.last(), Some(&ms(2 * TIMEOUT - 2)));
    advance_to(&clock, ms(2 * TIMEOUT - 1), &mut sync);
    assert_eq!(
        rec.log(me(&prompt)).close(),
        Some(("ReadTimeout", ms(2 * TIMEOUT - 1)))
    );
    expect_eof(&mut prompt);

    // `idle`, quiet for many times the timeout, is still served, and only the engine's stop
    // closes it.
    advance_to(&clock, ms(10 * TIMEOUT), &mut sync);
    roundtrip(&mut idle, GET, &hello());
    open(&idle);
    server.0.stop();
    assert_eq!(
        rec.log(me(&idle)).close(),
        Some(("Shutdown", ms(10 * TIMEOUT)))
    );
}

#[test]
fn a_client_that_does_not_read_is_not_buffered_without_bound() {
    let probe = Arc::new(Probe::<Http>::default());
    let (server, _clock) = start(probe.clone());
    let mut s = server.connect();
    roundtrip(&mut s, GET, &hello());

    // 200 000 pipelined requests (9 MiB of requests, 25 MiB of responses), none read yet.
    const N: usize = 200_000;
    let mut writer = s.try_clone().expect("clone");
    let send = std::thread::spawn(move || {
        writer.write_all(&GET.repeat(N)).expect("send the pipeline");
    });
    let one = hello().len();
    // The high watermark (64 KiB) plus one response, never the 25 MiB.
    let bound = 64 * 1024 + one;
    // The server runs into the full socket and pauses reading, or (broken) buffers past the
    // bound: no sleep, the probe says which, as soon as either happens.
    eventually("the server paused reading or outgrew the bound", || {
        probe.paused.load(Ordering::Relaxed) > 0
            || probe.max_backlog.load(Ordering::Relaxed) > bound
    });
    let backlog = probe.max_backlog.load(Ordering::Relaxed);
    assert!(backlog <= bound, "unsent backlog grew to {backlog} bytes");
    assert!(probe.paused.load(Ordering::Relaxed) > 0, "reading paused");

    // Now read: every response arrives, in order, as reading resumes.
    let mut got = vec![0; one];
    let expected = hello();
    for i in 0..N {
        s.read_exact(&mut got).expect("a response");
        assert!(mask_dates(&got) == expected, "response {i} differs");
    }
    send.join().expect("writer");
    assert!(probe.max_backlog.load(Ordering::Relaxed) <= bound);
    roundtrip(&mut s, GET, &hello());
}

/// A `GET /plaintext` head of exactly `len` bytes, padded with an `X-Pad` header.
fn head_of(len: usize) -> Vec<u8> {
    let mut v = b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
    let pad = len - v.len() - 4;
    v.extend(std::iter::repeat_n(b'p', pad));
    v.extend_from_slice(b"\r\n\r\n");
    assert_eq!(v.len(), len);
    v
}

/// A `GET /plaintext` head with `n` header lines (`Host` among them).
fn headers_of(n: usize) -> Vec<u8> {
    let mut v = b"GET /plaintext HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 1..n {
        v.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v
}

/// Each limit at its bound: the limit itself is served, one more is the limit's status then a
/// close of that connection only (a second connection, opened before, is still served).
#[test]
fn limits_at_the_bound_exactly() {
    let limits = Limits {
        max_head: 256,
        max_headers: 8,
        max_body: 100,
        ..Limits::default()
    };
    let (server, _clock) = start(Http::new(limits));
    let body = "b".repeat(100);
    let too_large = "Request Header Fields Too Large";
    // (at the limit, its reply, one over, the status, its reason)
    type Case = (Vec<u8>, String, Vec<u8>, &'static str, &'static str);
    let cases: [Case; 3] = [
        (
            head_of(256),
            hello(),
            head_of(257),
            "431 Request Header Fields Too Large",
            too_large,
        ),
        (
            headers_of(8),
            hello(),
            headers_of(9),
            "431 Request Header Fields Too Large",
            too_large,
        ),
        (
            echo_request(body.as_bytes(), ""),
            echo_reply(&body, None),
            // The head alone: 101 announced is refused before its body is sent.
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n".to_vec(),
            "413 Content Too Large",
            "Content Too Large",
        ),
    ];
    for (at, at_reply, over, status, reason) in cases {
        let mut other = server.connect();
        let mut s = server.connect();
        roundtrip(&mut s, &at, &at_reply);
        roundtrip(&mut s, &over, &with_connection(status, reason, "close"));
        expect_eof(&mut s);
        roundtrip(&mut other, &at, &at_reply);
        roundtrip(&mut other, GET, &hello());
    }
}

//! The HTTP plaintext server end to end: the handler runs in-process on an engine bound to
//! 127.0.0.1 port 0, and each test speaks HTTP/1.x to it over a `TcpStream` with timeouts.
//!
//! Covered: the plaintext response byte for byte (the `Date` checked for shape, then masked),
//! `HEAD`, 404, 405, discarded bodies, keep-alive rules (HTTP/1.1, `Connection: close`,
//! HTTP/1.0 with and without `keep-alive`), pipelines split at every byte and sent a byte at a
//! time, each error status followed by a close, the slow-loris deadline (and that an idle
//! keep-alive connection outlives it), and backpressure against a client that does not read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loopwire::{Action, CloseReason, Conn, EventHandler};
use loopwire_examples::testing::{Probe, TestServer as Server};
use loopwire_http::{ConnState, Http, Limits};

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

#[test]
fn plaintext_and_friends() {
    let server = Server::start(Http::default());
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
    // A body is read and discarded (in two pieces here), then 405; the connection stays.
    s.write_all(b"POST /plaintext HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234")
        .expect("send");
    std::thread::sleep(Duration::from_millis(20));
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

#[test]
fn the_date_is_current() {
    let server = Server::start(Http::default());
    let mut s = server.connect();
    s.write_all(GET).expect("send");
    let mut got = vec![0; hello().len()];
    s.read_exact(&mut got).expect("response");
    let text = String::from_utf8_lossy(&got);
    let date = text
        .split("\r\nDate: ")
        .nth(1)
        .and_then(|d| d.get(..29))
        .expect("a Date");
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let now = loopwire_http::date::imf_fixdate(secs);
    let before = loopwire_http::date::imf_fixdate(secs - 1);
    assert!(
        date.as_bytes() == now || date.as_bytes() == before,
        "{date} vs {}",
        String::from_utf8_lossy(&now)
    );
}

#[test]
fn keep_alive_rules() {
    let server = Server::start(Http::default());

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

/// Four requests of different shapes and their responses.
fn pipeline() -> (Vec<u8>, String) {
    let mut req = Vec::new();
    req.extend_from_slice(GET);
    req.extend_from_slice(b"\r\nHEAD / HTTP/1.1\nHost: a\n\n");
    req.extend_from_slice(b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    req.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n");
    let mut reply = hello();
    reply += &response("200 OK", "", "Hello, World!", true);
    reply += &response(
        "405 Method Not Allowed",
        "Allow: GET, HEAD\r\n",
        "Method Not Allowed",
        false,
    );
    reply += &response("404 Not Found", "", "Not Found", false);
    (req, reply)
}

#[test]
fn pipeline_split_at_every_byte_boundary() {
    let server = Server::start(Http::default());
    let (req, reply) = pipeline();
    let mut s = server.connect();
    for cut in 0..=req.len() {
        s.write_all(&req[..cut]).expect("send");
        // Give the first part time to arrive on its own.
        std::thread::sleep(Duration::from_millis(1));
        s.write_all(&req[cut..]).expect("send");
        expect(&mut s, &reply);
    }
}

#[test]
fn pipeline_one_byte_at_a_time_and_sixteen_deep() {
    let server = Server::start(Http::default());
    let (req, reply) = pipeline();
    let mut s = server.connect();
    for b in &req {
        s.write_all(std::slice::from_ref(b)).expect("send");
    }
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
    let server = Server::start(Http::default());
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
    let cases: [(&[u8], &str, &str); 8] = [
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
    let server = Server::start(Http::default());
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..50 {
        let mut s = server.connect();
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let junk: Vec<u8> = (0..200)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        let _ = s.write_all(&junk);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    // Still serving.
    let mut s = server.connect();
    roundtrip(&mut s, GET, &hello());
}

/// `Http` plus a count of the connections closed by the read deadline.
struct Deadlines {
    inner: Http,
    read_timeouts: Arc<AtomicUsize>,
}

impl EventHandler for Deadlines {
    type State = ConnState;

    fn on_traffic(&self, c: &mut Conn<'_, ConnState>) -> Action {
        self.inner.on_traffic(c)
    }

    fn on_close(&self, _c: &mut Conn<'_, ConnState>, reason: CloseReason) -> Action {
        if matches!(reason, CloseReason::ReadTimeout) {
            self.read_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        Action::None
    }
}

#[test]
fn a_slow_request_is_closed_an_idle_connection_is_not() {
    let timeout = Duration::from_millis(400);
    let read_timeouts = Arc::new(AtomicUsize::new(0));
    let server = Server::start(Deadlines {
        inner: Http::new(Limits {
            request_timeout: timeout,
            ..Limits::default()
        }),
        read_timeouts: read_timeouts.clone(),
    });

    // Idle between requests for longer than the timeout: still served.
    let mut idle = server.connect();
    roundtrip(&mut idle, GET, &hello());
    std::thread::sleep(timeout * 2);
    roundtrip(&mut idle, GET, &hello());

    // A head trickling in a byte every 50 ms: closed at the deadline, however busy it is.
    let mut slow = server.connect();
    let start = Instant::now();
    let mut closed = false;
    for b in b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Slow: 0123456789012345678901234567890123" {
        if slow.write_all(std::slice::from_ref(b)).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if start.elapsed() > timeout * 4 {
            break;
        }
    }
    if !closed {
        expect_eof(&mut slow);
    }
    let took = start.elapsed();
    assert!(took >= timeout, "closed after {took:?}");
    assert!(
        read_timeouts.load(Ordering::Relaxed) >= 1,
        "closed by the read deadline"
    );

    // A body that stops halfway: closed too.
    let mut stalled = server.connect();
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhalf")
        .expect("send");
    expect_eof(&mut stalled);
    assert!(read_timeouts.load(Ordering::Relaxed) >= 2);

    // The idle connection is still there.
    roundtrip(&mut idle, GET, &hello());
}

#[test]
fn a_client_that_does_not_read_is_not_buffered_without_bound() {
    let probe = Arc::new(Probe::<Http>::default());
    let server = Server::start(probe.clone());
    let mut s = server.connect();
    roundtrip(&mut s, GET, &hello());

    // 200 000 pipelined requests (9 MiB of requests, 25 MiB of responses), none read yet.
    const N: usize = 200_000;
    let mut writer = s.try_clone().expect("clone");
    let send = std::thread::spawn(move || {
        writer.write_all(&GET.repeat(N)).expect("send the pipeline");
    });
    // Let the server run into the full socket and stop.
    std::thread::sleep(Duration::from_millis(500));
    let one = hello().len();
    let backlog = probe.max_backlog.load(Ordering::Relaxed);
    // The high watermark (64 KiB) plus one response, never the 25 MiB.
    assert!(
        backlog <= 64 * 1024 + one,
        "unsent backlog grew to {backlog} bytes"
    );
    assert!(probe.paused.load(Ordering::Relaxed) > 0, "reading paused");

    // Now read: every response arrives, in order, as reading resumes.
    let mut got = vec![0; one];
    let expected = hello();
    for i in 0..N {
        s.read_exact(&mut got).expect("a response");
        assert!(mask_dates(&got) == expected, "response {i} differs");
    }
    send.join().expect("writer");
    assert!(probe.max_backlog.load(Ordering::Relaxed) <= 64 * 1024 + one);
    roundtrip(&mut s, GET, &hello());
}

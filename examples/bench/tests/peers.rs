//! The HTTP and RESP peers (`tokio_http`, `mio_http`, `hyper_http`, `tokio_resp`, `mio_resp`), each started
//! as the harness starts it (port 0, `listening on tcp://ADDR`) and asked real questions over
//! TCP on 127.0.0.1: answers, their order in a pipeline, and the close after a protocol error.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use loopwire_bench::server::{Server, Spec};

/// Hang guard for every read: no test waits longer for an answer.
const HANG_GUARD: Duration = Duration::from_secs(10);

fn start(bin: &str) -> Server {
    start_with(bin, &[])
}

fn start_with(bin: &str, extra: &[&str]) -> Server {
    let mut argv = vec![bin, "--addr", "127.0.0.1:0", "--threads", "2"];
    argv.extend_from_slice(extra);
    Server::start(&Spec::new(bin, &argv)).unwrap_or_else(|e| panic!("{bin}: {e}"))
}

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    s
}

/// One HTTP response: its status line, headers and body.
#[derive(Debug)]
struct Response {
    status: String,
    head: String,
    body: Vec<u8>,
}

/// The first complete response in `buf` and its length.
fn parse_response(buf: &[u8]) -> Option<(Response, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let body = buf.get(end..end + len)?.to_vec();
    let status = head.lines().next().unwrap_or_default().to_owned();
    Some((Response { status, head, body }, end + len))
}

/// Reads until `n` complete responses arrived (and no more bytes than theirs).
fn responses(s: &mut TcpStream, n: usize) -> Vec<Response> {
    let mut buf = Vec::new();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while got.len() < n {
        while let Some((r, len)) = parse_response(&buf) {
            got.push(r);
            buf.drain(..len);
        }
        if got.len() == n {
            break;
        }
        let k = s
            .read(&mut chunk)
            .expect("a response within the hang guard");
        assert!(k > 0, "closed after {} of {n} responses", got.len());
        buf.extend_from_slice(&chunk[..k]);
    }
    assert!(buf.is_empty(), "more than asked for: {buf:?}");
    got
}

/// Whether the peer closed the connection (read returns 0 or a reset; not the hang guard).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn http_peer(bin: &str) {
    let server = start(bin);
    let mut s = connect(&server);
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let r = responses(&mut s, 1).remove(0);
    assert_eq!(r.status, "HTTP/1.1 200 OK", "{bin}");
    assert_eq!(r.body, b"Hello, World!", "{bin}");
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{bin}: {}",
        r.head
    );

    // Keep-alive: the same connection, then two requests in one write, answered in order.
    s.write_all(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let r = responses(&mut s, 1).remove(0);
    assert_eq!(r.status, "HTTP/1.1 200 OK", "{bin}");
    assert_eq!(r.body, br#"{"message":"Hello, World!"}"#, "{bin}");
    s.write_all(
        b"GET /json HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nping",
    )
    .expect("send");
    let rs = responses(&mut s, 2);
    assert_eq!(rs[0].body, br#"{"message":"Hello, World!"}"#, "{bin}");
    assert_eq!(rs[1].body, b"ping", "{bin}");

    // A bad head (no Host) is answered with 400, and the connection closes.
    s.write_all(b"GET /plaintext HTTP/1.1\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let r = responses(&mut s, 1).remove(0);
    assert!(r.status.starts_with("HTTP/1.1 400"), "{bin}: {}", r.status);
    assert!(closed(&mut s), "{bin}: still open after a bad head");
    server.stop();
}

/// A request that stops half-way is cut off by the request timeout (1 s here; the hang guard
/// is 10 s), while an idle keep-alive connection beside it is not.
fn http_slow_request(bin: &str) {
    let server = start_with(bin, &["--request-timeout", "1"]);
    let mut idle = connect(&server);
    idle.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert_eq!(responses(&mut idle, 1)[0].body, b"Hello, World!");
    let mut slow = connect(&server);
    slow.write_all(b"GET /plaintext HTTP/1.1\r\nHo")
        .expect("send");
    assert!(closed(&mut slow), "{bin}: a late request was not cut off");
    idle.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert_eq!(responses(&mut idle, 1)[0].body, b"Hello, World!", "{bin}");
    server.stop();
}

#[test]
fn http_peers_cut_off_late_requests() {
    http_slow_request(env!("CARGO_BIN_EXE_tokio_http"));
    http_slow_request(env!("CARGO_BIN_EXE_mio_http"));
}

/// hyper: the same answers, and two requests in one write answered in order. (hyper accepts
/// an HTTP/1.1 head without `Host`, and its header read timeout also ends a keep-alive
/// connection idle that long: those two checks of the other peers do not apply.)
#[test]
fn hyper_http_answers_in_order_and_cuts_off_late_heads() {
    let server = start_with(
        env!("CARGO_BIN_EXE_hyper_http"),
        &["--request-timeout", "1"],
    );
    let mut s = connect(&server);
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let r = responses(&mut s, 1).remove(0);
    assert_eq!(r.status, "HTTP/1.1 200 OK");
    assert_eq!(r.body, b"Hello, World!");
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("content-type: text/plain")
    );
    s.write_all(
        b"GET /json HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nping",
    )
    .expect("send");
    let rs = responses(&mut s, 2);
    assert_eq!(rs[0].body, br#"{"message":"Hello, World!"}"#);
    assert_eq!(rs[1].body, b"ping");
    let mut slow = connect(&server);
    slow.write_all(b"GET /plaintext HTTP/1.1\r\nHo")
        .expect("send");
    assert!(closed(&mut slow), "a late head was not cut off");
    server.stop();
}

/// hyper's routes: 405 with the methods allowed, 404 elsewhere, on one kept-alive connection.
#[test]
fn hyper_http_refuses_other_methods_and_paths() {
    let server = start(env!("CARGO_BIN_EXE_hyper_http"));
    let mut s = connect(&server);
    s.write_all(
        b"DELETE /json HTTP/1.1\r\nHost: t\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .expect("send");
    let rs = responses(&mut s, 3);
    assert!(rs[0].status.starts_with("HTTP/1.1 405"), "{}", rs[0].status);
    assert!(rs[0].head.to_ascii_lowercase().contains("allow: get, head"));
    assert!(rs[1].status.starts_with("HTTP/1.1 405"), "{}", rs[1].status);
    assert!(rs[1].head.to_ascii_lowercase().contains("allow: post"));
    assert!(rs[2].status.starts_with("HTTP/1.1 404"), "{}", rs[2].status);
    server.stop();
}

#[test]
fn tokio_http_answers_in_order_and_closes_on_errors() {
    http_peer(env!("CARGO_BIN_EXE_tokio_http"));
}

#[test]
fn mio_http_answers_in_order_and_closes_on_errors() {
    http_peer(env!("CARGO_BIN_EXE_mio_http"));
}

/// Reads until `want` bytes arrived (the expected replies' length), then checks them.
fn replies(s: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got)
        .expect("replies within the hang guard");
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

fn resp_peer(bin: &str) {
    let server = start(bin);
    let url = format!("redis://{}/", server.addr);
    let client = redis::Client::open(url.as_str()).expect("a redis URL");
    let mut c = client
        .get_connection_with_timeout(HANG_GUARD)
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let ok: String = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut c)
        .expect("SET");
    assert_eq!(ok, "OK", "{bin}");
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).expect("GET");
    assert_eq!(v.as_deref(), Some("v"), "{bin}");
    let v: Option<String> = redis::cmd("GET").arg("nope").query(&mut c).expect("GET");
    assert_eq!(v, None, "{bin}");
    let n: i64 = redis::cmd("LPUSH")
        .arg("l")
        .arg("a")
        .arg("b")
        .arg("c")
        .query(&mut c)
        .expect("LPUSH");
    assert_eq!(n, 3, "{bin}");
    let l: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("LRANGE");
    assert_eq!(l, ["c", "b", "a"], "{bin}");
    let e = redis::cmd("GET")
        .arg("l")
        .query::<Option<String>>(&mut c)
        .expect_err("GET on a list");
    assert_eq!(e.code(), Some("WRONGTYPE"), "{bin}: {e}");

    // Raw bytes: a pipeline in one write (multibulk and inline), answered in order; an
    // unknown command's error; the store is shared with the other connection.
    let mut s = connect(&server);
    s.write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nINCR n\r\nINCR n\r\nNOSUCH a b\r\nPING\r\n")
        .expect("send");
    replies(
        &mut s,
        b"$1\r\nv\r\n:1\r\n:2\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n+PONG\r\n",
    );
    // A command split over two writes (with TCP_NODELAY each write leaves as its own segment,
    // so the server likely sees the first part alone; the answer is the same either way,
    // and loopwire_resp::serve's unit tests cover the split parse itself).
    s.set_nodelay(true).expect("nodelay");
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$")
        .expect("send");
    s.write_all(b"2\r\nv2\r\nGET k\r\n").expect("send");
    replies(&mut s, b"+OK\r\n$2\r\nv2\r\n");
    // A protocol error is answered, then the connection closes.
    s.write_all(b"*1\r\n$x\r\nPING\r\n").expect("send");
    replies(&mut s, b"-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed(&mut s), "{bin}: still open after a protocol error");
    server.stop();
}

#[test]
fn tokio_resp_runs_the_commands_and_pipelines() {
    resp_peer(env!("CARGO_BIN_EXE_tokio_resp"));
}

#[test]
fn mio_resp_runs_the_commands_and_pipelines() {
    resp_peer(env!("CARGO_BIN_EXE_mio_resp"));
}

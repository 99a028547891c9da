//! The RESP server end to end: the handler runs in-process on an engine bound to
//! 127.0.0.1 port 0, and each test talks RESP to it over a `TcpStream` with timeouts.
//!
//! No test sleeps or measures time: the server has no timers, and where a test needs the
//! server to have seen something first (the first part of a split pipeline, a client that
//! stopped reading) it waits for the server's own record of it ([`Recorder`], [`Probe`]),
//! bounded only by a hang guard. Verdicts are contents and counts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use loopwire_examples::testing::{Probe, Recorder, TestServer as Server, eventually};
use loopwire_resp::{Limits, Resp};

/// Reads exactly `expected.len()` bytes and compares them with `expected`.
fn expect(s: &mut TcpStream, expected: &[u8]) {
    let mut got = vec![0; expected.len()];
    s.read_exact(&mut got).expect("reply");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

/// Sends `request`, expects `reply`.
fn roundtrip(s: &mut TcpStream, request: &[u8], reply: &[u8]) {
    s.write_all(request).expect("send");
    expect(s, reply);
}

/// Expects the server to close the connection with nothing more to say.
fn expect_eof(s: &mut TcpStream) {
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("EOF");
    assert_eq!(String::from_utf8_lossy(&rest), "");
}

/// A multibulk request.
fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

#[test]
fn ping_set_get_and_friends() {
    let server = Server::start(Resp::default());
    let mut s = server.connect();
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n");
    roundtrip(&mut s, &cmd(&[b"PING"]), b"+PONG\r\n");
    roundtrip(&mut s, &cmd(&[b"ping", b"hello"]), b"$5\r\nhello\r\n");
    roundtrip(&mut s, &cmd(&[b"GET", b"k"]), b"$-1\r\n");
    let binary: &[u8] = b"\r\n\0\xff*$";
    roundtrip(&mut s, &cmd(&[b"SET", b"k", binary]), b"+OK\r\n");
    roundtrip(&mut s, &cmd(&[b"GET", b"k"]), b"$6\r\n\r\n\0\xff*$\r\n");
    roundtrip(&mut s, b"INCR n\r\nINCR n\r\n", b":1\r\n:2\r\n");
    roundtrip(
        &mut s,
        &cmd(&[b"MGET", b"n", b"none"]),
        b"*2\r\n$1\r\n2\r\n$-1\r\n",
    );
    roundtrip(
        &mut s,
        &cmd(&[b"CONFIG", b"GET", b"save"]),
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
    );
    roundtrip(
        &mut s,
        &cmd(&[b"FLUSH\r\nALL"]),
        b"-ERR unknown command 'FLUSH  ALL', with args beginning with: \r\n",
    );
    roundtrip(&mut s, b"FLUSHALL\r\nDBSIZE\r\n", b"+OK\r\n:0\r\n");
    // The connection is still usable after an unknown command.
    roundtrip(&mut s, b"ECHO still-here\r\n", b"$10\r\nstill-here\r\n");
}

/// A pipeline of commands and the replies to it, in order.
fn pipeline() -> (Vec<u8>, Vec<u8>) {
    let mut req = Vec::new();
    req.extend(cmd(&[b"SET", b"key:1", b"value\r\none"]));
    req.extend(b"PING\r\n");
    req.extend(cmd(&[b"GET", b"key:1"]));
    req.extend(b"*0\r\n");
    req.extend(cmd(&[b"INCR", b"counter"]));
    req.extend(b"  ECHO   inline  \r\n");
    req.extend(cmd(&[b"DEL", b"key:1", b"counter"]));
    req.extend(cmd(&[b"MGET", b"key:1", b"counter"]));
    let reply =
        b"+OK\r\n+PONG\r\n$10\r\nvalue\r\none\r\n:1\r\n$6\r\ninline\r\n:2\r\n*2\r\n$-1\r\n$-1\r\n";
    (req, reply.to_vec())
}

/// The client's address, under which the server's [`Recorder`] logs this connection.
fn me(s: &TcpStream) -> std::net::SocketAddr {
    s.local_addr().expect("local address")
}

#[test]
fn pipeline_split_at_every_byte_boundary() {
    let rec = Arc::new(Recorder::new(Resp::default()));
    let server = Server::start(rec.clone());
    let (req, reply) = pipeline();
    for cut in 0..=req.len() {
        let mut s = server.connect();
        s.write_all(&req[..cut]).expect("send");
        // The server has been shown exactly the first part (and has answered what it holds)
        // before the rest is sent: it parses the pipeline split at `cut`, whatever the
        // kernel's segmentation; the replies are the same bytes either way.
        rec.wait_received(me(&s), cut);
        s.write_all(&req[cut..]).expect("send");
        expect(&mut s, &reply);
        assert_eq!(rec.log(me(&s)).received, req.len());
    }
}

#[test]
fn pipeline_one_byte_at_a_time() {
    let rec = Arc::new(Recorder::new(Resp::default()));
    let server = Server::start(rec.clone());
    let (req, reply) = pipeline();
    let mut s = server.connect();
    for (i, b) in req.iter().enumerate() {
        s.write_all(std::slice::from_ref(b)).expect("send");
        // Shown to the server before the next byte is sent: one read per byte.
        rec.wait_received(me(&s), i + 1);
    }
    assert!(rec.log(me(&s)).traffic_at.len() >= req.len());
    expect(&mut s, &reply);
    // A long pipeline in one write: every reply, in order.
    let mut many = Vec::new();
    let mut replies = Vec::new();
    for i in 0..2000 {
        many.extend(cmd(&[b"ECHO", format!("{i}").as_bytes()]));
        replies.extend(format!("${}\r\n{i}\r\n", format!("{i}").len()).into_bytes());
    }
    roundtrip(&mut s, &many, &replies);
}

#[test]
fn malformed_request_is_an_error_then_close() {
    let server = Server::start(Resp::default());
    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"PING\r\n*1\r\n+OK\r\nPING\r\n",
        b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
    );
    expect_eof(&mut s);

    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"*abc\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_eof(&mut s);

    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"*1\r\n$4\r\nPINGxx",
        b"-ERR Protocol error: expected CRLF\r\n",
    );
    expect_eof(&mut s);

    // An inline line longer than 64 KiB without a newline.
    let mut s = server.connect();
    roundtrip(
        &mut s,
        &vec![b'a'; 70 * 1024],
        b"-ERR Protocol error: too big inline request\r\n",
    );
    expect_eof(&mut s);
}

#[test]
fn oversized_bulk_length_is_refused_before_its_data() {
    let server = Server::start(Resp::default());
    let mut s = server.connect();
    // 100 GiB announced, nothing sent: the error comes at once, nothing is reserved.
    roundtrip(
        &mut s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$107374182400\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_eof(&mut s);

    // A smaller limit is the limit: 1 KiB passes, 1 KiB + 1 does not.
    let server = Server::start(Resp::new(Limits {
        max_bulk: 1024,
        ..Limits::default()
    }));
    let mut s = server.connect();
    let value = vec![b'v'; 1024];
    roundtrip(&mut s, &cmd(&[b"SET", b"k", &value]), b"+OK\r\n");
    roundtrip(
        &mut s,
        b"*2\r\n$4\r\nECHO\r\n$1025\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_eof(&mut s);

    // As are the array length limit and the count line's length.
    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"*1048577\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_eof(&mut s);
}

#[test]
fn quit_replies_then_closes_and_ignores_the_rest() {
    let server = Server::start(Resp::default());
    let mut s = server.connect();
    roundtrip(
        &mut s,
        b"SET before 1\r\nQUIT\r\nSET after 1\r\n",
        b"+OK\r\n+OK\r\n",
    );
    expect_eof(&mut s);
    let mut s = server.connect();
    roundtrip(&mut s, b"EXISTS before after\r\nQUIT\r\n", b":1\r\n+OK\r\n");
    expect_eof(&mut s);
}

#[test]
fn a_client_that_does_not_read_is_not_buffered_without_bound() {
    let probe = Arc::new(Probe::<Resp>::default());
    let server = Server::start(probe.clone());
    let value = vec![b'x'; 16 * 1024];
    let mut s = server.connect();
    roundtrip(&mut s, &cmd(&[b"SET", b"big", &value]), b"+OK\r\n");

    // 2 000 GETs of 16 KiB each: 32 MiB of replies, sent without reading any.
    const GETS: usize = 2000;
    let mut writer = s.try_clone().expect("clone");
    let send = std::thread::spawn(move || {
        let get = b"GET big\r\n".repeat(GETS);
        writer.write_all(&get).expect("send the pipeline");
    });
    // The high watermark (64 KiB) plus one reply, never the 32 MiB.
    let bound = 64 * 1024 + value.len() + 64;
    // The server runs into the full socket and pauses reading, or (broken) buffers past the
    // bound: no sleep, the probe says which, as soon as either happens.
    eventually("the server paused reading or outgrew the bound", || {
        probe.paused.load(Ordering::Relaxed) > 0
            || probe.max_backlog.load(Ordering::Relaxed) > bound
    });
    let backlog = probe.max_backlog.load(Ordering::Relaxed);
    assert!(backlog <= bound, "unsent backlog grew to {backlog} bytes");
    assert!(probe.paused.load(Ordering::Relaxed) > 0, "reading paused");

    // Now read: every reply arrives, in order, as reading resumes.
    let mut header = format!("${}\r\n", value.len()).into_bytes();
    header.extend_from_slice(&value);
    header.extend_from_slice(b"\r\n");
    let mut got = vec![0; header.len()];
    for i in 0..GETS {
        s.read_exact(&mut got).expect("a reply");
        assert!(got == header, "reply {i} differs");
    }
    send.join().expect("writer");
    assert!(probe.max_backlog.load(Ordering::Relaxed) <= bound);
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n");
}

/// Each limit at its bound: the limit itself is served, one more is `-ERR Protocol error`
/// then a close of that connection only (a second connection, opened before, is still
/// served). Small limits: bulk 16 bytes, 4 arguments, inline lines of 32 bytes.
#[test]
fn limits_at_the_bound_exactly() {
    let server = Server::start(Resp::new(Limits {
        max_bulk: 16,
        max_args: 4,
        max_inline: 32,
    }));
    let arg = [b'a'; 16];
    let mut bulk_reply = b"$16\r\n".to_vec();
    bulk_reply.extend_from_slice(&arg);
    bulk_reply.extend_from_slice(b"\r\n");
    // 32 bytes before the newline ("\r" counted), then 33.
    let inline_at = format!("ECHO {}\r\n", "i".repeat(26));
    let inline_over = format!("ECHO {}\r\n", "i".repeat(27));
    let inline_reply = format!("$26\r\n{}\r\n", "i".repeat(26));
    // (at the limit, its reply, one over, the error)
    type Case = (Vec<u8>, Vec<u8>, Vec<u8>, &'static [u8]);
    let cases: [Case; 3] = [
        (
            cmd(&[b"ECHO", &arg]),
            bulk_reply,
            b"*2\r\n$4\r\nECHO\r\n$17\r\n".to_vec(),
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            cmd(&[b"DEL", b"a", b"b", b"c"]),
            b":0\r\n".to_vec(),
            b"*5\r\n".to_vec(),
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            inline_at.into_bytes(),
            inline_reply.into_bytes(),
            inline_over.into_bytes(),
            b"-ERR Protocol error: too big inline request\r\n",
        ),
    ];
    for (at, at_reply, over, error) in cases {
        let mut other = server.connect();
        let mut s = server.connect();
        roundtrip(&mut s, &at, &at_reply);
        roundtrip(&mut s, &over, error);
        expect_eof(&mut s);
        roundtrip(&mut other, &at, &at_reply);
        roundtrip(&mut other, b"PING\r\n", b"+PONG\r\n");
    }
}

//! Unit tests of the request-head parser: the accepted forms, every error, resumption over
//! any split, and arbitrary bytes.

use super::*;

fn limits() -> Limits {
    Limits::default()
}

/// Parses `buf` from scratch.
fn once(buf: &[u8]) -> Result<Option<Request<'_>>, ParseError> {
    parse(buf, &mut Progress::default(), &limits())
}

/// Parses `buf`, expecting a complete request.
fn req(buf: &[u8]) -> Request<'_> {
    match once(buf) {
        Ok(Some(r)) => r,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

fn err(buf: &[u8]) -> ParseError {
    match once(buf) {
        Err(e) => e,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

const WRK: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

#[test]
fn a_wrk_request() {
    let r = req(WRK);
    assert_eq!(r.method, b"GET");
    assert_eq!(r.target, b"/plaintext");
    assert_eq!(r.path(), b"/plaintext");
    assert_eq!(r.version, Version::Http11);
    assert!(r.keep_alive);
    assert!(!r.keep_alive_asked);
    assert_eq!(r.content_length, 0);
    assert_eq!(r.head_len, WRK.len());
}

#[test]
fn only_the_first_request_of_a_pipeline_is_taken() {
    let mut buf = WRK.to_vec();
    buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /partial HT");
    let r = req(&buf);
    assert_eq!(r.head_len, WRK.len());
    let r = req(&buf[WRK.len()..]);
    assert_eq!(r.target, b"/");
    assert_eq!(once(&buf[WRK.len() + r.head_len..]), Ok(None));
}

#[test]
fn bare_lf_leading_blank_lines_and_query() {
    let buf = b"\r\n\nHEAD /plaintext?x=1#f HTTP/1.1\nHost: a\n\nGET";
    let r = req(buf);
    assert_eq!(r.method, b"HEAD");
    assert_eq!(r.path(), b"/plaintext");
    assert_eq!(r.head_len, buf.len() - 3);
    assert_eq!(once(b"\r\n\r\n\r\n"), Ok(None));
}

#[test]
fn keep_alive_follows_version_and_connection() {
    let cases: [(&[u8], bool, bool); 7] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, false),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nconnection: Upgrade, CLOSE\r\n\r\n",
            false,
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false, false),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            true,
            true,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection:Keep-Alive \r\n\r\n",
            true,
            true,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
            false,
        ),
    ];
    for (buf, keep_alive, asked) in cases {
        let r = req(buf);
        assert_eq!(
            (r.keep_alive, r.keep_alive_asked),
            (keep_alive, asked),
            "{}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn content_length() {
    let r = req(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\nbody...");
    assert_eq!(r.content_length, 42);
    let r = req(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length:5\r\n\r\n");
    assert_eq!(r.content_length, 5);
    for bad in [
        &b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ] {
        assert_eq!(
            err(bad),
            ParseError::BadContentLength,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let max = limits().max_body;
    let at = format!("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {max}\r\n\r\n");
    assert_eq!(req(at.as_bytes()).content_length, max);
    let over = format!(
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        max + 1
    );
    assert_eq!(err(over.as_bytes()), ParseError::BodyTooLarge);
}

#[test]
fn every_error() {
    let cases: [(&[u8], ParseError); 21] = [
        (b"GET /\r\n\r\n", ParseError::BadRequestLine),
        (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b" / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"GET / http/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", ParseError::BadRequestLine),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion),
        (b"GET / HTTP/0.9\r\n\r\n", ParseError::UnsupportedVersion),
        (b"GET / HTTP/1.1\r\nHost a\r\n\r\n", ParseError::BadHeader),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", ParseError::BadHeader),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", ParseError::BadHeader),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", ParseError::BadHeader),
        (b"GET / HTTP/1.1\r\n: a\r\n\r\n", ParseError::BadHeader),
        (b"GET / HTTP/1.1\r\n\r\n", ParseError::BadHost),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ParseError::BadHost),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            ParseError::Chunked,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
            ParseError::Chunked,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            ParseError::TransferEncoding,
        ),
    ];
    for (buf, e) in cases {
        assert_eq!(err(buf), e, "{}", String::from_utf8_lossy(buf));
    }
}

#[test]
fn head_size_limit() {
    let max = limits().max_head;
    let head = |len: usize| {
        // "GET / HTTP/1.1\r\nHost: a\r\nX: " + padding + "\r\n\r\n"
        let mut v = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        v.resize(len - 4, b'x');
        v.extend_from_slice(b"\r\n\r\n");
        assert_eq!(v.len(), len);
        v
    };
    assert_eq!(req(&head(max)).head_len, max);
    assert_eq!(err(&head(max + 1)), ParseError::HeadTooLarge);
    // No blank line within the limit: refused as soon as the limit is reached.
    let partial = &head(max + 100)[..max];
    assert_eq!(err(partial), ParseError::HeadTooLarge);
    assert_eq!(once(&partial[..max - 1]), Ok(None));
}

#[test]
fn header_count_limit() {
    let n = limits().max_headers;
    let mut at = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 1..n {
        at.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut over = at.clone();
    at.extend_from_slice(b"\r\n");
    assert!(req(&at).keep_alive);
    over.extend_from_slice(b"X-last: v\r\n\r\n");
    assert_eq!(err(&over), ParseError::TooManyHeaders);
}

/// A pipeline of assorted requests: split anywhere, parsed with the progress kept between
/// calls, it yields the same requests as parsed whole.
#[test]
fn any_split_resumes_to_the_same_requests() {
    let stream: &[u8] = b"\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n\
        POST /p HTTP/1.1\nHost: b\nContent-Length: 0\n\n\
        HEAD / HTTP/1.0\r\nConnection: keep-alive\r\nX-Long: abcdefghijklmnopqrstuvwxyz\r\n\r\n";
    let whole = {
        let mut v = Vec::new();
        let mut at = 0;
        while let Ok(Some(r)) = once(&stream[at..]) {
            v.push((r.method.to_vec(), r.target.to_vec(), r.keep_alive));
            at += r.head_len;
        }
        assert_eq!(at, stream.len());
        v
    };
    assert_eq!(whole.len(), 3);
    for step in 1..=stream.len() {
        let mut got = Vec::new();
        let mut progress = Progress::default();
        let (mut at, mut end) = (0, 0);
        while at < stream.len() {
            end = (end + step).min(stream.len());
            while let Ok(Some(r)) = parse(&stream[at..end], &mut progress, &limits()) {
                got.push((r.method.to_vec(), r.target.to_vec(), r.keep_alive));
                at += r.head_len;
            }
            if end == stream.len() {
                break;
            }
        }
        assert_eq!(got, whole, "chunks of {step}");
    }
}

/// A head arriving one byte at a time is scanned once, not once per byte.
#[test]
fn resumption_does_not_rescan() {
    let mut progress = Progress::default();
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: aaaaaaaaaaaaaaaa";
    for end in 1..=buf.len() {
        assert_eq!(parse(&buf[..end], &mut progress, &limits()), Ok(None));
        assert_eq!(progress.scanned, end);
    }
    assert_eq!(progress.line_start, 25);
}

/// A small xorshift generator: the tests need no crate for randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Arbitrary bytes and mutated valid requests never panic, and whatever is accepted stays
/// within the buffer and the limits.
#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"GETHOST /:\r\n\t 01.Pcl-,\x00\xff";
    let small = Limits {
        max_head: 64,
        max_headers: 3,
        max_body: 10,
        ..Limits::default()
    };
    for i in 0..200_000 {
        let mut buf = if i % 2 == 0 {
            WRK.to_vec()
        } else {
            (0..rng.below(80))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        };
        for _ in 0..rng.below(4) {
            if buf.is_empty() {
                break;
            }
            let at = rng.below(buf.len());
            match rng.below(3) {
                0 => buf[at] = alphabet[rng.below(alphabet.len())],
                1 => {
                    buf.remove(at);
                }
                _ => buf.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        let lim = if i % 3 == 0 { small } else { limits() };
        let mut progress = Progress::default();
        let cut = rng.below(buf.len() + 1);
        let _ = parse(&buf[..cut], &mut progress, &lim);
        if let Ok(Some(r)) = parse(&buf, &mut progress, &lim) {
            assert!(r.head_len <= buf.len() && r.head_len <= lim.max_head);
            assert!(r.content_length <= lim.max_body);
        }
    }
}

/// With several faults in one head, the one reported is the first the rules meet: the
/// header count before a later line's syntax, a line's syntax before its meaning.
#[test]
fn the_first_fault_is_the_one_reported() {
    let small = Limits {
        max_headers: 2,
        ..limits()
    };
    let over_then_bad = b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nbad line\r\n\r\n";
    assert_eq!(
        parse(over_then_bad, &mut Progress::default(), &small),
        Err(ParseError::TooManyHeaders)
    );
    let bad_then_over = b"GET / HTTP/1.1\r\nHost: a\r\nbad line\r\nY: 2\r\nZ: 3\r\n\r\n";
    assert_eq!(
        parse(bad_then_over, &mut Progress::default(), &small),
        Err(ParseError::BadHeader)
    );
    let length_then_bad = b"POST / HTTP/1.1\r\nContent-Length: x\r\nbad line\r\nHost: a\r\n\r\n";
    assert_eq!(err(length_then_bad), ParseError::BadContentLength);
    let bad_then_length = b"POST / HTTP/1.1\r\nbad line\r\nContent-Length: x\r\nHost: a\r\n\r\n";
    assert_eq!(err(bad_then_length), ParseError::BadHeader);
}

/// A request target must be ASCII or UTF-8 (httparse's rule); header values may carry any
/// byte from 0x80 up.
#[test]
fn non_utf8_targets_are_refused_values_are_not() {
    assert_eq!(
        err(b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::BadRequestLine
    );
    assert_eq!(
        req("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes()).path(),
        "/caf\u{e9}".as_bytes()
    );
    assert!(req(b"GET / HTTP/1.1\r\nHost: a\r\nX: \xff\xfe\r\n\r\n").keep_alive);
}

//! The HTTP/1.1 framing of the API: request heads found and parsed (by `httparse`) within
//! limits, and responses written.
//!
//! - [`find_head`] looks for the blank line that ends a head, resuming where its last call
//!   stopped (a head arriving a byte at a time is scanned once), and never further than
//!   [`ApiConfig::max_head`](super::ApiConfig::max_head) bytes.
//! - [`parse_head`] parses a complete head with `httparse` into at most
//!   [`MAX_HEADERS`] header slots on the stack and keeps what the API needs: method, path,
//!   `Content-Length`, `Connection`, `Expect`, and whether `Authorization` carries the
//!   token.
//! - Request bodies are framed by `Content-Length` only: `Transfer-Encoding` (chunked or
//!   any other) is answered 501 and the connection closed, since its end cannot be found.
//!   `Content-Length` is digits only; repeated, it must repeat the same value.
//! - HTTP/1.1 (keep-alive unless `Connection: close`) and HTTP/1.0 (close unless
//!   `Connection: keep-alive`); another `HTTP/d.d` is 505. `Host` is not checked: the API
//!   serves one site.
//!
//! Responses always say `HTTP/1.1`, carry `Content-Length`, and say `Connection: close`
//! when the server closes after them. No input makes this module panic: every index is
//! checked.

use super::token::{Auth, Token};

/// The header slots on the stack: the most header lines any configuration can allow.
pub(crate) const MAX_HEADERS: usize = 64;

/// A request head that cannot be served; the connection closes after its answer, since
/// where the next request would start is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// No end of head within the limit (431).
    TooLarge,
    /// More header lines than allowed (431).
    TooManyHeaders,
    /// A malformed request line or header line (400).
    Malformed,
    /// A `Content-Length` that is not digits, or repeated with another value (400).
    BadContentLength,
    /// An HTTP version other than 1.0 and 1.1 (505).
    Version,
    /// A `Transfer-Encoding` header (501).
    TransferEncoding,
}

impl HeadError {
    /// The status, error code and message this is answered with.
    pub(crate) fn answer(self) -> (u16, &'static str, &'static str) {
        match self {
            HeadError::TooLarge => (431, "head_too_large", "request head larger than the limit"),
            HeadError::TooManyHeaders => (431, "too_many_headers", "too many header lines"),
            HeadError::Malformed => (400, "bad_request", "malformed request line or header"),
            HeadError::BadContentLength => (400, "bad_request", "invalid Content-Length"),
            HeadError::Version => (505, "version_not_supported", "HTTP/1.0 and 1.1 only"),
            HeadError::TransferEncoding => (
                501,
                "not_implemented",
                "Transfer-Encoding (chunked) request bodies are not supported; send Content-Length",
            ),
        }
    }
}

/// A request's method, as far as the API cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// Anything else (always 405).
    Other,
}

/// What the API needs from a complete request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) method: Method,
    /// The target up to `?` or `#`, as sent (percent-encoded).
    pub(crate) path: String,
    /// The query (after `?`, before `#`; empty if none), still percent-encoded.
    pub(crate) query: String,
    /// Whether the connection stays open after the response.
    pub(crate) keep_alive: bool,
    /// The body's length, if the request said.
    pub(crate) content_length: Option<u64>,
    /// What `Authorization` said.
    pub(crate) auth: Auth,
    /// `Expect: 100-continue`.
    pub(crate) expect_continue: bool,
    /// Bytes of the head, its blank line included.
    pub(crate) len: usize,
}

/// Finds the end of the head at the start of `buf`: `Some(head length)` once its blank line
/// is in, `None` while not. `scanned` (kept between calls, 0 for a new head) is how far
/// earlier calls looked.
///
/// The caller strips empty lines before a request line, so the first line is not empty.
pub(crate) fn find_head(
    buf: &[u8],
    scanned: &mut usize,
    max_head: usize,
) -> Result<Option<usize>, HeadError> {
    let window = &buf[..buf.len().min(max_head)];
    // A blank line is an LF right after an LF, or after an LF and a CR.
    for i in (*scanned).max(1)..window.len() {
        if window[i] == b'\n'
            && (window[i - 1] == b'\n' || (i >= 2 && &window[i - 2..i] == b"\n\r"))
        {
            *scanned = 0;
            return Ok(Some(i + 1));
        }
    }
    *scanned = window.len();
    if buf.len() >= max_head {
        return Err(HeadError::TooLarge);
    }
    Ok(None)
}

/// Parses the complete head `head` (as found by [`find_head`]), with up to `max_headers`
/// header lines, checking `Authorization` against `token`.
pub(crate) fn parse_head(
    head: &[u8],
    max_headers: usize,
    token: &Token,
) -> Result<Head, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let slots = &mut slots[..max_headers.clamp(1, MAX_HEADERS)];
    let mut req = httparse::Request::new(slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        // The head ends with its blank line: wanting more means it made no sense.
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) if is_other_version(head) => {
            return Err(HeadError::Version);
        }
        Err(_) => return Err(HeadError::Malformed),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed);
    };
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let path_end = target.find(['?', '#']).unwrap_or(target.len());
    let mut content_length = None;
    let (mut close, mut keep_alive_asked, mut expect_continue) = (false, false, false);
    let mut auth = Auth::Missing;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(h.value).ok_or(HeadError::BadContentLength)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(HeadError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HeadError::TransferEncoding);
        } else if name.eq_ignore_ascii_case("connection") {
            for option in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("authorization") {
            // Two of them: not a request to guess about.
            auth = match auth {
                Auth::Missing => token.check(h.value),
                _ => Auth::Wrong,
            };
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    let keep_alive = !close && (minor == 1 || keep_alive_asked);
    Ok(Head {
        method,
        path: target[..path_end].to_owned(),
        query: target[path_end..]
            .strip_prefix('?')
            .map(|q| q.split('#').next().unwrap_or_default().to_owned())
            .unwrap_or_default(),
        keep_alive,
        content_length,
        auth,
        expect_continue,
        len: head.len(),
    })
}

/// Whether the request line at the start of `head` ends in a well-formed `HTTP/d.d`: a
/// version this server does not speak rather than a malformed line.
fn is_other_version(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.splitn(3, |&b| b == b' ').nth(2) {
        Some([b'H', b'T', b'T', b'P', b'/', major, b'.', minor]) => {
            major.is_ascii_digit() && minor.is_ascii_digit()
        }
        _ => false,
    }
}

/// A `Content-Length` value: 1 to 19 ASCII digits (so it fits a `u64`).
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

/// The interim response to `Expect: 100-continue`.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The JSON content type.
pub(crate) const JSON: &str = "application/json";

/// Prometheus' text exposition format, version 0.0.4.
pub(crate) const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A response, short of its `Connection` header (the handler knows whether it closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    /// An `Allow` header (405).
    pub(crate) allow: Option<&'static str>,
}

impl Response {
    /// A response with no extra header.
    pub(crate) fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type,
            body,
            allow: None,
        }
    }

    /// The status line and headers, its blank line included; `close` adds
    /// `Connection: close`.
    pub(crate) fn head(&self, close: bool) -> String {
        use std::fmt::Write as _;
        let mut h = String::with_capacity(160);
        let _ = write!(
            h,
            "HTTP/1.1 {} {}\r\nServer: loopwire-push\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if self.status == 401 {
            h.push_str("WWW-Authenticate: Bearer\r\n");
        }
        if let Some(allow) = self.allow {
            let _ = write!(h, "Allow: {allow}\r\n");
        }
        if close {
            h.push_str("Connection: close\r\n");
        }
        h.push_str("\r\n");
        h
    }
}

/// The reason phrase of the statuses the API answers with.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token::new("tok")
    }

    fn head_of(buf: &[u8]) -> Result<Head, HeadError> {
        let mut scanned = 0;
        let n = find_head(buf, &mut scanned, 1024)?.expect("a complete head");
        parse_head(&buf[..n], 8, &token())
    }

    #[test]
    fn finds_the_head_across_calls_and_both_line_endings() {
        let full = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nBODY";
        let mut scanned = 0;
        for n in 0..full.len() - 4 {
            let got = find_head(&full[..n], &mut scanned, 1024).expect("no error");
            assert_eq!(got, None, "at {n}");
        }
        assert_eq!(
            find_head(full, &mut scanned, 1024),
            Ok(Some(full.len() - 4))
        );
        let mut scanned = 0;
        assert_eq!(
            find_head(b"GET / HTTP/1.1\n\nX", &mut scanned, 1024),
            Ok(Some(16))
        );
    }

    #[test]
    fn a_head_beyond_the_limit_is_too_large() {
        let mut scanned = 0;
        let buf = [b'a'; 64];
        assert_eq!(find_head(&buf, &mut scanned, 64), Err(HeadError::TooLarge));
        assert_eq!(find_head(&buf[..63], &mut 0, 64), Ok(None));
    }

    #[test]
    fn parses_what_the_api_needs() {
        let h = head_of(
            b"POST /v1/push/user?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\
              Authorization: Bearer tok\r\nExpect: 100-continue\r\n\r\n",
        )
        .expect("parses");
        assert_eq!(h.method, Method::Post);
        assert_eq!(h.path, "/v1/push/user");
        assert_eq!(h.content_length, Some(12));
        assert_eq!(h.auth, Auth::Ok);
        assert!(h.keep_alive && h.expect_continue);

        let h = head_of(b"GET / HTTP/1.0\r\n\r\n").expect("parses");
        assert!(!h.keep_alive);
        assert_eq!(h.auth, Auth::Missing);
        let h = head_of(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").expect("parses");
        assert!(h.keep_alive);
        let h = head_of(b"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").expect("parses");
        assert!(!h.keep_alive);
        let h = head_of(b"DELETE / HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n").expect("ok");
        assert_eq!((h.method, h.auth), (Method::Other, Auth::Wrong));
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        let cases: [(&[u8], HeadError); 8] = [
            (b"HELLO\r\n\r\n", HeadError::Malformed),
            (b"GET  / HTTP/1.1\r\n\r\n", HeadError::Malformed),
            (b"GET / HTTP/2.0\r\n\r\n", HeadError::Version),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", HeadError::Malformed),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HeadError::BadContentLength),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                HeadError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                HeadError::TransferEncoding,
            ),
            (
                b"GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\n\r\n",
                HeadError::TooManyHeaders,
            ),
        ];
        for (buf, want) in cases {
            assert_eq!(head_of(buf), Err(want), "{}", String::from_utf8_lossy(buf));
        }
    }

    #[test]
    fn response_heads() {
        let mut r = Response::new(405, JSON, b"{}".to_vec());
        r.allow = Some("GET");
        assert_eq!(
            r.head(true),
            "HTTP/1.1 405 Method Not Allowed\r\nServer: loopwire-push\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nAllow: GET\r\n\
             Connection: close\r\n\r\n"
        );
        let r = Response::new(401, JSON, Vec::new());
        assert!(r.head(false).contains("WWW-Authenticate: Bearer\r\n"));
    }
}

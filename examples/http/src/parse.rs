//! The HTTP/1.x request-head parser (RFC 9112), in place over the connection's unread bytes.
//!
//! [`parse`] works in two steps. First it looks for the blank line that ends the head,
//! resuming where the previous call stopped ([`Progress`], kept in the connection's state),
//! so a head arriving a byte at a time costs linear, not quadratic, time, and it never looks
//! further than [`Limits::max_head`] bytes (httparse alone would parse the whole head again
//! on every call). Then, once the head is complete, [`httparse`] parses the request line and
//! the header lines in one pass, into a fixed array of [`MAX_HEADERS`] header slots on the
//! stack; this module applies its own rules to the headers found and returns a [`Request`]
//! borrowing the buffer: nothing is copied or allocated.
//!
//! The rules, strict where leniency would let a request be read two ways (httparse's
//! defaults enforce the first three; the rest are this module's):
//! - Lines end in CRLF or a bare LF (RFC 9112 §2.2); empty lines before the request line are
//!   skipped (§2.2); a head longer than [`Limits::max_head`] (leading empty lines included) is
//!   [`ParseError::HeadTooLarge`].
//! - Request line: `method SP request-target SP HTTP-version`, one space each; the method a
//!   token, the target visible ASCII or UTF-8; `HTTP/1.1` or `HTTP/1.0`, any other `HTTP/d.d`
//!   is [`ParseError::UnsupportedVersion`].
//! - Header lines: a token name directly followed by `:` (no space before it, no line folding),
//!   a value of visible bytes, spaces and tabs, trimmed. More than [`Limits::max_headers`] is
//!   [`ParseError::TooManyHeaders`]. httparse reports an error without saying where; the
//!   request line is then checked on its own to tell [`ParseError::BadRequestLine`] from
//!   [`ParseError::BadHeader`] (on that error path only).
//! - `Content-Length`: digits only; repeated with another value is an error. Above
//!   [`Limits::max_body`] is [`ParseError::BodyTooLarge`]. Chunked request bodies are refused,
//!   not decoded: a `Transfer-Encoding` whose codings include `chunked` is
//!   [`ParseError::Chunked`] (411 Length Required: send a `Content-Length`), any other
//!   `Transfer-Encoding` is [`ParseError::TransferEncoding`] (501). Either way the
//!   connection closes, since a server that cannot find a body's end must not guess it.
//! - HTTP/1.1 requires exactly one `Host`. `Connection` is a comma-separated list of options;
//!   `close` and `keep-alive` decide [`Request::keep_alive`] (HTTP/1.1: keep-alive unless
//!   `close`; HTTP/1.0: close unless `keep-alive`).
//!
//! No input makes the parser panic: every index is checked.

use std::mem::MaybeUninit;
use std::time::Duration;

/// The header slots on the stack that httparse fills: the most header lines any [`Limits`]
/// can allow.
pub const MAX_HEADERS: usize = 128;

/// Bounds on what a request may contain; exceeding one is a [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in a request head, its final blank line included (default 8 KiB, the size
    /// of one of nginx's default `large_client_header_buffers`).
    pub max_head: usize,
    /// Most header lines in one request (at most [`MAX_HEADERS`], the parser's header slots;
    /// a larger value counts as that).
    pub max_headers: usize,
    /// Largest `Content-Length` accepted; such bodies are read and discarded.
    pub max_body: u64,
    /// How long a started request (its head or its body) may take to arrive completely
    /// before the connection is closed: the slow-loris guard.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            max_headers: 64,
            max_body: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a request cannot be served. Every one of them is answered with its
/// [`Status`](super::response::Status) and the connection is closed: after a bad head the
/// server cannot know where the next request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The head is not complete within [`Limits::max_head`] bytes (431).
    #[error("request head larger than the limit")]
    HeadTooLarge,
    /// More than [`Limits::max_headers`] header lines (431).
    #[error("too many header fields")]
    TooManyHeaders,
    /// The request line is not `method SP target SP HTTP/d.d` (400).
    #[error("malformed request line")]
    BadRequestLine,
    /// A well-formed HTTP version other than 1.0 and 1.1 (505).
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// A header line without a colon, with a bad name or value, or a folded line (400).
    #[error("malformed header field")]
    BadHeader,
    /// A `Content-Length` that is not a number, or two that differ (400).
    #[error("invalid Content-Length")]
    BadContentLength,
    /// An HTTP/1.1 request without a `Host`, or a request with several (400).
    #[error("missing or repeated Host")]
    BadHost,
    /// A `Content-Length` above [`Limits::max_body`] (413).
    #[error("request body larger than the limit")]
    BodyTooLarge,
    /// A `Transfer-Encoding` header without the `chunked` coding (501).
    #[error("Transfer-Encoding is not implemented")]
    TransferEncoding,
    /// A `Transfer-Encoding: chunked` body: refused, a `Content-Length` is required (411).
    #[error("chunked request bodies are refused: Content-Length required")]
    Chunked,
}

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: one request per connection unless `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: persistent unless `Connection: close`.
    Http11,
}

/// A complete request head, borrowed from the inbound bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, as sent (case-sensitive: `GET`, `HEAD`, ...).
    pub method: &'a [u8],
    /// The request target, as sent (`/plaintext`, `/search?q=x`, ...).
    pub target: &'a [u8],
    /// The protocol version.
    pub version: Version,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// Whether the client asked for `Connection: keep-alive` explicitly (an HTTP/1.0 response
    /// then says so too).
    pub keep_alive_asked: bool,
    /// The body's length (0 without `Content-Length`); its bytes follow the head.
    pub content_length: u64,
    /// Bytes of the head, leading empty lines and the final blank line included: consume
    /// exactly these, then the body.
    pub head_len: usize,
}

impl Request<'_> {
    /// The target's path: everything before `?` or `#`.
    pub fn path(&self) -> &[u8] {
        let end = self
            .target
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(self.target.len());
        &self.target[..end]
    }
}

/// How far [`parse`] looked into an incomplete head: kept between calls so the next resumes
/// there. Offsets are from the start of the unread bytes, where the head stays until it is
/// complete and consumed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Whether the request line has begun (a non-empty line was seen).
    started: bool,
    /// Where the request line starts (past any leading empty lines).
    start: usize,
    /// Where the line being scanned starts.
    line_start: usize,
    /// How far the buffer has been searched for that line's LF.
    scanned: usize,
}

/// Parses the request head at the start of `buf`, resuming from `progress` (which it updates,
/// and resets once the head is complete or fails). `Ok(None)`: not complete yet, consume
/// nothing and call again with more bytes. See the [module docs](self).
///
/// # Errors
/// A [`ParseError`] when the bytes cannot be a request head within `limits`.
pub fn parse<'a>(
    buf: &'a [u8],
    progress: &mut Progress,
    limits: &Limits,
) -> Result<Option<Request<'a>>, ParseError> {
    if progress.scanned > buf.len() || progress.line_start > progress.scanned {
        // Not the buffer this progress belongs to; start over (never expected).
        *progress = Progress::default();
    }
    let result = match find_head(buf, progress, limits.max_head) {
        Ok(Some((start, end))) => parse_head(buf, start, end, limits).map(Some),
        Ok(None) => return Ok(None),
        Err(e) => Err(e),
    };
    *progress = Progress::default();
    result
}

/// Finds the blank line ending the head: `Some((start of the request line, end of the
/// head))`, or `None` while it has not arrived.
fn find_head(
    buf: &[u8],
    p: &mut Progress,
    max_head: usize,
) -> Result<Option<(usize, usize)>, ParseError> {
    // Look no further than the limit: a head ending beyond it is too large anyway.
    let window = &buf[..buf.len().min(max_head)];
    loop {
        let from = p.scanned.max(p.line_start);
        let Some(k) = window
            .get(from..)
            .and_then(|w| w.iter().position(|&b| b == b'\n'))
        else {
            p.scanned = window.len();
            if buf.len() >= max_head {
                return Err(ParseError::HeadTooLarge);
            }
            return Ok(None);
        };
        let lf = from + k;
        let line = &window[p.line_start..lf];
        let empty = line.is_empty() || line == b"\r";
        p.line_start = lf + 1;
        p.scanned = lf + 1;
        if empty {
            if p.started {
                return Ok(Some((p.start, lf + 1)));
            }
            // An empty line before the request line: skipped.
            p.start = lf + 1;
        } else {
            p.started = true;
        }
    }
}

/// Parses a complete head, the request line at `start` and header lines up to the blank line
/// that ends at `end`, with httparse into a fixed array of header slots on the stack, then
/// applies this server's rules to the headers it found.
fn parse_head<'a>(
    buf: &'a [u8],
    start: usize,
    end: usize,
    limits: &Limits,
) -> Result<Request<'a>, ParseError> {
    let head = buf.get(start..end).ok_or(ParseError::BadRequestLine)?;
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let slots = &mut slots[..max_headers(limits)];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(_)) => {}
        // `head` ends with its blank line, so httparse has all it needs; wanting more means
        // it could not make sense of the bytes.
        Ok(httparse::Status::Partial) => return Err(ParseError::BadRequestLine),
        Err(e) => return Err(head_error(e, head, limits)),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(ParseError::BadRequestLine);
    };
    let version = match minor {
        0 => Version::Http10,
        _ => Version::Http11,
    };
    let mut fields = Fields::default();
    for h in req.headers.iter() {
        fields.take(h.name.as_bytes(), h.value)?;
    }

    if fields.chunked {
        return Err(ParseError::Chunked);
    }
    if fields.transfer_encoding {
        return Err(ParseError::TransferEncoding);
    }
    if fields.hosts > 1 || (fields.hosts == 0 && version == Version::Http11) {
        return Err(ParseError::BadHost);
    }
    let content_length = fields.content_length.unwrap_or(0);
    if content_length > limits.max_body {
        return Err(ParseError::BodyTooLarge);
    }
    let (close, keep_alive_asked) = (fields.close, fields.keep_alive_asked);
    let keep_alive = !close
        && match version {
            Version::Http11 => true,
            Version::Http10 => keep_alive_asked,
        };
    Ok(Request {
        method: method.as_bytes(),
        target: target.as_bytes(),
        version,
        keep_alive,
        keep_alive_asked: keep_alive_asked && !close,
        content_length,
        head_len: end,
    })
}

/// How many header lines `limits` allows, within the parser's slots.
fn max_headers(limits: &Limits) -> usize {
    limits.max_headers.min(MAX_HEADERS)
}

/// What the header lines say, taken in order.
#[derive(Debug, Default)]
struct Fields {
    hosts: usize,
    content_length: Option<u64>,
    transfer_encoding: bool,
    /// A `Transfer-Encoding` listed the `chunked` coding.
    chunked: bool,
    /// `Connection: close` was among the options.
    close: bool,
    /// `Connection: keep-alive` was among the options.
    keep_alive_asked: bool,
}

impl Fields {
    /// Takes the header line `name: value` into account.
    fn take(&mut self, name: &[u8], value: &[u8]) -> Result<(), ParseError> {
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_length(value).ok_or(ParseError::BadContentLength)?;
            if self.content_length.is_some_and(|m| m != n) {
                return Err(ParseError::BadContentLength);
            }
            self.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
            self.chunked |= value
                .split(|&b| b == b',')
                .map(trim)
                .any(|coding| coding.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive_asked |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        Ok(())
    }
}

/// The [`ParseError`] for httparse's `e` on `head`.
///
/// httparse does not say which line failed, and it checks every header line's syntax before
/// counting it, so this walks the head again, on the error path only, to report what the
/// rules put first: the request line alone (httparse again), then each header line in order,
/// the count limit before the line's syntax (httparse on that one line) before its meaning.
fn head_error(e: httparse::Error, head: &[u8], limits: &Limits) -> ParseError {
    let mut lines = head.split_inclusive(|&b| b == b'\n');
    let line = lines.next().unwrap_or_default();
    // Given only the request line, httparse stops where the headers would start: `Partial`.
    match httparse::Request::new(&mut []).parse(line) {
        Ok(_) => {}
        Err(httparse::Error::Version) if is_other_version(line) => {
            return ParseError::UnsupportedVersion;
        }
        Err(_) => return ParseError::BadRequestLine,
    }
    let mut fields = Fields::default();
    for (k, line) in lines.enumerate() {
        if matches!(line, b"\n" | b"\r\n") {
            break;
        }
        if k >= max_headers(limits) {
            return ParseError::TooManyHeaders;
        }
        // A good header line alone: httparse takes it, then waits for more (`Partial`).
        let mut one = [httparse::EMPTY_HEADER; 1];
        if httparse::parse_headers(line, &mut one) != Ok(httparse::Status::Partial) {
            return ParseError::BadHeader;
        }
        let Some((name, value)) = split_header(line) else {
            return ParseError::BadHeader;
        };
        if let Err(e) = fields.take(name, value) {
            return e;
        }
    }
    // Every line passes on its own (not expected): report httparse's finding.
    match e {
        httparse::Error::TooManyHeaders => ParseError::TooManyHeaders,
        _ => ParseError::BadHeader,
    }
}

/// A well-formed header line (its line ending included) as its name and trimmed value.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, rest) = line.split_at(colon);
    Some((name, trim(rest.get(1..)?.trim_ascii_end())))
}

/// Whether the request line `line` (its line ending included) ends in a well-formed
/// `HTTP/d.d` as its third field: a version this server does not speak, not a malformed one.
fn is_other_version(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
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
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

/// `s` without leading and trailing spaces and tabs.
fn trim(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests;

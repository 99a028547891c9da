//! HTTP/1.1 responses written straight into the outbound bytes with no allocation: each
//! status's status line, fixed headers and body are `'static` bytes; only the `Date` value
//! (29 bytes, from [`date::current`]) changes, once a second.
//!
//! A keep-alive `200` is four copies into the outbound buffer: the fixed head up to `Date: `,
//! the date, the blank line, the body. The one response whose length is not static,
//! [`Status::Echo`], has its `Content-Length` digits formatted on the stack, and only its head
//! is written here: the handler forwards the request body as it arrives.
//!
//! `/json`'s body is the static [`JSON`] (`{"message":"Hello, World!"}`), as TechEmpower's
//! rules allow for a constant object; a unit test checks that it is what `serde_json` makes of
//! that object.

use super::date;
use super::parse::ParseError;

pub use loopwire_examples::Sink;

/// What a `405` lists in its `Allow` header: the methods the path answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// `Allow: GET, HEAD` (`/`, `/plaintext`, `/json`).
    GetHead,
    /// `Allow: POST` (`/echo`).
    Post,
}

/// The statuses this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// 200: the plaintext greeting.
    Ok,
    /// 200: the JSON greeting ([`JSON`], `Content-Type: application/json`).
    Json,
    /// 200: the request's body sent back (`Content-Type: application/octet-stream`, its
    /// length [`Response::content_length`]); the handler forwards the body.
    Echo,
    /// 400: a malformed request (the connection closes).
    BadRequest,
    /// 404: a path this server does not know.
    NotFound,
    /// 405: a known path with a method it does not answer (with `Allow`).
    MethodNotAllowed(Allow),
    /// 411: a chunked request body; send a `Content-Length` (the connection closes).
    LengthRequired,
    /// 413: a `Content-Length` above the limit (the connection closes).
    ContentTooLarge,
    /// 431: a head above the size limit or with too many header lines (the connection closes).
    HeaderFieldsTooLarge,
    /// 501: a `Transfer-Encoding` other than chunked (the connection closes).
    NotImplemented,
    /// 505: an HTTP version other than 1.0 and 1.1 (the connection closes).
    VersionNotSupported,
}

/// The plaintext body.
pub const HELLO: &[u8] = b"Hello, World!";

/// The JSON body: `{"message":"Hello, World!"}`, static.
pub const JSON: &[u8] = br#"{"message":"Hello, World!"}"#;

/// The fixed head of a response up to the `Date` value: status line, `Server`,
/// `Content-Type`, any extra header, `Content-Length`, then `Date: `.
macro_rules! head {
    ($status:literal, $extra:literal, $len:literal) => {
        head!($status, "text/plain", $extra, $len)
    };
    ($status:literal, $type:literal, $extra:literal, $len:literal) => {
        concat!(
            "HTTP/1.1 ",
            $status,
            "\r\nServer: loopwire\r\nContent-Type: ",
            $type,
            "\r\n",
            $extra,
            "Content-Length: ",
            $len,
            "\r\nDate: "
        )
        .as_bytes()
    };
}

/// [`Status::Echo`]'s head up to its `Content-Length` value.
const ECHO_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: loopwire\r\n\
    Content-Type: application/octet-stream\r\nContent-Length: ";

impl Status {
    /// The response's fixed head, up to and including `Date: ` ([`Status::Echo`]: up to its
    /// `Content-Length` value).
    fn head(self) -> &'static [u8] {
        // Each Content-Length is checked against `body()` by a unit test.
        match self {
            Status::Ok => head!("200 OK", "", "13"),
            Status::Json => head!("200 OK", "application/json", "", "27"),
            Status::Echo => ECHO_HEAD,
            Status::BadRequest => head!("400 Bad Request", "", "11"),
            Status::NotFound => head!("404 Not Found", "", "9"),
            Status::MethodNotAllowed(Allow::GetHead) => {
                head!("405 Method Not Allowed", "Allow: GET, HEAD\r\n", "18")
            }
            Status::MethodNotAllowed(Allow::Post) => {
                head!("405 Method Not Allowed", "Allow: POST\r\n", "18")
            }
            Status::LengthRequired => head!("411 Length Required", "", "15"),
            Status::ContentTooLarge => head!("413 Content Too Large", "", "17"),
            Status::HeaderFieldsTooLarge => head!("431 Request Header Fields Too Large", "", "31"),
            Status::NotImplemented => head!("501 Not Implemented", "", "15"),
            Status::VersionNotSupported => head!("505 HTTP Version Not Supported", "", "26"),
        }
    }

    /// The static body: [`HELLO`], [`JSON`], or the reason phrase ([`Status::Echo`]: none,
    /// its body is the request's).
    pub fn body(self) -> &'static [u8] {
        match self {
            Status::Ok => HELLO,
            Status::Json => JSON,
            Status::Echo => b"",
            Status::BadRequest => b"Bad Request",
            Status::NotFound => b"Not Found",
            Status::MethodNotAllowed(_) => b"Method Not Allowed",
            Status::LengthRequired => b"Length Required",
            Status::ContentTooLarge => b"Content Too Large",
            Status::HeaderFieldsTooLarge => b"Request Header Fields Too Large",
            Status::NotImplemented => b"Not Implemented",
            Status::VersionNotSupported => b"HTTP Version Not Supported",
        }
    }
}

impl From<ParseError> for Status {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::HeadTooLarge | ParseError::TooManyHeaders => Status::HeaderFieldsTooLarge,
            ParseError::BodyTooLarge => Status::ContentTooLarge,
            ParseError::Chunked => Status::LengthRequired,
            ParseError::TransferEncoding => Status::NotImplemented,
            ParseError::UnsupportedVersion => Status::VersionNotSupported,
            ParseError::BadRequestLine
            | ParseError::BadHeader
            | ParseError::BadContentLength
            | ParseError::BadHost => Status::BadRequest,
        }
    }
}

/// What the `Connection` header of a response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Nothing: the connection stays open (HTTP/1.1's default).
    Default,
    /// `Connection: keep-alive`: stays open (an HTTP/1.0 client that asked for it).
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// One response to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Its status (and so its fixed headers and body).
    pub status: Status,
    /// A response to `HEAD`: the headers of the `GET` response, no body.
    pub head_only: bool,
    /// Its `Connection` header.
    pub connection: Connection,
    /// [`Status::Echo`]'s `Content-Length` (the request body's); 0 for every other status,
    /// whose length is that of its static body.
    pub content_length: u64,
}

impl Response {
    /// A response that closes the connection after a request that could not be parsed.
    pub fn error(e: ParseError) -> Self {
        Self {
            status: e.into(),
            head_only: false,
            connection: Connection::Close,
            content_length: 0,
        }
    }

    /// Whether the connection closes after this response.
    pub fn closes(&self) -> bool {
        self.connection == Connection::Close
    }

    /// Whether the body is the request's, forwarded by the caller after [`Response::write`]
    /// (only [`Status::Echo`]).
    pub fn forwards_body(&self) -> bool {
        self.status == Status::Echo
    }

    /// Writes the response, with `date` (an IMF-fixdate) as its `Date`: its head and static
    /// body, or only the head when [`forwards_body`](Self::forwards_body).
    pub fn write(&self, out: &mut impl Sink, date: &[u8; date::LEN]) {
        out.put(self.status.head());
        if self.forwards_body() {
            let mut digits = [0u8; 20];
            out.put(decimal(self.content_length, &mut digits));
            out.put(b"\r\nDate: ");
        }
        out.put(date);
        out.put(match self.connection {
            Connection::Default => b"\r\n\r\n",
            Connection::KeepAlive => b"\r\nConnection: keep-alive\r\n\r\n",
            Connection::Close => b"\r\nConnection: close\r\n\r\n",
        });
        if !self.head_only {
            out.put(self.status.body());
        }
    }
}

/// `n` in decimal, formatted at the end of `buf` (20 digits hold any `u64`).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        // `n % 10 < 10`: the cast cannot truncate.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 11] = [
        Status::Ok,
        Status::Json,
        Status::BadRequest,
        Status::NotFound,
        Status::MethodNotAllowed(Allow::GetHead),
        Status::MethodNotAllowed(Allow::Post),
        Status::LengthRequired,
        Status::ContentTooLarge,
        Status::HeaderFieldsTooLarge,
        Status::NotImplemented,
        Status::VersionNotSupported,
    ];

    const DATE: &[u8; date::LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    #[test]
    fn a_keep_alive_200() {
        let mut out = Vec::new();
        let r = Response {
            status: Status::Ok,
            head_only: false,
            connection: Connection::Default,
            content_length: 0,
        };
        r.write(&mut out, DATE);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.1 200 OK\r\nServer: loopwire\r\nContent-Type: text/plain\r\n\
             Content-Length: 13\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nHello, World!"
        );
    }

    #[test]
    fn every_content_length_matches_its_body() {
        for status in ALL {
            for connection in [
                Connection::Default,
                Connection::KeepAlive,
                Connection::Close,
            ] {
                for head_only in [false, true] {
                    let mut out = Vec::new();
                    let r = Response {
                        status,
                        head_only,
                        connection,
                        content_length: 0,
                    };
                    r.write(&mut out, DATE);
                    let text = String::from_utf8_lossy(&out).into_owned();
                    let (head, body) = text.split_once("\r\n\r\n").expect("a blank line");
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.parse().ok())
                        .expect("Content-Length");
                    assert_eq!(len, status.body().len(), "{status:?}");
                    assert_eq!(body.len(), if head_only { 0 } else { len }, "{status:?}");
                    assert_eq!(head.contains("Connection: close"), r.closes());
                    assert_eq!(
                        head.contains("Allow: GET, HEAD"),
                        status == Status::MethodNotAllowed(Allow::GetHead)
                    );
                    assert_eq!(
                        head.contains("Allow: POST"),
                        status == Status::MethodNotAllowed(Allow::Post)
                    );
                    assert_eq!(
                        head.contains("Content-Type: application/json"),
                        status == Status::Json
                    );
                }
            }
        }
    }

    #[test]
    fn the_json_body_is_serde_jsons() {
        let made = serde_json::to_vec(&serde_json::json!({"message": "Hello, World!"}));
        assert_eq!(made.ok().as_deref(), Some(JSON));
    }

    #[test]
    fn an_echo_head_carries_the_bodys_length() {
        for n in [0u64, 7, 10, 1_048_576, u64::MAX] {
            let mut out = Vec::new();
            let r = Response {
                status: Status::Echo,
                head_only: false,
                connection: Connection::Close,
                content_length: n,
            };
            r.write(&mut out, DATE);
            assert_eq!(
                String::from_utf8_lossy(&out),
                format!(
                    "HTTP/1.1 200 OK\r\nServer: loopwire\r\nContent-Type: application/octet-stream\r\n\
                     Content-Length: {n}\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
                     Connection: close\r\n\r\n"
                )
            );
        }
    }
}

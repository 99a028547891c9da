//! HTTP/1.1 responses written straight into the outbound bytes with no allocation: each
//! status's status line, fixed headers and body are `'static` bytes; only the `Date` value
//! (29 bytes, from [`date::current`]) changes, once a second.
//!
//! A keep-alive `200` is four copies into the outbound buffer: the fixed head up to `Date: `,
//! the date, the blank line, the body.

use super::date;
use super::parse::ParseError;

pub use loopwire_examples::Sink;

/// The statuses this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// 200: the plaintext greeting.
    Ok,
    /// 400: a malformed request (the connection closes).
    BadRequest,
    /// 404: a path other than `/plaintext` and `/`.
    NotFound,
    /// 405: a method other than `GET` and `HEAD` (with `Allow: GET, HEAD`).
    MethodNotAllowed,
    /// 413: a `Content-Length` above the limit (the connection closes).
    ContentTooLarge,
    /// 431: a head above the size limit or with too many header lines (the connection closes).
    HeaderFieldsTooLarge,
    /// 501: a `Transfer-Encoding` request body (the connection closes).
    NotImplemented,
    /// 505: an HTTP version other than 1.0 and 1.1 (the connection closes).
    VersionNotSupported,
}

/// The plaintext body.
pub const HELLO: &[u8] = b"Hello, World!";

/// The fixed head of a response up to the `Date` value: status line, `Server`,
/// `Content-Type`, any extra header, `Content-Length`, then `Date: `.
macro_rules! head {
    ($status:literal, $extra:literal, $len:literal) => {
        concat!(
            "HTTP/1.1 ",
            $status,
            "\r\nServer: loopwire\r\nContent-Type: text/plain\r\n",
            $extra,
            "Content-Length: ",
            $len,
            "\r\nDate: "
        )
        .as_bytes()
    };
}

impl Status {
    /// The response's fixed head, up to and including `Date: `.
    fn head(self) -> &'static [u8] {
        // Each Content-Length is checked against `body()` by a unit test.
        match self {
            Status::Ok => head!("200 OK", "", "13"),
            Status::BadRequest => head!("400 Bad Request", "", "11"),
            Status::NotFound => head!("404 Not Found", "", "9"),
            Status::MethodNotAllowed => {
                head!("405 Method Not Allowed", "Allow: GET, HEAD\r\n", "18")
            }
            Status::ContentTooLarge => head!("413 Content Too Large", "", "17"),
            Status::HeaderFieldsTooLarge => head!("431 Request Header Fields Too Large", "", "31"),
            Status::NotImplemented => head!("501 Not Implemented", "", "15"),
            Status::VersionNotSupported => head!("505 HTTP Version Not Supported", "", "26"),
        }
    }

    /// The body: [`HELLO`], or the reason phrase.
    pub fn body(self) -> &'static [u8] {
        match self {
            Status::Ok => HELLO,
            Status::BadRequest => b"Bad Request",
            Status::NotFound => b"Not Found",
            Status::MethodNotAllowed => b"Method Not Allowed",
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
}

impl Response {
    /// A response that closes the connection after a request that could not be parsed.
    pub fn error(e: ParseError) -> Self {
        Self {
            status: e.into(),
            head_only: false,
            connection: Connection::Close,
        }
    }

    /// Whether the connection closes after this response.
    pub fn closes(&self) -> bool {
        self.connection == Connection::Close
    }

    /// Writes the response, with `date` (an IMF-fixdate) as its `Date`.
    pub fn write(&self, out: &mut impl Sink, date: &[u8; date::LEN]) {
        out.put(self.status.head());
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 8] = [
        Status::Ok,
        Status::BadRequest,
        Status::NotFound,
        Status::MethodNotAllowed,
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
                        status == Status::MethodNotAllowed
                    );
                }
            }
        }
    }
}

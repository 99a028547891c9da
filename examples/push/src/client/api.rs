//! A small blocking client of the push service's HTTP API, for load tools and operators'
//! scripts: one keep-alive HTTP/1.1 connection, one request at a time, JSON bodies with a
//! `Content-Length` (what the API sends), response heads parsed with `httparse`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest response (head and body) accepted.
const MAX: usize = 1 << 20;
/// Headers of a response looked at, at most.
const MAX_HEADERS: usize = 32;

/// One keep-alive connection to a gateway's HTTP API.
#[derive(Debug)]
pub struct ApiClient {
    s: TcpStream,
    token: String,
    buf: Vec<u8>,
}

impl ApiClient {
    /// Connects to `addr` (within 5 s; reads wait up to 30 s); `token` is sent as the bearer
    /// token with every request (none when empty: the dispatcher needs none).
    ///
    /// # Errors
    /// The connect's or the socket options' error.
    pub fn connect(addr: SocketAddr, token: String) -> io::Result<Self> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            s,
            token,
            buf: Vec::new(),
        })
    }

    /// `POST path` with the JSON `body`: the status and the response body.
    ///
    /// # Errors
    /// A socket error, the connection closed, or a response that is not HTTP or too large.
    pub fn post(&mut self, path: &str, body: &str) -> io::Result<(u16, String)> {
        self.request("POST", path, body)
    }

    /// `GET path`: the status and the response body.
    ///
    /// # Errors
    /// As [`post`](Self::post).
    pub fn get(&mut self, path: &str) -> io::Result<(u16, String)> {
        self.request("GET", path, "")
    }

    fn request(&mut self, method: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
        let auth = if self.token.is_empty() {
            String::new()
        } else {
            format!("Authorization: Bearer {}\r\n", self.token)
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: push\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.s.write_all(head.as_bytes())?;
        self.s.write_all(body.as_bytes())?;
        self.response()
    }

    /// Reads more of the response; a receive cut short by a signal is read again.
    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = loop {
            match self.s.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the API closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        if self.buf.len() > MAX {
            return Err(io::Error::other("response too large"));
        }
        Ok(())
    }

    fn response(&mut self) -> io::Result<(u16, String)> {
        let (end, status, len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&self.buf) {
                Ok(httparse::Status::Complete(end)) => {
                    let status = r.code.unwrap_or(0);
                    let len = content_length(r.headers)?;
                    break (end, status, len);
                }
                Ok(httparse::Status::Partial) => self.fill()?,
                Err(e) => return Err(io::Error::other(format!("bad response head: {e}"))),
            }
        };
        if len > MAX {
            return Err(io::Error::other(format!("response body of {len} bytes")));
        }
        while self.buf.len() < end + len {
            self.fill()?;
        }
        let body = String::from_utf8_lossy(&self.buf[end..end + len]).into_owned();
        self.buf.drain(..end + len);
        Ok((status, body))
    }
}

/// The `Content-Length` of a response (0 without one).
fn content_length(headers: &[httparse::Header<'_>]) -> io::Result<usize> {
    let Some(h) = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
    else {
        return Ok(0);
    };
    std::str::from_utf8(h.value)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("bad Content-Length"))
}

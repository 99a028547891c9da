//! [`Webhook`]: a [`Sink`] that POSTs each event's JSON to an `http://` URL, over a blocking
//! HTTP/1.1 client on `std::net::TcpStream`: one kept-alive connection (re-opened once when
//! a kept one turns out closed), connect / read / write timeouts, a 2xx answer required
//! (its body, at most 64 KiB, is read and ignored). No TLS: put the receiver on a private
//! network or behind a local proxy.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use super::{Event, Sink, SinkError};

/// Longest answer head or body read.
const MAX_ANSWER: usize = 64 * 1024;

/// A webhook receiver.
#[derive(Debug)]
pub struct Webhook {
    host: String,
    path: String,
    timeout: Duration,
    conn: Mutex<Option<TcpStream>>,
}

/// A URL the webhook cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook URL must be http://host:port/path, got {0:?}")]
pub struct BadUrl(pub String);

impl Webhook {
    /// A webhook posting to `url` (`http://host[:port][/path]`), with `timeout` for
    /// connecting, and for each write and read.
    ///
    /// # Errors
    /// [`BadUrl`] for anything but such a URL.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, BadUrl> {
        let bad = || BadUrl(url.to_owned());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if host.is_empty() || host.contains(['@', ' ']) || path.contains([' ', '\r', '\n']) {
            return Err(bad());
        }
        let host = if host.contains(':') && !host.ends_with(']') {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        Ok(Self {
            host,
            path: path.to_owned(),
            timeout,
            conn: Mutex::new(None),
        })
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in self.host.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    s.set_read_timeout(Some(self.timeout))?;
                    s.set_write_timeout(Some(self.timeout))?;
                    s.set_nodelay(true)?;
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn post(&self, s: &mut TcpStream, body: &str) -> Result<bool, SinkError> {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body.as_bytes())?;
        read_answer(s)
    }
}

/// Reads one answer; `Ok(keep_alive)` for a 2xx.
fn read_answer(s: &mut TcpStream) -> Result<bool, SinkError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => {
                let code = resp.code.unwrap_or(0);
                let header = |name: &str| {
                    resp.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
                };
                let len: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let keep = header("connection").as_deref() != Some("close");
                if len > MAX_ANSWER {
                    return Err(SinkError::Answer(format!("body of {len} bytes")));
                }
                while buf.len() < n + len {
                    let got = s.read(&mut chunk)?;
                    if got == 0 {
                        return Err(SinkError::Answer("closed in the body".into()));
                    }
                    buf.extend_from_slice(&chunk[..got]);
                }
                if !(200..300).contains(&code) {
                    return Err(SinkError::Answer(format!("status {code}")));
                }
                return Ok(keep);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_ANSWER => {}
            Ok(httparse::Status::Partial) => {
                return Err(SinkError::Answer("head too large".into()));
            }
            Err(e) => return Err(SinkError::Answer(e.to_string())),
        }
        let got = s.read(&mut chunk)?;
        if got == 0 {
            return Err(SinkError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..got]);
    }
}

impl Sink for Webhook {
    fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let body = event.to_json();
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A kept connection may have been closed by the receiver meanwhile: one retry on a
        // fresh one.
        let reused = conn.is_some();
        for attempt in 0..2 {
            let mut s = match conn.take() {
                Some(s) => s,
                None => self.connect()?,
            };
            match self.post(&mut s, &body) {
                Ok(keep) => {
                    if keep {
                        *conn = Some(s);
                    }
                    return Ok(());
                }
                Err(SinkError::Io(_)) if reused && attempt == 0 => {}
                Err(e) => return Err(e),
            }
        }
        Err(SinkError::Answer("no answer".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let w = Webhook::new("http://127.0.0.1:9/hook", Duration::from_secs(1)).unwrap();
        assert_eq!((w.host.as_str(), w.path.as_str()), ("127.0.0.1:9", "/hook"));
        let w = Webhook::new("http://example.com", Duration::from_secs(1)).unwrap();
        assert_eq!((w.host.as_str(), w.path.as_str()), ("example.com:80", "/"));
        for bad in ["https://x/", "x:80", "http://", "http://a b/"] {
            assert!(Webhook::new(bad, Duration::from_secs(1)).is_err(), "{bad}");
        }
    }
}

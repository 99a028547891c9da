//! A small blocking client of the push service's HTTP API, for load tools and operators'
//! scripts: one keep-alive HTTP/1.1 connection, one request at a time, JSON bodies with a
//! `Content-Length` (what the API sends), response heads parsed with `httparse`.
//!
//! The API closes a keep-alive connection that stays idle past its idle timeout (60 s by
//! default). A request that finds its reused connection closed before any byte of the answer
//! arrived (the write fails with a broken pipe or a reset, or the read sees the end at once)
//! was not processed: the client connects again and sends it once more, as HTTP clients do
//! for a stale keep-alive connection. A first request on a fresh connection is never resent.

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
    addr: SocketAddr,
    token: String,
    buf: Vec<u8>,
    /// A request went over `s` already (so the server may have closed it as idle).
    reused: bool,
}

impl ApiClient {
    /// Connects to `addr` (within 5 s; reads wait up to 30 s); `token` is sent as the bearer
    /// token with every request (none when empty: the dispatcher needs none).
    ///
    /// # Errors
    /// The connect's or the socket options' error.
    pub fn connect(addr: SocketAddr, token: String) -> io::Result<Self> {
        Ok(Self {
            s: Self::open(addr)?,
            addr,
            token,
            buf: Vec::new(),
            reused: false,
        })
    }

    fn open(addr: SocketAddr) -> io::Result<TcpStream> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(s)
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
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: push\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body.as_bytes());
        let reused = self.reused;
        match self.exchange(&request) {
            Err(e) if reused && self.buf.is_empty() && stale(&e) => {
                self.s = Self::open(self.addr)?;
                self.reused = false;
                self.exchange(&request)
            }
            r => r,
        }
    }

    fn exchange(&mut self, request: &[u8]) -> io::Result<(u16, String)> {
        self.buf.clear();
        self.s.write_all(request)?;
        let answer = self.response();
        self.reused = true;
        answer
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

/// Is `e` how a connection the server had already closed fails?
fn stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A server on a free port that serves each connection one request: `answer` tells per
    /// connection whether it answers (then closes, as an API whose idle timeout passed) or
    /// closes without answering. Sends each request's path on the channel.
    fn one_shot_server(answer: Vec<bool>) -> (SocketAddr, mpsc::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for reply in answer {
                let Ok((mut s, _)) = l.accept() else { return };
                s.set_read_timeout(Some(Duration::from_secs(10))).ok();
                let mut got = Vec::new();
                let mut chunk = [0u8; 1024];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&chunk[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&got)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let _ = tx.send(line.split(' ').nth(1).unwrap_or("").to_owned());
                if reply {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        });
        (addr, rx)
    }

    #[test]
    fn a_request_on_a_keep_alive_connection_the_server_closed_goes_out_once_on_a_new_one() {
        let (addr, paths) = one_shot_server(vec![true, true]);
        let mut c = ApiClient::connect(addr, "t".into()).expect("connect");
        assert_eq!(c.get("/a").expect("first").0, 200);
        // The server closed the connection after answering: the next request finds it closed.
        assert_eq!(c.post("/b", "{}").expect("second").0, 200);
        let seen: Vec<String> = paths.try_iter().collect();
        assert_eq!(seen, ["/a", "/b"], "each request reached the server once");
    }

    #[test]
    fn a_first_request_that_gets_no_answer_is_not_sent_again() {
        let (addr, paths) = one_shot_server(vec![false, true]);
        let mut c = ApiClient::connect(addr, "t".into()).expect("connect");
        assert!(c.post("/a", "{}").is_err(), "no answer is an error");
        assert_eq!(
            paths.recv_timeout(Duration::from_secs(10)).as_deref(),
            Ok("/a")
        );
        assert!(paths.try_recv().is_err(), "not sent again");
    }
}

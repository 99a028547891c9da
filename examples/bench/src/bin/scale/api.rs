//! A small keep-alive HTTP/1.1 client for the push API (one request at a time,
//! `Content-Length` bodies: what the API sends): pushes and the dispatcher.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest response accepted.
const MAX: usize = 1 << 20;

/// One keep-alive connection to a node's API.
pub(crate) struct Api {
    s: TcpStream,
    token: String,
    buf: Vec<u8>,
}

impl Api {
    /// Connects to `addr`; `token` is sent as the bearer token (none when empty).
    pub(crate) fn connect(addr: SocketAddr, token: String) -> io::Result<Self> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            s,
            token,
            buf: Vec::new(),
        })
    }

    /// `POST path` with a JSON `body`: the status and the body.
    pub(crate) fn post(&mut self, path: &str, body: &str) -> io::Result<(u16, String)> {
        self.request("POST", path, body)
    }

    /// `GET path`: the status and the body.
    pub(crate) fn get(&mut self, path: &str) -> io::Result<(u16, String)> {
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
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.s.write_all(head.as_bytes())?;
        self.response()
    }

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
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let bad = || io::Error::other(format!("bad response head: {head:?}"));
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if len > MAX {
            return Err(bad());
        }
        while self.buf.len() < end + len {
            self.fill()?;
        }
        let body = String::from_utf8_lossy(&self.buf[end..end + len]).into_owned();
        self.buf.drain(..end + len);
        Ok((status, body))
    }
}

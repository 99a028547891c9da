//! A small keep-alive HTTP/1.1 client over a blocking `TcpStream`, for the push API: one
//! request at a time, `Content-Length` bodies only (what the API sends).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use loopwire_examples::cli::{BoxError, Context};

/// Longest response head or body accepted.
const MAX: usize = 1 << 20;

/// One keep-alive connection to the API.
pub(crate) struct Api {
    s: TcpStream,
    token: String,
    buf: Vec<u8>,
}

impl Api {
    /// Connects to `addr`, sending `token` as the bearer token with every request.
    pub(crate) fn connect(addr: SocketAddr, token: String) -> io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            s,
            token,
            buf: Vec::new(),
        })
    }

    /// POSTs `body` (JSON) to `path`; returns the status and the body.
    pub(crate) fn post(&mut self, path: &str, body: &str) -> io::Result<(u16, String)> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: push\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.token,
            body.len()
        );
        self.s.write_all(head.as_bytes())?;
        self.s.write_all(body.as_bytes())?;
        self.response()
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.s.read(&mut chunk)?;
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

    /// Pushes one message (`body`: its JSON fields) to a room, or to a user for a target
    /// named `user:<id>`.
    pub(crate) fn push(&mut self, room: &[u8], body: &str) -> Result<(), BoxError> {
        let room = String::from_utf8_lossy(room);
        let (path, target) = match room.strip_prefix("user:") {
            Some(user) => ("/v1/push/user", format!("\"user\":\"{user}\"")),
            None => ("/v1/push/room", format!("\"room\":\"{room}\"")),
        };
        let (status, answer) = self
            .post(path, &format!("{{{target},{body}}}"))
            .context(|| format!("cannot push to {room}"))?;
        if status != 200 {
            return Err(format!("the API answered {status} to a push to {room}: {answer}").into());
        }
        Ok(())
    }
}

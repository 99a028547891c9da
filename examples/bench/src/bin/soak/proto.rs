//! The few protocol pieces the soak speaks by hand: RESP commands and replies, the push API
//! over a keep-alive HTTP/1.1 connection, push tokens and raw push frames.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use loopwire_push::api::DEVELOPMENT_TOKEN;
use loopwire_push::auth::{Claims, Secret, Signer};
use loopwire_push::config::unix_now_secs;
use loopwire_push::frame::{ClientFrame, encode_client};

/// How long one blocking read or write may take before the soak calls it a failure.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP connection with the soak's timeouts.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A RESP command as a multibulk request.
pub(crate) fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One RESP reply: a status or error line's text, or a bulk string's bytes (`None`: nil).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+...` or `-...` (the first byte kept) or `:n`.
    Line(String),
    /// `$n` and its bytes, or `$-1`.
    Bulk(Option<Vec<u8>>),
}

/// Reads one RESP reply (status, error, integer or bulk; the soak sends nothing else).
pub(crate) fn resp_reply(r: &mut BufReader<TcpStream>) -> io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end().to_owned();
    match line.as_bytes().first() {
        Some(b'$') => {
            let n: i64 = line[1..]
                .parse()
                .map_err(|_| io::Error::other(format!("bad bulk length {line:?}")))?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut data = vec![0; n as usize + 2];
            r.read_exact(&mut data)?;
            data.truncate(n as usize);
            Ok(Reply::Bulk(Some(data)))
        }
        Some(_) => Ok(Reply::Line(line)),
        None => Err(io::Error::other("empty reply line")),
    }
}

/// A token for `user` signed with the development secret (the servers run `--dev`), valid
/// for a day, granting every room.
pub(crate) fn token(user: &str) -> String {
    let mut claims = Claims::new(user, unix_now_secs() + 24 * 3600);
    claims.rooms = vec!["*".into()];
    Signer::new(&Secret::development()).sign(&claims)
}

/// The bytes of a push client frame.
pub(crate) fn frame(f: &ClientFrame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    // The soak's frames are small; a refusal would be a bug in the soak.
    encode_client(f, 1 << 20, &mut out).expect("a small frame encodes");
    out
}

/// A keep-alive connection to the push API (bearer: the development token).
#[derive(Debug)]
pub(crate) struct Api {
    r: BufReader<TcpStream>,
}

impl Api {
    /// Connects to the API at `addr`.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            r: BufReader::new(connect(addr)?),
        })
    }

    /// Sends one request and returns the status and the body.
    pub(crate) fn call(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
    ) -> io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: push\r\nAuthorization: Bearer {DEVELOPMENT_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.r.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body.as_bytes())?;
        let mut status = String::new();
        if self.r.read_line(&mut status)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let code: u16 = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status:?}")))?;
        let mut len = 0;
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        self.r.read_exact(&mut body)?;
        Ok((code, String::from_utf8_lossy(&body).into_owned()))
    }

    /// POSTs a JSON body.
    pub(crate) fn post(&mut self, path: &str, body: &str) -> io::Result<(u16, String)> {
        self.call("POST", path, body)
    }
}

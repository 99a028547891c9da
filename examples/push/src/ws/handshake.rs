//! The server's side of the opening handshake (RFC 6455 section 4.2): [`Upgrade::parse`]
//! checks the client's HTTP/1.1 upgrade request (section 4.2.1), parsed with `httparse`, and
//! [`Upgrade::write_accept`] writes the `101 Switching Protocols` answer (section 4.2.2).
//! A refused request becomes a [`HandshakeError`], whose response goes out before the
//! connection closes.
//!
//! Sans I/O: `parse` takes the connection's inbound bytes, says how many the head used
//! (frames may follow it in the same read) or that more are needed; it keeps no state
//! between calls, so nothing is stored per connection while the head trickles in (it is
//! parsed again from the start, at most [`HandshakeConfig::max_head`] bytes).
//!
//! No extension is ever accepted (`Sec-WebSocket-Extensions` is ignored, so RSV bits stay
//! reserved); the request target is kept ([`Upgrade::path`]) for routing or a token in the
//! query string (a browser's WebSocket cannot set other headers).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::accept::accept_key;
use super::config::HandshakeConfig;
use super::reject::HandshakeError;

/// Most headers a request may have.
const MAX_HEADERS: usize = 64;

/// Longest peer-sent text quoted in an error response.
const MAX_QUOTE: usize = 64;

/// An accepted upgrade request: what the answer needs, and what the handler may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    path: String,
    host: String,
    origin: Option<String>,
    protocol: Option<String>,
    accept: String,
}

impl Upgrade {
    /// Parses and checks the request head at the front of `head`: `Ok(None)` while it is
    /// incomplete, else the bytes it used (what follows is the client's first frames) and
    /// the accepted request.
    ///
    /// # Errors
    /// A [`HandshakeError`] for a head that is malformed, larger than
    /// [`HandshakeConfig::max_head`] (as soon as that many bytes are in without its end), or
    /// not a WebSocket request this server accepts: not GET, not HTTP/1.1, no `Host`, no
    /// `Upgrade: websocket` (case-insensitive), no `upgrade` token in `Connection`, a
    /// `Sec-WebSocket-Version` other than 13, a `Sec-WebSocket-Key` that is not base64 of 16
    /// bytes, an `Origin` the [`OriginPolicy`](super::OriginPolicy) refuses, or none of the
    /// server's subprotocols offered when [`HandshakeConfig::require_protocol`] is set.
    pub fn parse(
        head: &[u8],
        config: &HandshakeConfig,
    ) -> Result<Option<(usize, Upgrade)>, HandshakeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let used = match req.parse(head) {
            Ok(httparse::Status::Complete(n)) if n <= config.max_head => n,
            Ok(httparse::Status::Partial) if head.len() < config.max_head => return Ok(None),
            Ok(_) | Err(httparse::Error::TooManyHeaders) => {
                return Err(HandshakeError::HeadTooLarge(config.max_head));
            }
            Err(e) => return Err(HandshakeError::Malformed(e)),
        };
        let method = req.method.unwrap_or_default();
        if method != "GET" {
            return Err(HandshakeError::Method(quote(method.as_bytes())));
        }
        if req.version != Some(1) {
            return Err(HandshakeError::HttpVersion);
        }
        let headers = Headers(req.headers);
        if !headers.has_token("upgrade", "websocket") {
            return Err(HandshakeError::NotWebSocket);
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(HandshakeError::ConnectionNotUpgrade);
        }
        let host = headers.one("host").ok_or(HandshakeError::MissingHost)?;
        match headers.one("sec-websocket-version") {
            None => return Err(HandshakeError::MissingVersion),
            Some(v) if v.trim_ascii() == b"13" => {}
            Some(v) => return Err(HandshakeError::UnsupportedVersion(quote(v))),
        }
        let key = headers
            .one("sec-websocket-key")
            .map(<[u8]>::trim_ascii)
            .ok_or(HandshakeError::BadKey)?;
        match STANDARD.decode(key) {
            Ok(raw) if raw.len() == 16 => {}
            _ => return Err(HandshakeError::BadKey),
        }
        let origin = match headers.one("origin") {
            Some(o) => Some(
                std::str::from_utf8(o.trim_ascii())
                    .map_err(|_| HandshakeError::OriginRejected(quote(o)))?,
            ),
            None => None,
        };
        if !config.origin.allows(origin) {
            return Err(HandshakeError::OriginRejected(quote(
                origin.unwrap_or_default().as_bytes(),
            )));
        }
        let protocol = config
            .protocols
            .iter()
            .find(|p| headers.has_exact_token("sec-websocket-protocol", p))
            .cloned();
        if protocol.is_none() && config.require_protocol {
            return Err(HandshakeError::NoProtocol(config.protocols.clone()));
        }
        let upgrade = Upgrade {
            path: req.path.unwrap_or("/").to_owned(),
            host: String::from_utf8_lossy(host.trim_ascii()).into_owned(),
            origin: origin.map(str::to_owned),
            protocol,
            accept: accept_key(key),
        };
        Ok(Some((used, upgrade)))
    }

    /// The request target: path and query, as sent.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Host` header (non-UTF-8 bytes replaced).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `Origin` header, if the client sent one.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The subprotocol selected (see [`HandshakeConfig::protocols`]), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The `Sec-WebSocket-Accept` value of the answer.
    pub fn accept_key(&self) -> &str {
        &self.accept
    }

    /// Appends the `101 Switching Protocols` response to `out`. After it, both sides speak
    /// frames.
    pub fn write_accept(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
        out.extend_from_slice(b"Connection: Upgrade\r\nSec-WebSocket-Accept: ");
        out.extend_from_slice(self.accept.as_bytes());
        if let Some(p) = &self.protocol {
            out.extend_from_slice(b"\r\nSec-WebSocket-Protocol: ");
            out.extend_from_slice(p.as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// The `101 Switching Protocols` response (see [`write_accept`](Self::write_accept)).
    pub fn accept(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        self.write_accept(&mut out);
        out
    }
}

/// Peer-sent bytes for an error message: lossy UTF-8, at most [`MAX_QUOTE`] bytes.
fn quote(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(MAX_QUOTE)]).into_owned()
}

/// The request's headers, looked up by lower-case name (header names are case-insensitive).
struct Headers<'h, 'b>(&'h [httparse::Header<'b>]);

impl<'b> Headers<'_, 'b> {
    /// Every value of header `name`.
    fn all(&self, name: &'static str) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The value of header `name` if it occurs exactly once.
    fn one(&self, name: &'static str) -> Option<&'b [u8]> {
        let mut it = self.all(name);
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }

    /// Every comma-separated token of header `name`, over all its occurrences, trimmed.
    fn tokens(&self, name: &'static str) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
    }

    /// Whether header `name` lists `token` (ASCII case-insensitive).
    fn has_token(&self, name: &'static str, token: &str) -> bool {
        self.tokens(name)
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// Whether header `name` lists `token` exactly (subprotocol names are case-sensitive).
    fn has_exact_token(&self, name: &'static str, token: &str) -> bool {
        self.tokens(name).any(|t| t == token.as_bytes())
    }
}

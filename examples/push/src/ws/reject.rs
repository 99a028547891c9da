//! [`HandshakeError`]: why an opening handshake was refused, and the HTTP response that says
//! so (RFC 6455 section 4.2.1: "an appropriate error code (such as 400 Bad Request)"; section
//! 4.4: 426 with the versions spoken). The connection is closed after the response.

use std::fmt::Write as _;

/// An upgrade request this server refuses. [`response`](Self::response) is the HTTP answer;
/// send it, then close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not an HTTP/1.x request head.
    #[error("malformed request: {0}")]
    Malformed(httparse::Error),
    /// No complete head within [`HandshakeConfig::max_head`](super::HandshakeConfig) bytes,
    /// or more headers than parsed (64). 431.
    #[error("request head larger than {0} bytes or with too many headers")]
    HeadTooLarge(usize),
    /// A method other than GET. 405, with `Allow: GET`.
    #[error("method {0} not allowed, only GET")]
    Method(String),
    /// HTTP/1.0: the handshake needs HTTP/1.1 (section 4.1).
    #[error("HTTP/1.1 required")]
    HttpVersion,
    /// No `Upgrade: websocket`: not a WebSocket request. 426, with `Upgrade: websocket`.
    #[error("not a WebSocket upgrade request")]
    NotWebSocket,
    /// No `upgrade` token in `Connection`.
    #[error("Connection header lacks the upgrade token")]
    ConnectionNotUpgrade,
    /// No `Host` header, or several.
    #[error("Host header missing or repeated")]
    MissingHost,
    /// No `Sec-WebSocket-Version` header, or several.
    #[error("Sec-WebSocket-Version header missing or repeated")]
    MissingVersion,
    /// A `Sec-WebSocket-Version` other than 13. 426, with `Sec-WebSocket-Version: 13`.
    #[error("WebSocket version {0:?} not supported, only 13")]
    UnsupportedVersion(String),
    /// No `Sec-WebSocket-Key`, several, or one that is not base64 of 16 bytes.
    #[error("Sec-WebSocket-Key missing or not base64 of 16 bytes")]
    BadKey,
    /// An `Origin` the [`OriginPolicy`](super::OriginPolicy) refuses. 403.
    #[error("origin {0:?} not allowed")]
    OriginRejected(String),
    /// The peer's address already has the most connections the server allows
    /// ([`Config::max_conns_per_ip`](crate::Config::max_conns_per_ip)). 429, sent before
    /// the request is read.
    #[error("at most {0} connections per address")]
    TooManyConnections(usize),
    /// None of the server's subprotocols offered, with
    /// [`HandshakeConfig::require_protocol`](super::HandshakeConfig) set.
    #[error("none of the subprotocols {0:?} offered")]
    NoProtocol(Vec<String>),
}

impl HandshakeError {
    /// The HTTP status code of the response.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge(_) => 431,
            Self::Method(_) => 405,
            Self::NotWebSocket | Self::UnsupportedVersion(_) => 426,
            Self::OriginRejected(_) => 403,
            Self::TooManyConnections(_) => 429,
            Self::Malformed(_)
            | Self::HttpVersion
            | Self::ConnectionNotUpgrade
            | Self::MissingHost
            | Self::MissingVersion
            | Self::BadKey
            | Self::NoProtocol(_) => 400,
        }
    }

    /// The whole HTTP response: status line, headers (`Connection: close`, those the status
    /// calls for), and this error's message as a plain-text body.
    pub fn response(&self) -> Vec<u8> {
        let reason = match self.status() {
            403 => "Forbidden",
            405 => "Method Not Allowed",
            426 => "Upgrade Required",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            _ => "Bad Request",
        };
        let body = format!("{self}\n");
        let mut r = format!("HTTP/1.1 {} {reason}\r\n", self.status());
        match self {
            Self::Method(_) => r.push_str("Allow: GET\r\n"),
            Self::NotWebSocket => {
                r.push_str("Upgrade: websocket\r\nConnection: Upgrade, close\r\n")
            }
            Self::UnsupportedVersion(_) => r.push_str("Sec-WebSocket-Version: 13\r\n"),
            _ => {}
        }
        if !matches!(self, Self::NotWebSocket) {
            r.push_str("Connection: close\r\n");
        }
        // Writing to a String cannot fail.
        let _ = write!(
            r,
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        r.into_bytes()
    }
}

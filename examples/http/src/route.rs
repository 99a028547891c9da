//! Which response a request gets: the whole application of the plaintext server.
//!
//! `GET /plaintext` and `GET /` (a query string ignored) answer `Hello, World!`; `HEAD` the
//! same headers without the body; any other path `404`; any other method `405`. The
//! `Connection` header follows the request ([`Request::keep_alive`]).

use super::parse::{Request, Version};
use super::response::{Connection, Response, Status};

/// The response to `req`.
pub fn route(req: &Request<'_>) -> Response {
    let head_only = req.method == b"HEAD";
    let status = if req.method != b"GET" && !head_only {
        Status::MethodNotAllowed
    } else if matches!(req.path(), b"/plaintext" | b"/") {
        Status::Ok
    } else {
        Status::NotFound
    };
    let connection = if !req.keep_alive {
        Connection::Close
    } else if req.version == Version::Http10 {
        Connection::KeepAlive
    } else {
        Connection::Default
    };
    Response {
        status,
        head_only,
        connection,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{Limits, Progress, parse};
    use super::*;

    fn answer(buf: &[u8]) -> Response {
        match parse(buf, &mut Progress::default(), &Limits::default()) {
            Ok(Some(req)) => route(&req),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn routes() {
        let ok = |status, head_only, connection| Response {
            status,
            head_only,
            connection,
        };
        use Connection::*;
        let cases: [(&[u8], Response); 8] = [
            (
                b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::Ok, false, Default),
            ),
            (
                b"GET /?a=b HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::Ok, false, Default),
            ),
            (
                b"HEAD /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::Ok, true, Default),
            ),
            (
                b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::NotFound, false, Default),
            ),
            (
                b"get /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::MethodNotAllowed, false, Default),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                ok(Status::MethodNotAllowed, false, Close),
            ),
            (b"GET / HTTP/1.0\r\n\r\n", ok(Status::Ok, false, Close)),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                ok(Status::Ok, false, KeepAlive),
            ),
        ];
        for (buf, want) in cases {
            assert_eq!(answer(buf), want, "{}", String::from_utf8_lossy(buf));
        }
    }
}

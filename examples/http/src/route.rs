//! Which response a request gets: the whole application of the server.
//!
//! | path (a query string ignored) | method | response |
//! |---|---|---|
//! | `/plaintext`, `/` | `GET`, `HEAD` | `Hello, World!` (`text/plain`) |
//! | `/json` | `GET`, `HEAD` | `{"message":"Hello, World!"}` (`application/json`) |
//! | `/echo` | `POST` | the request body (`Content-Length` bodies; chunked is refused, 411) |
//! | any of those | another method | `405` with `Allow` |
//! | any other | any | `404` |
//!
//! `HEAD` gets the headers of the `GET` response without the body. The `Connection` header
//! follows the request ([`Request::keep_alive`]).

use super::parse::{Request, Version};
use super::response::{Allow, Connection, Response, Status};

/// The response to `req`.
pub fn route(req: &Request<'_>) -> Response {
    let head_only = req.method == b"HEAD";
    let get = req.method == b"GET" || head_only;
    let status = match req.path() {
        b"/plaintext" | b"/" if get => Status::Ok,
        b"/json" if get => Status::Json,
        b"/plaintext" | b"/" | b"/json" => Status::MethodNotAllowed(Allow::GetHead),
        b"/echo" if req.method == b"POST" => Status::Echo,
        b"/echo" => Status::MethodNotAllowed(Allow::Post),
        _ => Status::NotFound,
    };
    let content_length = if status == Status::Echo {
        req.content_length
    } else {
        0
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
        content_length,
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
            content_length: 0,
        };
        use Connection::*;
        let not_allowed = Status::MethodNotAllowed(Allow::GetHead);
        let cases: [(&[u8], Response); 13] = [
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
                ok(not_allowed, false, Default),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                ok(not_allowed, false, Close),
            ),
            (
                b"GET /json?x HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::Json, false, Default),
            ),
            (
                b"DELETE /json HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(not_allowed, false, Default),
            ),
            (
                b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::MethodNotAllowed(Allow::Post), false, Default),
            ),
            (
                b"POST /nope HTTP/1.1\r\nHost: a\r\n\r\n",
                ok(Status::NotFound, false, Default),
            ),
            (
                b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                Response {
                    content_length: 5,
                    ..ok(Status::Echo, false, Default)
                },
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

//! Peer for the HTTP benchmark: the same application (plaintext, JSON, echo) on hyper 1 and
//! tokio's multi-thread runtime, written as a Rust user writes an HTTP server with them: one
//! task per connection serving hyper's HTTP/1 connection, a `service_fn` that routes.
//!
//! Routes and statuses follow `loopwire_http::route` (see that module's table): `GET`/`HEAD`
//! of `/plaintext` and `/` answer `Hello, World!` (`text/plain`), of `/json` the JSON
//! message; `POST /echo` answers its body (at most `Limits::max_body`, 413 above); another
//! method on those paths gets 405 with `Allow`, any other path 404. hyper writes its own
//! `Date` (cached per second, as loopwire's), decides keep-alive, and with `pipeline_flush`
//! gathers the responses to pipelined requests into one write, as loopwire does. A request
//! head must arrive within `--request-timeout` seconds (hyper's `header_read_timeout`).
//!
//! `hyper_http --addr 127.0.0.1:8082 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use loopwire_bench::peer::tokio_loop;
use loopwire_examples::cli::BoxError;
use loopwire_http::parse::Limits;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    addr: String,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds a request head may take to arrive completely (slow-loris guard).
    #[arg(long, default_value_t = Limits::default().request_timeout.as_secs())]
    request_timeout: u64,
}

/// The plaintext body.
const HELLO: &[u8] = b"Hello, World!";
/// The JSON body.
const JSON: &[u8] = br#"{"message":"Hello, World!"}"#;

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let timeout = Duration::from_secs(args.request_timeout);
    let max_body = usize::try_from(Limits::default().max_body).unwrap_or(usize::MAX);
    tokio_loop::accept_loop(
        &args.addr,
        args.threads,
        || {},
        move |sock| async move {
            let service = service_fn(move |req| respond(req, max_body));
            // A connection's error (a reset, a malformed or late head) ends only it.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(sock), service)
                .await;
        },
    )?;
    Ok(())
}

/// The response to `req`: `loopwire_http::route`'s table.
async fn respond(
    req: Request<Incoming>,
    max_body: usize,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let post = req.method() == Method::POST;
    Ok(match req.uri().path() {
        "/plaintext" | "/" if get => body(StatusCode::OK, "text/plain", Bytes::from_static(HELLO)),
        "/json" if get => body(StatusCode::OK, "application/json", Bytes::from_static(JSON)),
        "/plaintext" | "/" | "/json" => not_allowed("GET, HEAD"),
        "/echo" if post => match Limited::new(req.into_body(), max_body).collect().await {
            Ok(collected) => body(
                StatusCode::OK,
                "application/octet-stream",
                collected.to_bytes(),
            ),
            Err(_) => status(StatusCode::PAYLOAD_TOO_LARGE),
        },
        "/echo" => not_allowed("POST"),
        _ => status(StatusCode::NOT_FOUND),
    })
}

/// A response with `content` of type `kind`.
fn body(code: StatusCode, kind: &'static str, content: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(content));
    *r.status_mut() = code;
    let h = r.headers_mut();
    // As loopwire's responses carry `Server: loopwire`: the same bytes on the wire.
    h.insert(SERVER, HeaderValue::from_static("hyper"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

/// An empty response with status `code`.
fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

/// 405 naming the methods `allow`ed on the path.
fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

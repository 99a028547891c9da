//! Peer for the HTTP benchmark: the same server (plaintext, JSON, echo) on tokio's multi-thread runtime, one
//! task per connection, written as a tokio user would without a framework (no hyper).
//!
//! It shares the loopwire example's parser, routes, responses and cached `Date`
//! (`loopwire_http`), so both servers follow the same rules byte for byte and the
//! benchmark compares the runtimes, not two parsers. Per connection: a read buffer (a `Vec`
//! filled by `read_buf`; the unread tail is moved to the front after each batch, so a partial
//! request stays in place), every complete request in it answered into one output buffer,
//! sent with one `write_all`, which also is the backpressure (no reading while the peer does
//! not take the responses). A started request must be complete within the request timeout
//! (`timeout_at` on the reads, from the request's start).
//!
//! `tokio_http --addr 127.0.0.1:8081 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loopwire_examples::cli::{BoxError, Context};
use loopwire_http::date;
use loopwire_http::parse::{Limits, Progress, parse};
use loopwire_http::response::Response;
use loopwire_http::route::route;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    addr: String,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds a started request may take to arrive completely (slow-loris guard).
    #[arg(long, default_value_t = Limits::default().request_timeout.as_secs())]
    request_timeout: u64,
}

/// Room kept free in the read buffer before each read.
const READ_CHUNK: usize = 8 * 1024;

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let limits = Limits {
        request_timeout: Duration::from_secs(args.request_timeout),
        ..Limits::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context(|| "cannot start the tokio runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on tcp://{addr}")
            .and_then(|()| out.flush())
            .context(|| "cannot write to stdout")?;
        drop(out);
        loop {
            let (sock, _) = listener.accept().await.context(|| "cannot accept")?;
            // A peer that is already gone fails this; its reads end the task.
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve(sock, limits));
        }
    })
}

/// Serves one connection until the peer closes, a response closes it, or a request is late.
async fn serve(mut sock: TcpStream, limits: Limits) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut progress = Progress::default();
    let mut skip: u64 = 0;
    // Whether the body being skipped is forwarded into the response (`POST /echo`).
    let mut forward = false;
    let mut pending: Option<Response> = None;
    let mut deadline: Option<Instant> = None;
    loop {
        // Answer every complete request in `buf`, in order.
        let mut at = 0;
        let mut close = false;
        let mut now: Option<[u8; date::LEN]> = None;
        let incomplete = loop {
            if skip > 0 {
                let n = skip.min((buf.len() - at) as u64);
                // `n <= buf.len() - at`: the cast cannot truncate.
                let n = n as usize;
                if forward {
                    out.extend_from_slice(&buf[at..at + n]);
                }
                at += n;
                skip -= n as u64;
                if skip > 0 {
                    break true;
                }
            }
            if let Some(response) = pending.take() {
                forward = false;
                if !response.forwards_body() {
                    response.write(&mut out, now.get_or_insert_with(date::current));
                }
                if response.closes() {
                    close = true;
                    break false;
                }
            }
            if at == buf.len() {
                break false;
            }
            match parse(&buf[at..], &mut progress, &limits) {
                Ok(Some(req)) => {
                    at += req.head_len;
                    skip = req.content_length;
                    let response = route(&req);
                    forward = response.forwards_body();
                    if forward {
                        // The head now, the body as it arrives.
                        response.write(&mut out, now.get_or_insert_with(date::current));
                    }
                    pending = Some(response);
                }
                Ok(None) => break true,
                Err(e) => {
                    Response::error(e).write(&mut out, now.get_or_insert_with(date::current));
                    close = true;
                    break false;
                }
            }
        };
        let answered = !out.is_empty();
        if answered {
            if sock.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = sock.shutdown().await;
            return;
        }
        // Keep only the partial request, at the front (the parser's progress is relative
        // to it).
        buf.drain(..at);

        // The slow-loris guard: a request must be complete within the timeout from its start.
        if !incomplete {
            deadline = None;
        } else if deadline.is_none() || answered {
            // A timeout too far to represent is no deadline.
            deadline = Instant::now().checked_add(limits.request_timeout);
        }

        buf.reserve(READ_CHUNK);
        let read = match deadline {
            None => sock.read_buf(&mut buf).await,
            Some(d) => match tokio::time::timeout_at(d, sock.read_buf(&mut buf)).await {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

//! A [`Protocol`] on tokio's multi-thread runtime, one task per connection, written as a tokio
//! user would without a framework (no hyper, no tokio-util codec).
//!
//! Per connection: a read buffer (a `Vec` filled by `read_buf`; the unread tail is moved to
//! the front after each batch, so a partial request stays in place), every complete request in
//! it answered into one output buffer, sent with one `write_all`, which also is the
//! backpressure (no reading while the peer does not take the replies). A started request must
//! be complete within the protocol's request timeout (`timeout_at` on the reads, from the
//! request's start). The accept loop runs on the thread that called [`run`]; the protocol's
//! tick is a task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::{Protocol, READ_CHUNK, Stop, announce};
use crate::Error;

/// Serves `proto` on `addr` with `threads` runtime workers until the process is stopped;
/// prints `listening on tcp://ADDR` once it accepts.
///
/// # Errors
/// When the runtime cannot start, the address cannot be bound, or accepting fails.
pub fn run<P: Protocol>(proto: P, addr: &str, threads: usize) -> Result<(), Error> {
    let proto = Arc::new(proto);
    let ticker = Arc::clone(&proto);
    accept_loop(
        addr,
        threads,
        move || {
            if ticker.tick().is_some() {
                tokio::spawn(ticks(ticker));
            }
        },
        move |sock| serve(Arc::clone(&proto), sock),
    )
}

/// The tokio peers' server: a multi-thread runtime of `threads` workers that binds `addr`,
/// runs `start` (inside the runtime: periodic tasks), prints `listening on tcp://ADDR`, then
/// spawns `conn(socket)` for every connection it accepts (with `TCP_NODELAY`), until the
/// process is stopped.
///
/// # Errors
/// When the runtime cannot start, the address cannot be bound, or accepting fails.
pub fn accept_loop<F, C>(
    addr: &str,
    threads: usize,
    start: impl FnOnce(),
    conn: C,
) -> Result<(), Error>
where
    C: Fn(TcpStream) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the tokio runtime", e))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
        let local: SocketAddr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        start();
        announce(local).map_err(|e| Error::io("cannot write to stdout", e))?;
        loop {
            let (sock, _) = listener
                .accept()
                .await
                .map_err(|e| Error::io("cannot accept", e))?;
            // A peer that is already gone fails this; its reads end the task.
            let _ = sock.set_nodelay(true);
            tokio::spawn(conn(sock));
        }
    })
}

/// Runs the protocol's periodic work until it asks for no more (its first run was in [`run`]).
async fn ticks<P: Protocol>(proto: Arc<P>) {
    let mut next = proto.tick();
    while let Some(d) = next {
        tokio::time::sleep(d).await;
        next = proto.tick();
    }
}

/// Serves one connection until the peer closes, the protocol closes it, or a request is late.
async fn serve<P: Protocol>(proto: Arc<P>, mut sock: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut state = P::State::default();
    let mut deadline: Option<Instant> = None;
    let timeout = proto.request_timeout();
    loop {
        // Answer every complete request in `buf`, in order.
        let mut at = 0;
        let mut answered = false;
        let stop = loop {
            let s = proto.serve(&mut state, buf.get(at..).unwrap_or_default(), &mut out);
            at = at.saturating_add(s.consumed).min(buf.len());
            if s.stop != Stop::Full {
                break s.stop;
            }
            // Send what is there before answering more.
            if sock.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
            answered = true;
        };
        if !out.is_empty() {
            if sock.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
            answered = true;
        }
        if stop == Stop::Close {
            let _ = sock.shutdown().await;
            return;
        }
        // Keep only the partial request, at the front (the parser's progress is relative
        // to it).
        buf.drain(..at);
        if buf.len() >= proto.max_inbound() {
            return;
        }

        // The slow-loris guard: a request must be complete within the timeout from its start.
        if stop != Stop::Incomplete {
            deadline = None;
        } else if deadline.is_none() || answered {
            // A timeout too far to represent is no deadline.
            deadline = timeout.and_then(|t| Instant::now().checked_add(t));
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

//! An HTTP/1.1 server on loopwire (TechEmpower's "plaintext" and "json" tests, and
//! `POST /echo`; the routes are in [`route`]), driven by `wrk`;
//! the program is `src/bin/http.rs`, the benchmark `bench http` in `loopwire-bench`, its same-run
//! peers `tokio_http` (tokio) and `mio_http` (hand-written mio) in `loopwire-bench`, which share
//! the parser, the routes and the responses.
//!
//! - [`parse`]: request heads found resumably, parsed in place by `httparse`, with limits and
//!   typed errors.
//! - [`route`]: which response a request gets.
//! - [`response`]: responses written from static bytes, without allocating.
//! - [`date`]: the `Date` header, formatted by `httpdate` at most once per second per thread.
//! - [`handler`]: the [`EventHandler`](loopwire::EventHandler) tying them together:
//!   pipelining, discarded or echoed bodies, the slow-loris deadline, backpressure.

pub mod date;
pub mod handler;
pub mod parse;
pub mod response;
pub mod route;

pub use handler::{ConnState, Http};
pub use parse::{Limits, ParseError};

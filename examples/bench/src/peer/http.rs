//! The HTTP peers' protocol: loopwire-http's parser, routes, responses and cached `Date`
//! (`loopwire_http`), so the peers follow the loopwire server's rules byte for byte and the
//! benchmark compares I/O layers, not two parsers.
//!
//! Pipelining: every complete request in the input is answered in order. A request's body
//! (`Content-Length`) is discarded as it arrives and its response written once the body is
//! complete, so responses never overtake requests; `POST /echo` writes its response head at
//! once and forwards the body into the response as it arrives. A head that cannot be parsed is
//! answered with its error status and the connection closes, as does a response that closes
//! (`Connection: close`, HTTP/1.0 without keep-alive).

use std::time::Duration;

use loopwire_http::date;
use loopwire_http::parse::{Limits, Progress, parse};
use loopwire_http::response::Response;
use loopwire_http::route::route;

use super::{Protocol, READ_CHUNK, Served, Stop};

/// The HTTP server (plaintext, JSON, echo) with these limits.
#[derive(Debug, Clone, Default)]
pub struct Http {
    /// The request limits (the slow-loris timeout among them).
    pub limits: Limits,
}

/// Where a connection's current request stands.
#[derive(Debug, Default)]
pub struct HttpState {
    /// How far the scan of a partial head got.
    progress: Progress,
    /// Bytes of the current request's body still to discard (or forward).
    skip: u64,
    /// Whether those bytes are forwarded into the response (`POST /echo`).
    forward: bool,
    /// The current request's response, written once its body is complete.
    pending: Option<Response>,
}

impl Protocol for Http {
    type State = HttpState;

    fn serve(&self, st: &mut HttpState, buf: &[u8], out: &mut Vec<u8>) -> Served {
        let mut at = 0;
        // Read the clock at most once per call, and only if something is answered.
        let mut now: Option<[u8; date::LEN]> = None;
        let stop = loop {
            if st.skip > 0 {
                let left = buf.get(at..).unwrap_or_default();
                // `n <= left.len()`: the cast cannot truncate.
                let n = st.skip.min(left.len() as u64) as usize;
                if st.forward {
                    out.extend_from_slice(&left[..n]);
                }
                at += n;
                st.skip -= n as u64;
                if st.skip > 0 {
                    break Stop::Incomplete;
                }
            }
            if let Some(response) = st.pending.take() {
                st.forward = false;
                if !response.forwards_body() {
                    response.write(out, now.get_or_insert_with(date::current));
                }
                if response.closes() {
                    break Stop::Close;
                }
            }
            let rest = buf.get(at..).unwrap_or_default();
            if rest.is_empty() {
                break Stop::Idle;
            }
            match parse(rest, &mut st.progress, &self.limits) {
                Ok(Some(req)) => {
                    at += req.head_len;
                    st.skip = req.content_length;
                    let response = route(&req);
                    st.forward = response.forwards_body();
                    if st.forward {
                        // The head now, the body as it arrives.
                        response.write(out, now.get_or_insert_with(date::current));
                    }
                    st.pending = Some(response);
                }
                Ok(None) => break Stop::Incomplete,
                Err(e) => {
                    Response::error(e).write(out, now.get_or_insert_with(date::current));
                    break Stop::Close;
                }
            }
        };
        Served { consumed: at, stop }
    }

    fn max_inbound(&self) -> usize {
        // The parser answers a head above `max_head` with 431 first; this never cuts it short.
        self.limits.max_head.saturating_add(READ_CHUNK)
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.limits.request_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(st: &mut HttpState, input: &[u8]) -> (Served, String) {
        let mut out = Vec::new();
        let s = Http::default().serve(st, input, &mut out);
        (s, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let mut st = HttpState::default();
        let input = b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /json HTTP/1.1\r\nHost: a\r\n\r\nGET /pl";
        let (s, out) = serve(&mut st, input);
        let plain = out.find("Hello, World!").expect("the plaintext body");
        let json = out.find(r#"{"message":"#).expect("the JSON body");
        assert!(plain < json, "{out}");
        assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{out}");
        assert_eq!(s.stop, Stop::Incomplete);
        assert_eq!(s.consumed, input.len() - 7);
    }

    #[test]
    fn a_body_is_skipped_and_an_echo_forwarded() {
        let mut st = HttpState::default();
        let (s, out) = serve(
            &mut st,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab",
        );
        assert_eq!((s.consumed, s.stop), (53, Stop::Incomplete));
        assert!(out.ends_with("\r\n\r\nab"), "{out}");
        let (s, out) = serve(&mut st, b"cde");
        assert_eq!((s.consumed, s.stop), (3, Stop::Idle));
        assert_eq!(out, "cde");
    }

    #[test]
    fn a_bad_head_is_answered_and_closes() {
        let mut st = HttpState::default();
        let (s, out) = serve(
            &mut st,
            b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        assert_eq!(s.stop, Stop::Close);
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        assert_eq!(out.matches("HTTP/1.1").count(), 1, "{out}");
    }
}

//! The push gateway's HTTP API request parsing (`loopwire_push::api`, through its hidden
//! `fuzzing` module): heads found (`find_head`, resumable) and parsed (`parse_head`), then
//! the JSON body of a route validated (`json::push_user` ... `json::online`), as the API
//! handler does (empty lines before a request skipped).
//!
//! Input: 5 configuration bytes (`max_head` 64..=2048, the range `ApiConfig::validate`
//! allows; `max_headers` 0..=69; read sizes seed; route of the bodies), then the stream. Properties: no panic; a head is at most
//! `max_head` bytes, within the unread bytes; the heads, body verdicts and the error that
//! ends the stream are the same whatever the split into reads; a body verdict depends only
//! on the body's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire_fuzz::{Input, read_ends};
use loopwire_push::api::ApiConfig;
use loopwire_push::api::fuzzing::{HeadSummary, body, find_head, parse_head};

const TOKEN: &str = "fuzz-token-0123456789abcdef";

type Seen = Vec<Result<(HeadSummary, Option<Result<String, &'static str>>), &'static str>>;

fn run(stream: &[u8], ends: &[usize], c: &ApiConfig, route: u8) -> Seen {
    let (mut seen, mut scanned, mut at) = (Vec::new(), 0, 0);
    let mut body_len: Option<usize> = None;
    for &end in ends {
        loop {
            if let Some(len) = body_len {
                if end - at < len {
                    break;
                }
                let verdict = body(route, &stream[at..at + len], c);
                assert_eq!(verdict, body(route, &stream[at..at + len], c));
                if let Some(Ok((_, v))) = seen.last_mut() {
                    *v = Some(verdict);
                }
                at += len;
                body_len = None;
            }
            while stream[at..end].starts_with(b"\r\n") || stream[at..end].starts_with(b"\n") {
                at += if stream[at] == b'\r' { 2 } else { 1 };
            }
            if at == end || &stream[at..end] == b"\r" {
                break;
            }
            let buf = &stream[at..end];
            let n = match find_head(buf, &mut scanned, c.max_head) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    seen.push(Err(e));
                    return seen;
                }
            };
            assert!(n <= buf.len() && n <= c.max_head, "head of {n} bytes");
            match parse_head(&buf[..n], c.max_headers, TOKEN) {
                Ok(head) => {
                    assert_eq!(head.0, n);
                    body_len = Some(head.1.map_or(0, |l| l.min(4096) as usize));
                    seen.push(Ok((head, None)));
                    at += n;
                }
                Err(e) => {
                    seen.push(Err(e));
                    return seen;
                }
            }
        }
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 5) else {
        return;
    };
    let c = ApiConfig {
        max_head: usize::from(input.u16(0) % 1985) + 64,
        max_headers: usize::from(input.byte(2) % 70),
        max_name: 16,
        max_users: 4,
        max_payload: 64,
        max_reason: 32,
        ..ApiConfig::new(TOKEN)
    };
    let stream = input.stream;
    let whole = run(stream, &[stream.len()], &c, input.byte(4));
    let ends = read_ends(stream.len(), input.byte(3), 32);
    assert_eq!(
        whole,
        run(stream, &ends, &c, input.byte(4)),
        "reads ending at {ends:?}"
    );
});

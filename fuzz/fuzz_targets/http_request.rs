//! The HTTP example's request framing (`loopwire_http::parse::parse`): heads, then bodies
//! skipped by `Content-Length`, as `loopwire_http::Http::on_traffic` does.
//!
//! Input: 6 configuration bytes (`max_head` 1..=2048, `max_headers` 0..=139, `max_body`
//! 0..=65535, read sizes seed), then the stream. Properties: no panic; a head is at most
//! `max_head` bytes and within the unread bytes; `Content-Length` is at most `max_body`; the
//! requests (method, target, version, keep-alive, length) and the error that ends the stream
//! are the same whatever the split into reads (the resumable scan finds what a whole scan
//! finds).
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire_fuzz::{Input, read_ends};
use loopwire_http::parse::{Limits, ParseError, Progress, parse};

type Seen = (
    Vec<(Vec<u8>, Vec<u8>, String, bool, u64, usize)>,
    Option<ParseError>,
);

fn run(stream: &[u8], ends: &[usize], limits: &Limits) -> Seen {
    let (mut seen, mut progress, mut at, mut skip) = (Vec::new(), Progress::default(), 0, 0u64);
    for &end in ends {
        loop {
            let n = (end - at).min(usize::try_from(skip).unwrap_or(usize::MAX));
            at += n;
            skip -= n as u64;
            if skip > 0 || at == end {
                break;
            }
            let buf = &stream[at..end];
            match parse(buf, &mut progress, limits) {
                Ok(Some(req)) => {
                    assert!(req.head_len >= 1 && req.head_len <= buf.len());
                    assert!(req.head_len <= limits.max_head, "head over max_head");
                    assert!(req.content_length <= limits.max_body, "body over max_body");
                    seen.push((
                        req.method.to_vec(),
                        req.target.to_vec(),
                        format!("{:?}", req.version),
                        req.keep_alive,
                        req.content_length,
                        req.head_len,
                    ));
                    at += req.head_len;
                    skip = req.content_length;
                }
                Ok(None) => break,
                Err(e) => return (seen, Some(e)),
            }
        }
    }
    (seen, None)
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 6) else {
        return;
    };
    let limits = Limits {
        max_head: usize::from(input.u16(0) % 2048) + 1,
        max_headers: usize::from(input.byte(2) % 140),
        max_body: u64::from(input.u16(3)),
        ..Limits::default()
    };
    let stream = input.stream;
    let whole = run(stream, &[stream.len()], &limits);
    let ends = read_ends(stream.len(), input.byte(5), 32);
    assert_eq!(
        whole,
        run(stream, &ends, &limits),
        "reads ending at {ends:?}"
    );
});

//! The RESP example's request parser (`loopwire_resp::parse::parse`), multibulk
//! (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline (`PING\r\n`) requests.
//!
//! Input: 4 configuration bytes (`max_bulk` 0..=63, `max_args` 1..=16, `max_inline`
//! 1..=128, read sizes seed), then the stream. Properties: no panic; every request spans at
//! least one byte, within the unread bytes; `argc` is the number of arguments the command
//! yields; a multibulk command respects `max_args` and `max_bulk` and re-encodes (canonical
//! RESP) to exactly the bytes it spanned; an inline command is at most `max_inline` bytes
//! before its newline; the commands and the error ending the stream are the same whatever
//! the split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire_fuzz::{Input, read_ends};
use loopwire_resp::parse::{Limits, Parsed, Progress, ProtocolError, parse};

type Seen = (Vec<(Vec<Vec<u8>>, usize)>, Option<ProtocolError>);

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn run(stream: &[u8], ends: &[usize], limits: &Limits) -> Seen {
    let (mut seen, mut progress, mut at) = (Vec::new(), Progress::default(), 0);
    for &end in ends {
        while at < end {
            let buf = &stream[at..end];
            match parse(buf, &mut progress, limits) {
                Ok(Parsed::Command(cmd, len)) => {
                    assert!(len >= 1 && len <= buf.len());
                    let args: Vec<Vec<u8>> = cmd.args().map(<[u8]>::to_vec).collect();
                    assert!(cmd.argc() >= 1 && args.len() == cmd.argc());
                    if buf[0] == b'*' {
                        assert!(cmd.argc() <= limits.max_args);
                        assert!(args.iter().all(|a| a.len() <= limits.max_bulk));
                        assert_eq!(multibulk(&args), &buf[..len], "not what was sent");
                    } else {
                        assert!(len <= limits.max_inline + 1, "inline line over max_inline");
                        assert!(args.iter().all(|a| !a.is_empty()));
                    }
                    seen.push((args, len));
                    at += len;
                }
                Ok(Parsed::Empty(len)) => {
                    assert!(len >= 1 && len <= buf.len());
                    seen.push((Vec::new(), len));
                    at += len;
                }
                Ok(Parsed::Incomplete) => break,
                Err(e) => return (seen, Some(e)),
            }
        }
    }
    (seen, None)
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 4) else {
        return;
    };
    let limits = Limits {
        max_bulk: usize::from(input.byte(0) % 64),
        max_args: usize::from(input.byte(1) % 16) + 1,
        max_inline: usize::from(input.byte(2) % 128) + 1,
    };
    let stream = input.stream;
    let whole = run(stream, &[stream.len()], &limits);
    let ends = read_ends(stream.len(), input.byte(3), 32);
    assert_eq!(
        whole,
        run(stream, &ends, &limits),
        "reads ending at {ends:?}"
    );
});

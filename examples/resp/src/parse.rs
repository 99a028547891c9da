//! The RESP2 request parser: multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! commands (`PING\r\n`), parsed in place from the connection's unread bytes.
//!
//! [`parse`] looks at the bytes at the start of the buffer and answers with one of: a complete
//! [`Command`] and how many bytes it spans (the caller consumes exactly those), an empty
//! request to skip (`*0\r\n`, a blank line), [`Parsed::Incomplete`] (wait for more bytes), or
//! a [`ProtocolError`] (reply with it and close, as Redis does).
//!
//! Nothing is copied or allocated: a [`Command`] borrows the buffer and yields its arguments
//! by walking it again ([`Command::args`]), which costs a few comparisons per argument. A
//! request split over several reads resumes where the last call stopped ([`Progress`], kept in
//! the connection's state), so a large pipelined array arriving a byte at a time costs linear,
//! not quadratic, time.
//!
//! Every length a peer sends is checked against [`Limits`] before anything depends on it: a
//! bulk length above [`Limits::max_bulk`] is an error as soon as its header line is read,
//! before its data arrives, and nothing is ever reserved for it. No input makes the parser
//! panic: every index is checked.

/// Bounds on what a request may contain; exceeding one is a [`ProtocolError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in one bulk string (an argument). Redis allows 512 MiB
    /// (`proto-max-bulk-len`); the default here is 64 MiB.
    pub max_bulk: usize,
    /// Most elements in one multibulk array (Redis: 1 048 576).
    pub max_args: usize,
    /// Most bytes in one inline command line, and in a `*`/`$` count line before its CRLF
    /// (Redis: 64 KiB, `PROTO_INLINE_MAX_SIZE`).
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk: 64 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_inline: 64 * 1024,
        }
    }
}

/// Why a request cannot be parsed. The server replies `-ERR Protocol error: <this>` and closes
/// the connection, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A `*` count that is not a number or exceeds [`Limits::max_args`].
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// A `$` length that is not a number, is negative or exceeds [`Limits::max_bulk`].
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// An array element that is not a bulk string.
    #[error("expected '$', got '{}'", char::from(*.0).escape_default())]
    ExpectedBulk(u8),
    /// A count line longer than [`Limits::max_inline`] without its CRLF.
    #[error("too big count string")]
    CountTooLong,
    /// An inline command longer than [`Limits::max_inline`] without its newline.
    #[error("too big inline request")]
    InlineTooLong,
    /// A CR not followed by LF in a count line, or bulk data not followed by CRLF.
    #[error("expected CRLF")]
    ExpectedCrlf,
}

/// How far [`parse`] got into an incomplete multibulk request: kept between calls so the next
/// one resumes there. Positions are offsets from the start of the request, which stays at the
/// start of the unread bytes until the request is complete and consumed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Array elements announced by the `*` line; 0 while that line is not read yet.
    argc: usize,
    /// Elements read completely.
    done: usize,
    /// Offset of the first element (just past the `*` line).
    start: usize,
    /// Offset of the next unread element (multibulk), or how far an inline line has been
    /// scanned for its newline.
    pos: usize,
}

/// What [`parse`] found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete command spanning the first `len` bytes.
    Command(Command<'a>, usize),
    /// An empty request (`*0\r\n`, `*-1\r\n`, a blank line) spanning the first `len` bytes:
    /// consume it, reply nothing.
    Empty(usize),
    /// The request is not complete yet: consume nothing, wait for more bytes.
    Incomplete,
}

/// One complete request, borrowed from the inbound bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    argc: usize,
    body: &'a [u8],
    inline: bool,
}

impl<'a> Command<'a> {
    /// Number of arguments, the command name included (at least 1).
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// The arguments in order, the command name first.
    pub fn args(&self) -> Args<'a> {
        Args {
            rest: self.body,
            left: self.argc,
            inline: self.inline,
        }
    }
}

/// The arguments of a [`Command`], walked in place.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    rest: &'a [u8],
    left: usize,
    inline: bool,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.inline {
            let rest = trim_blanks(self.rest);
            let end = rest.iter().position(|&b| is_blank(b)).unwrap_or(rest.len());
            let (arg, tail) = rest.split_at(end);
            self.rest = tail;
            return Some(arg);
        }
        // `$<len>\r\n<data>\r\n`, validated by `parse`; stay total anyway.
        let cr = self.rest.iter().position(|&b| b == b'\r')?;
        let len = usize::try_from(parse_int(self.rest.get(1..cr)?)?).ok()?;
        let data_start = cr + 2;
        let data_end = data_start.checked_add(len)?;
        let arg = self.rest.get(data_start..data_end)?;
        self.rest = self.rest.get(data_end + 2..).unwrap_or_default();
        Some(arg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Args<'_> {}

/// Parses the request at the start of `buf`, resuming from `progress` (which it updates, and
/// resets once the request is complete or fails). See the [module docs](self).
///
/// # Errors
/// A [`ProtocolError`] when the bytes cannot be a valid request within `limits`.
pub fn parse<'a>(
    buf: &'a [u8],
    progress: &mut Progress,
    limits: &Limits,
) -> Result<Parsed<'a>, ProtocolError> {
    if progress.pos > buf.len() || progress.start > buf.len() {
        // Not the buffer this progress belongs to; start over (never expected).
        *progress = Progress::default();
    }
    let result = match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => parse_multibulk(buf, progress, limits),
        Some(_) => parse_inline(buf, progress, limits),
    };
    if !matches!(result, Ok(Parsed::Incomplete)) {
        *progress = Progress::default();
    }
    result
}

fn parse_multibulk<'a>(
    buf: &'a [u8],
    p: &mut Progress,
    limits: &Limits,
) -> Result<Parsed<'a>, ProtocolError> {
    if p.argc == 0 {
        let Some((line, next)) = count_line(buf, 1, limits)? else {
            return Ok(Parsed::Incomplete);
        };
        let n = parse_int(line).ok_or(ProtocolError::InvalidMultibulkLength)?;
        if n <= 0 {
            return Ok(Parsed::Empty(next));
        }
        let argc = usize::try_from(n).map_err(|_| ProtocolError::InvalidMultibulkLength)?;
        if argc > limits.max_args {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        *p = Progress {
            argc,
            done: 0,
            start: next,
            pos: next,
        };
    }
    while p.done < p.argc {
        let Some(&first) = buf.get(p.pos) else {
            return Ok(Parsed::Incomplete);
        };
        if first != b'$' {
            return Err(ProtocolError::ExpectedBulk(first));
        }
        let Some((line, data_start)) = count_line(buf, p.pos + 1, limits)? else {
            return Ok(Parsed::Incomplete);
        };
        let len = parse_int(line)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.max_bulk)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        // `len <= max_bulk` and `data_start <= buf.len()`: no overflow on any real machine,
        // but checked all the same.
        let end = data_start
            .checked_add(len)
            .and_then(|e| e.checked_add(2))
            .ok_or(ProtocolError::InvalidBulkLength)?;
        let Some(tail) = buf.get(end - 2..end) else {
            return Ok(Parsed::Incomplete);
        };
        if tail != b"\r\n" {
            return Err(ProtocolError::ExpectedCrlf);
        }
        p.pos = end;
        p.done += 1;
    }
    let command = Command {
        argc: p.argc,
        body: buf.get(p.start..p.pos).unwrap_or_default(),
        inline: false,
    };
    Ok(Parsed::Command(command, p.pos))
}

/// The count line starting at `from` (just past its `*` or `$`), without its CRLF, and the
/// offset just past the CRLF; `None` if the CRLF has not arrived.
fn count_line<'a>(
    buf: &'a [u8],
    from: usize,
    limits: &Limits,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    let rest = buf.get(from..).unwrap_or_default();
    let window = &rest[..rest.len().min(limits.max_inline)];
    match window.iter().position(|&b| b == b'\r') {
        Some(cr) => match rest.get(cr + 1) {
            Some(b'\n') => Ok(Some((&rest[..cr], from + cr + 2))),
            Some(_) => Err(ProtocolError::ExpectedCrlf),
            None => Ok(None),
        },
        None if rest.len() >= limits.max_inline => Err(ProtocolError::CountTooLong),
        None => Ok(None),
    }
}

fn parse_inline<'a>(
    buf: &'a [u8],
    p: &mut Progress,
    limits: &Limits,
) -> Result<Parsed<'a>, ProtocolError> {
    let limit = buf.len().min(limits.max_inline.saturating_add(1));
    let scanned = p.pos.min(limit);
    let Some(nl) = buf[scanned..limit]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| scanned + i)
    else {
        if buf.len() > limits.max_inline {
            return Err(ProtocolError::InlineTooLong);
        }
        p.pos = buf.len();
        return Ok(Parsed::Incomplete);
    };
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let argc = line
        .split(|&b| is_blank(b))
        .filter(|t| !t.is_empty())
        .count();
    if argc == 0 {
        return Ok(Parsed::Empty(nl + 1));
    }
    let command = Command {
        argc,
        body: line,
        inline: true,
    };
    Ok(Parsed::Command(command, nl + 1))
}

/// Separators of inline arguments. Quotes are not interpreted (Redis's `sdssplitargs` does):
/// `SET k "a b"` is four arguments here.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

fn trim_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    &s[start..]
}

/// A strict decimal `i64`, as Redis's `string2ll` reads one: an optional `-`, then digits
/// with no leading zero (but `0` itself); no spaces, no `+`, no `-0`, no overflow. Used for
/// count lines and for what `INCR` accepts as a stored number.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] if !neg => return Some(0),
        [b'0', ..] => return None,
        _ if digits.len() > 19 => return None,
        _ => {}
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        // Accumulating negative numbers downwards reaches i64::MIN without overflowing.
        n = n.checked_mul(10)?;
        n = if neg {
            n.checked_sub(d)?
        } else {
            n.checked_add(d)?
        };
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(mut buf: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut out = Vec::new();
        let mut p = Progress::default();
        loop {
            match parse(buf, &mut p, &Limits::default())? {
                Parsed::Command(c, n) => {
                    assert_eq!(c.args().len(), c.argc());
                    out.push(c.args().map(<[u8]>::to_vec).collect());
                    buf = &buf[n..];
                }
                Parsed::Empty(n) => buf = &buf[n..],
                Parsed::Incomplete => return Ok(out),
            }
        }
    }

    fn strs(v: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        v.iter()
            .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect()
    }

    #[test]
    fn multibulk_and_inline() {
        let got = all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n  SET  a\tb \r\n*0\r\n\r\nQUIT\n");
        assert_eq!(
            got.unwrap(),
            strs(&[&["GET", "k"], &["PING"], &["SET", "a", "b"], &["QUIT"]])
        );
        let got = all(b"*1\r\n$0\r\n\r\n*-1\r\n*2\r\n$4\r\na\r\nb\r\n$0\r\n\r\n");
        assert_eq!(got.unwrap(), strs(&[&[""], &["a\r\nb", ""]]));
    }

    #[test]
    fn binary_bulk_data() {
        let got = all(b"*2\r\n$4\r\n\r\n\0\xff\r\n$1\r\n*\r\n").unwrap();
        assert_eq!(got, vec![vec![b"\r\n\0\xff".to_vec(), b"*".to_vec()]]);
    }

    #[test]
    fn every_split_gives_the_same_commands() {
        let input: &[u8] =
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\nPING hi\r\n*1\r\n$4\r\nPING\r\n";
        let whole = all(input).unwrap();
        assert_eq!(whole.len(), 3);
        for cut in 0..=input.len() {
            assert_eq!(fed(input, cut), (whole.clone(), None), "cut at {cut}");
        }
    }

    #[test]
    fn errors() {
        let e = |b: &[u8]| parse(b, &mut Progress::default(), &Limits::default()).unwrap_err();
        assert_eq!(e(b"*x\r\n"), ProtocolError::InvalidMultibulkLength);
        assert_eq!(e(b"*99999999\r\n"), ProtocolError::InvalidMultibulkLength);
        assert_eq!(e(b"*1\r\n+OK\r\n"), ProtocolError::ExpectedBulk(b'+'));
        assert_eq!(e(b"*1\r\n$-1\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(
            e(b"*1\r\n$99999999999\r\n"),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            e(b"*1\r\n$99999999999999999999999\r\n"),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(e(b"*1\r\n$1\r\nab\r\n"), ProtocolError::ExpectedCrlf);
        assert_eq!(e(b"*1\rx"), ProtocolError::ExpectedCrlf);
        assert_eq!(e(&[b'*'; 70_000]), ProtocolError::CountTooLong);
        assert_eq!(e(&[b'a'; 70_000]), ProtocolError::InlineTooLong);
        assert_eq!(
            ProtocolError::ExpectedBulk(b'\n').to_string(),
            "expected '$', got '\\n'"
        );
    }

    #[test]
    fn oversized_bulk_fails_before_its_data() {
        let limits = Limits {
            max_bulk: 10,
            ..Limits::default()
        };
        let mut p = Progress::default();
        let r = parse(b"*1\r\n$11\r\n", &mut p, &limits);
        assert_eq!(r, Err(ProtocolError::InvalidBulkLength));
        assert_eq!(p, Progress::default());
        let r = parse(b"*1\r\n$10\r\n", &mut p, &limits);
        assert_eq!(r, Ok(Parsed::Incomplete));
    }

    #[test]
    fn ints() {
        for (s, v) in [
            ("0", Some(0)),
            ("-5", Some(-5)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-0", None),
            ("007", None),
            ("", None),
            ("-", None),
            ("+1", None),
            (" 1", None),
        ] {
            assert_eq!(parse_int(s.as_bytes()), v, "{s}");
        }
    }

    /// Parses `buf` fed in two parts, cut at `cut`, as the engine would show them: the
    /// commands found and the error (if any).
    fn fed(buf: &[u8], cut: usize) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut p = Progress::default();
        let mut got = Vec::new();
        let mut start = 0;
        for end in [cut, buf.len()] {
            loop {
                match parse(&buf[start..end], &mut p, &Limits::default()) {
                    Ok(Parsed::Command(c, n)) => {
                        got.push(c.args().map(<[u8]>::to_vec).collect());
                        start += n;
                    }
                    Ok(Parsed::Empty(n)) => start += n,
                    Ok(Parsed::Incomplete) => break,
                    Err(e) => return (got, Some(e)),
                }
            }
        }
        (got, None)
    }

    #[test]
    fn noise_never_panics_and_splits_do_not_matter() {
        // A cheap deterministic fuzz: random bytes biased towards RESP's punctuation, parsed
        // whole and cut at a random point; both must agree.
        let alphabet = b"*$\r\n0123456789-aZ \r\n$*1";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..50_000 {
            let len = rand() % 48;
            let buf: Vec<u8> = (0..len)
                .map(|_| alphabet[(rand() % alphabet.len() as u64) as usize])
                .collect();
            let cut = (rand() % (len + 1)) as usize;
            assert_eq!(fed(&buf, cut), fed(&buf, buf.len()), "{buf:?} cut at {cut}");
        }
    }
}

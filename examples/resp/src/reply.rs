//! RESP2 replies, written straight into the connection's outbound bytes with no allocation:
//! fixed replies are constants, numbers are formatted on the stack, bulk data is copied once
//! from where it lies (the store or the request).

pub use loopwire_examples::Sink;

/// `+OK`
pub const OK: &[u8] = b"+OK\r\n";
/// `+PONG`
pub const PONG: &[u8] = b"+PONG\r\n";
/// The null bulk string (a missing key).
pub const NIL: &[u8] = b"$-1\r\n";
/// An empty array.
pub const EMPTY_ARRAY: &[u8] = b"*0\r\n";
/// The null array (`LPOP key count` on a missing key).
pub const NIL_ARRAY: &[u8] = b"*-1\r\n";
/// A command met a key holding another kind of value.
pub const WRONGTYPE: &[u8] =
    b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
/// `-ERR value is not an integer or out of range`.
pub const NOT_AN_INTEGER: &str = "value is not an integer or out of range";
/// `-ERR syntax error`.
pub const SYNTAX: &str = "syntax error";
/// `-ERR value is out of range, must be positive` (a negative count).
pub const NOT_POSITIVE: &str = "value is out of range, must be positive";

/// Longest error message text [`error_quoting`] copies from a peer's bytes (Redis: 128).
const QUOTE_MAX: usize = 128;

/// `n` in decimal, written at the end of `buf`; returns the digits (and sign).
pub fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    // `-9223372036854775808` is 20 characters.
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        // `v % 10 < 10`: the cast cannot truncate.
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// `prefix` (`b':'`, `b'$'`, `b'*'`) then `n` then CRLF.
fn tagged_int(out: &mut impl Sink, prefix: u8, n: i64) {
    let mut digits = [0u8; 20];
    let digits = decimal(n, &mut digits);
    let mut buf = [0u8; 23];
    buf[0] = prefix;
    buf[1..=digits.len()].copy_from_slice(digits);
    buf[digits.len() + 1..digits.len() + 3].copy_from_slice(b"\r\n");
    out.put(&buf[..digits.len() + 3]);
}

/// An integer reply, `:<n>`.
pub fn int(out: &mut impl Sink, n: i64) {
    tagged_int(out, b':', n);
}

/// An array header, `*<n>`; the `n` elements follow.
pub fn array(out: &mut impl Sink, n: usize) {
    tagged_int(out, b'*', i64::try_from(n).unwrap_or(i64::MAX));
}

/// A bulk string, `$<len>` then the bytes.
pub fn bulk(out: &mut impl Sink, data: &[u8]) {
    tagged_int(out, b'$', i64::try_from(data.len()).unwrap_or(i64::MAX));
    out.put(data);
    out.put(b"\r\n");
}

/// A score as Redis 7.0 writes one (`%.17g`, `inf`, `-inf`), as a bulk string.
pub fn double(out: &mut impl Sink, d: f64) {
    let mut buf = [0u8; 32];
    let n = format_double(d, &mut buf);
    bulk(out, &buf[..n]);
}

/// Writes `d` as C's `printf("%.17g")` does into `buf`; returns the length. Infinities are
/// `inf` and `-inf`, as Redis writes them.
pub fn format_double(d: f64, buf: &mut [u8; 32]) -> usize {
    use std::io::Write;
    let mut w = &mut buf[..];
    let total = w.len();
    // 32 bytes hold every case: 17 digits, sign, point, `e-308`.
    let _ = if d.is_infinite() {
        w.write_all(if d > 0.0 { b"inf" } else { b"-inf" })
    } else {
        // The exponent `%g` decides with is the one of the `%e` form at 17 digits.
        let e = format!("{d:.16e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if !(-4..17).contains(&exp) {
            let m = strip_zeros(mantissa);
            let sign = if exp < 0 { '-' } else { '+' };
            write!(w, "{m}e{sign}{:02}", exp.unsigned_abs())
        } else {
            // 17 significant digits: `16 - exp` after the point (0..=20 here).
            let fixed = format!("{d:.*}", usize::try_from(16 - exp).unwrap_or(0));
            w.write_all(strip_zeros(&fixed).as_bytes())
        }
    };
    total - w.len()
}

/// `1.500` -> `1.5`, `3.000` -> `3`; a number without a point is left as it is.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A bulk string or the null bulk string.
pub fn bulk_or_nil(out: &mut impl Sink, data: Option<&[u8]>) {
    match data {
        Some(d) => bulk(out, d),
        None => out.put(NIL),
    }
}

/// An error reply, `-ERR <msg>` (`msg` is ours: no CR or LF).
pub fn error(out: &mut impl Sink, msg: &str) {
    out.put(b"-ERR ");
    out.put(msg.as_bytes());
    out.put(b"\r\n");
}

/// `-ERR <before>'<quoted>'<after>`, where `quoted` comes from the peer: cut to 128 bytes,
/// CR and LF turned into spaces (as Redis does) so it cannot end the line early.
pub fn error_quoting(out: &mut impl Sink, before: &str, quoted: &[u8], after: &str) {
    error_peer(out, before, b"'", quoted, after);
}

/// `-ERR <before><peer><after>`: as [`error_quoting`], without the quotes.
pub fn error_unquoted(out: &mut impl Sink, before: &str, peer: &[u8], after: &str) {
    error_peer(out, before, b"", peer, after);
}

fn error_peer(out: &mut impl Sink, before: &str, quote: &[u8], peer: &[u8], after: &str) {
    let mut buf = [0u8; QUOTE_MAX];
    let n = peer.len().min(QUOTE_MAX);
    for (dst, &src) in buf.iter_mut().zip(&peer[..n]) {
        *dst = if matches!(src, b'\r' | b'\n') {
            b' '
        } else {
            src
        };
    }
    out.put(b"-ERR ");
    out.put(before.as_bytes());
    out.put(quote);
    out.put(&buf[..n]);
    out.put(quote);
    out.put(after.as_bytes());
    out.put(b"\r\n");
}

/// An error reply with its own code, `-<msg>` (`msg` is ours: no CR or LF).
pub fn error_code(out: &mut impl Sink, msg: &str) {
    out.put(b"-");
    out.put(msg.as_bytes());
    out.put(b"\r\n");
}

/// `-ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(out: &mut impl Sink, name: &str) {
    error_quoting(
        out,
        "wrong number of arguments for ",
        name.as_bytes(),
        " command",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (n, s) in [
            (0, ":0\r\n"),
            (7, ":7\r\n"),
            (-42, ":-42\r\n"),
            (i64::MAX, ":9223372036854775807\r\n"),
            (i64::MIN, ":-9223372036854775808\r\n"),
        ] {
            let mut v = Vec::new();
            int(&mut v, n);
            assert_eq!(v, s.as_bytes());
        }
        let mut v = Vec::new();
        array(&mut v, 3);
        bulk(&mut v, b"hi");
        bulk_or_nil(&mut v, None);
        assert_eq!(v, b"*3\r\n$2\r\nhi\r\n$-1\r\n");
    }

    #[test]
    fn doubles_as_printf_17g() {
        for (d, s) in [
            (0.0, "0"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1.1, "1.1000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-5e-324, "-4.9406564584124654e-324"),
        ] {
            let mut buf = [0u8; 32];
            let n = format_double(d, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), s, "{d}");
        }
    }

    #[test]
    fn quoted_peer_bytes_stay_on_one_line() {
        let mut v = Vec::new();
        error_quoting(&mut v, "unknown command ", b"x\r\n+OK", "");
        assert_eq!(v, b"-ERR unknown command 'x  +OK'\r\n");
        let mut v = Vec::new();
        error_quoting(&mut v, "", &[b'a'; 300], "");
        assert_eq!(v.len(), "-ERR ''\r\n".len() + 128);
    }
}

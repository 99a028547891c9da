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
    let mut buf = [0u8; QUOTE_MAX];
    let n = quoted.len().min(QUOTE_MAX);
    for (dst, &src) in buf.iter_mut().zip(&quoted[..n]) {
        *dst = if matches!(src, b'\r' | b'\n') {
            b' '
        } else {
            src
        };
    }
    out.put(b"-ERR ");
    out.put(before.as_bytes());
    out.put(b"'");
    out.put(&buf[..n]);
    out.put(b"'");
    out.put(after.as_bytes());
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
    fn quoted_peer_bytes_stay_on_one_line() {
        let mut v = Vec::new();
        error_quoting(&mut v, "unknown command ", b"x\r\n+OK", "");
        assert_eq!(v, b"-ERR unknown command 'x  +OK'\r\n");
        let mut v = Vec::new();
        error_quoting(&mut v, "", &[b'a'; 300], "");
        assert_eq!(v.len(), "-ERR ''\r\n".len() + 128);
    }
}

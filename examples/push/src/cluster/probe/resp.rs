//! Reply framing for the in-loop client: where one RESP reply ends in the bytes received so
//! far. The reply itself is parsed by the `redis` crate ([`redis::parse_redis_value`]); this
//! only tells a complete reply from a partial one, which a parser handed a buffer cannot.

/// A reply that is not RESP.
#[derive(Debug, thiserror::Error)]
#[error("malformed RESP reply")]
pub(crate) struct Malformed;

/// The length of the RESP2 or RESP3 reply at the start of `buf` if all of it is there,
/// `Ok(None)` while bytes are missing.
///
/// # Errors
/// [`Malformed`]: an unknown type byte or a length that is not a number.
pub(crate) fn reply_len(buf: &[u8]) -> Result<Option<usize>, Malformed> {
    let mut pos = 0;
    // Replies still to skip: 1, plus the elements of every aggregate header seen.
    let mut pending: usize = 1;
    while pending > 0 {
        let Some(eol) = buf
            .get(pos..)
            .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
        else {
            return Ok(None);
        };
        let (kind, line) = match buf.get(pos..pos + eol) {
            Some([kind, line @ ..]) => (*kind, line),
            _ => return Err(Malformed),
        };
        pos += eol + 2;
        pending -= 1;
        let len = || -> Result<i64, Malformed> {
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Malformed)
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => {}
            b'$' | b'!' | b'=' => {
                if let Ok(n) = usize::try_from(len()?) {
                    let end = pos.checked_add(n).and_then(|e| e.checked_add(2));
                    match end {
                        Some(end) if end <= buf.len() => pos = end,
                        Some(_) => return Ok(None),
                        None => return Err(Malformed),
                    }
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                if let Ok(n) = usize::try_from(len()?) {
                    let n = if matches!(kind, b'%' | b'|') {
                        n.checked_mul(2).ok_or(Malformed)?
                    } else {
                        n
                    };
                    pending = pending.checked_add(n).ok_or(Malformed)?;
                }
            }
            _ => return Err(Malformed),
        }
    }
    Ok(Some(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_replies_are_measured_and_every_prefix_waits() {
        let replies: [&[u8]; 7] = [
            b"+OK\r\n",
            b"-ERR no such key\r\n",
            b":42\r\n",
            b"$5\r\nhe\r\nl\r\n",
            b"$-1\r\n",
            b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n*0\r\n",
            b"*-1\r\n",
        ];
        for r in replies {
            assert_eq!(reply_len(r).expect("valid"), Some(r.len()), "{r:?}");
            for cut in 0..r.len() {
                assert_eq!(
                    reply_len(&r[..cut]).expect("valid"),
                    None,
                    "{r:?} cut at {cut}"
                );
            }
            let mut two = r.to_vec();
            two.extend_from_slice(b":7\r\n");
            assert_eq!(reply_len(&two).expect("valid"), Some(r.len()));
            assert!(redis::parse_redis_value(&two[..r.len()]).is_ok(), "{r:?}");
        }
        assert!(reply_len(b"?x\r\n").is_err());
        assert!(reply_len(b"$x\r\n").is_err());
        assert!(reply_len(b"*99999999999999999999\r\n").is_err());
    }
}

//! What every command family shares: the [`Ctx`] a command runs in (the store, the time, the
//! connection's [`Session`]), argument helpers, and Redis's common error replies.

use crate::parse::{Args, parse_int};
use crate::reply::{self, Sink};
use crate::store::{Store, WrongType};

/// Per-connection command state (`CLIENT SETNAME`).
#[derive(Debug, Default, Clone)]
pub struct Session {
    /// The name set with `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
}

/// What a command runs against.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The shared key space.
    pub store: &'a Store,
    /// The engine's time in milliseconds ([`Conn::now`](loopwire::Conn::now)), for expiry.
    pub now: u64,
    /// The connection's state.
    pub session: &'a mut Session,
}

/// The arguments if there are exactly `N`.
pub fn exact<'a, const N: usize>(mut args: Args<'a>) -> Option<[&'a [u8]; N]> {
    if args.len() != N {
        return None;
    }
    let mut out = [&[][..]; N];
    for slot in &mut out {
        *slot = args.next()?;
    }
    Some(out)
}

/// A strict decimal `i64` argument (Redis's `string2ll`).
pub fn int(arg: &[u8]) -> Option<i64> {
    parse_int(arg)
}

/// `-WRONGTYPE ...`
pub fn wrong_type(out: &mut impl Sink, _: WrongType) {
    out.put(reply::WRONGTYPE);
}

/// Resolves Redis's `start stop` (negative counts from the end) against `len`: the first index
/// and how many elements, `None` for an empty range.
pub fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        start.saturating_add(len_i)
    } else {
        start
    }
    .max(0);
    let stop = if stop < 0 {
        stop.saturating_add(len_i)
    } else {
        stop
    }
    .min(len_i - 1);
    if start > stop || start >= len_i {
        return None;
    }
    // Both within 0..len here.
    let first = usize::try_from(start).ok()?;
    let last = usize::try_from(stop).ok()?;
    Some((first, last - first + 1))
}

/// A command's reply was an error, already written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replied;

/// The optional `count` argument of `LPOP`/`RPOP`/`SPOP`/`ZPOPMIN`: `Ok(None)` if absent.
///
/// # Errors
/// [`Replied`] after writing the error reply (not a number, negative, or too many
/// arguments).
pub fn pop_count(
    mut rest: Args<'_>,
    name: &str,
    out: &mut impl Sink,
) -> Result<Option<usize>, Replied> {
    match (rest.next(), rest.next()) {
        (None, _) => Ok(None),
        (Some(c), None) => match int(c).and_then(|c| usize::try_from(c).ok()) {
            Some(c) => Ok(Some(c)),
            None => {
                reply::error(out, reply::NOT_POSITIVE);
                Err(Replied)
            }
        },
        (Some(_), Some(_)) => {
            reply::wrong_arity(out, name);
            Err(Replied)
        }
    }
}

/// An element count as a reply integer.
pub fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(range(0, -1, 5), Some((0, 5)));
        assert_eq!(range(-2, -1, 5), Some((3, 2)));
        assert_eq!(range(-100, 1, 5), Some((0, 2)));
        assert_eq!(range(3, 100, 5), Some((3, 2)));
        assert_eq!(range(5, 10, 5), None);
        assert_eq!(range(2, 1, 5), None);
        assert_eq!(range(0, -1, 0), None);
        assert_eq!(range(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(range(-1, i64::MIN, 3), None);
    }
}

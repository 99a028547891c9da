//! The inbound path's bookkeeping, apart from sockets: which bytes the handler sees on each
//! read, and what is kept for the next one.
//!
//! The loop reads into its shared buffer and calls [`deliver`] with the bytes it got. When the
//! connection has no leftovers (the common case) the handler sees those bytes in place, and
//! only what it leaves unread is copied into the connection's [`Spill`]. When leftovers exist,
//! the fresh bytes join them and the handler sees everything as one slice. [`redeliver`] shows
//! the leftovers alone (a `wake`). Either way the handler says how many bytes it consumed, and
//! exactly the rest is there at the next call. The property suite in `loopwire-verify` drives
//! these functions with any split of a stream into reads and any pattern of partial
//! consumption.

#![cfg_attr(not(feature = "internals"), allow(unreachable_pub))]

use loopwire_ringbuf::BufferPool;

use crate::reactor::spill::Spill;

/// Keeping the bytes the handler left unread would pass the connection's inbound limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Shows `fresh` (just read) to `handler`, after the connection's leftovers in `spill`, and
/// keeps what it does not consume (its return value, clamped to what it was shown).
///
/// With no leftovers the handler runs on `fresh` itself, and only its unread tail is copied.
/// On [`Overflow`] the handler may or may not have run: when leftovers plus `fresh` already
/// pass `max` it is not called at all (the connection is closed by the caller); when its
/// unread tail alone passes `max`, it has run (and what it wrote should still be flushed).
pub fn deliver(
    spill: &mut Spill,
    pool: &mut BufferPool,
    fresh: &[u8],
    max: usize,
    handler: impl FnOnce(&[u8]) -> usize,
) -> Result<(), Overflow> {
    if spill.is_empty() {
        let consumed = handler(fresh).min(fresh.len());
        let rest = &fresh[consumed..];
        if rest.is_empty() || (rest.len() <= max && spill.push(pool, rest)) {
            return Ok(());
        }
        return Err(Overflow);
    }
    if spill.len() + fresh.len() > max || !spill.push(pool, fresh) {
        return Err(Overflow);
    }
    redeliver(spill, pool, handler);
    Ok(())
}

/// Shows the connection's leftovers (possibly none) to `handler` as one slice and drops what it
/// consumes.
pub fn redeliver(spill: &mut Spill, pool: &mut BufferPool, handler: impl FnOnce(&[u8]) -> usize) {
    spill.make_contiguous();
    let shown = spill.contiguous();
    let consumed = handler(shown).min(shown.len());
    spill.discard(pool, consumed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopwire_ringbuf::Config;

    fn pool() -> BufferPool {
        BufferPool::new(Config::builder().initial(16).max(64).build().unwrap(), 32)
    }

    #[test]
    fn unread_bytes_are_shown_again_before_new_ones() {
        let (mut pool, mut spill) = (pool(), Spill::default());
        let mut seen = Vec::new();
        deliver(&mut spill, &mut pool, b"hello", 64, |b| {
            seen.push(b.to_vec());
            2
        })
        .unwrap();
        deliver(&mut spill, &mut pool, b" world", 64, |b| {
            seen.push(b.to_vec());
            b.len()
        })
        .unwrap();
        assert_eq!(seen, [b"hello".to_vec(), b"llo world".to_vec()]);
        assert!(spill.is_empty());
    }

    #[test]
    fn a_handler_claiming_too_much_consumes_what_it_saw() {
        let (mut pool, mut spill) = (pool(), Spill::default());
        deliver(&mut spill, &mut pool, b"abc", 64, |_| 100).unwrap();
        assert!(spill.is_empty());
        assert!(deliver(&mut spill, &mut pool, b"abc", 64, |_| 1).is_ok());
        redeliver(&mut spill, &mut pool, |b| {
            assert_eq!(b, b"bc");
            usize::MAX
        });
        assert!(spill.is_empty());
    }

    #[test]
    fn leftovers_past_the_limit_overflow() {
        let (mut pool, mut spill) = (pool(), Spill::default());
        // The unread tail alone is too big: the handler ran, then overflow.
        let mut ran = false;
        let r = deliver(&mut spill, &mut pool, &[7; 10], 4, |_| {
            ran = true;
            0
        });
        assert_eq!((r, ran), (Err(Overflow), true));
        // Leftovers plus fresh bytes pass the limit: the handler is not called.
        let mut spill = Spill::default();
        deliver(&mut spill, &mut pool, &[1; 3], 4, |_| 0).unwrap();
        let r = deliver(&mut spill, &mut pool, &[2; 2], 4, |_| unreachable!());
        assert_eq!(r, Err(Overflow));
    }
}

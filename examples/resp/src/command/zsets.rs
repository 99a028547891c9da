//! Sorted-set commands: `ZADD` (with `NX`/`XX`/`GT`/`LT`/`CH`/`INCR`), `ZPOPMIN`, `ZCARD`,
//! `ZRANGE key start stop [WITHSCORES]` (by rank; `BYSCORE`, `BYLEX`, `REV` and `LIMIT` are
//! not supported). A sorted set emptied by `ZPOPMIN` disappears.

use crate::parse::Args;
use crate::reply::{self, Sink};
use crate::store::{Value, ZSet};

use super::ctx::{Ctx, count, int, pop_count, range, wrong_type};

/// A score argument: what `strtod` reads, NaN refused.
fn score(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    let d: f64 = s.parse().ok()?;
    (!d.is_nan()).then_some(d)
}

/// `ZADD` flags.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member...]`: members added
/// (or changed, with `CH`); with `INCR` the new score (nil if a condition stopped it).
pub fn zadd(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    if args.len() < 3 {
        return reply::wrong_arity(out, "zadd");
    }
    let Some(key) = args.next() else {
        return reply::wrong_arity(out, "zadd");
    };
    let mut f = Flags::default();
    let mut pairs = args.clone();
    while let Some(opt) = args.next() {
        let is = |s: &[u8]| opt.eq_ignore_ascii_case(s);
        let flag = if is(b"NX") {
            &mut f.nx
        } else if is(b"XX") {
            &mut f.xx
        } else if is(b"GT") {
            &mut f.gt
        } else if is(b"LT") {
            &mut f.lt
        } else if is(b"CH") {
            &mut f.ch
        } else if is(b"INCR") {
            &mut f.incr
        } else {
            break;
        };
        *flag = true;
        pairs = args.clone();
    }
    let n = pairs.len();
    if n == 0 || !n.is_multiple_of(2) {
        return reply::error(out, reply::SYNTAX);
    }
    if f.nx && f.xx {
        return reply::error(out, "XX and NX options at the same time are not compatible");
    }
    if (f.gt && f.lt) || (f.nx && (f.gt || f.lt)) {
        return reply::error(
            out,
            "GT, LT, and/or NX options at the same time are not compatible",
        );
    }
    if f.incr && n > 2 {
        return reply::error(out, "INCR option supports a single increment-element pair");
    }
    // Every score is checked before anything changes.
    if pairs.clone().step_by(2).any(|s| score(s).is_none()) {
        return reply::error(out, "value is not a valid float");
    }
    let mut db = ctx.store.db(key);
    let r = db.upsert(
        key,
        ctx.now,
        || Value::Zset(ZSet::default()),
        |v| {
            let z = v.zset()?;
            Ok(add_pairs(z, pairs, f))
        },
    );
    match r {
        Err(e) => wrong_type(out, e),
        Ok(Added::Count(c)) => reply::int(out, count(c)),
        Ok(Added::Score(Some(s))) => reply::double(out, s),
        Ok(Added::Score(None)) => out.put(reply::NIL),
        Ok(Added::Nan) => reply::error(out, "resulting score is not a number (NaN)"),
    }
}

/// What `ZADD` did.
enum Added {
    /// Members added (or changed, with `CH`).
    Count(usize),
    /// `INCR`: the new score, `None` if a condition stopped it.
    Score(Option<f64>),
    /// `INCR` made NaN (`inf` + `-inf`): nothing changed.
    Nan,
}

fn add_pairs(z: &mut ZSet, mut pairs: Args<'_>, f: Flags) -> Added {
    let mut counted = 0;
    let mut last = None;
    while let (Some(s), Some(member)) = (pairs.next(), pairs.next()) {
        let Some(mut s) = score(s) else { continue };
        let old = z.score(member);
        if let (true, Some(o)) = (f.incr, old) {
            s += o;
            if s.is_nan() {
                return Added::Nan;
            }
        }
        let allowed = match old {
            None => !f.xx,
            Some(o) => !(f.nx || f.gt && s <= o || f.lt && s >= o),
        };
        if !allowed {
            continue;
        }
        z.insert(member, s);
        last = Some(s);
        match old {
            None => counted += 1,
            Some(o) if f.ch && o != s => counted += 1,
            _ => {}
        }
    }
    if f.incr {
        Added::Score(last)
    } else {
        Added::Count(counted)
    }
}

/// `ZPOPMIN key [count]`: member, score pairs, flat, lowest first.
pub fn zpopmin(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let Some(key) = args.next() else {
        return reply::wrong_arity(out, "zpopmin");
    };
    let Ok(n) = pop_count(args, "zpopmin", out) else {
        return;
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let z = v.zset()?;
        let want = n.unwrap_or(1).min(z.len());
        reply::array(out, want * 2);
        for _ in 0..want {
            if let Some((m, s)) = z.pop_min() {
                reply::bulk(out, &m);
                reply::double(out, s);
            }
        }
        Ok(())
    });
    match r {
        Some(Ok(())) => {}
        Some(Err(e)) => wrong_type(out, e),
        None => out.put(reply::EMPTY_ARRAY),
    }
}

/// `ZCARD key`.
pub fn zcard(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let (Some(key), None) = (args.next(), args.next()) else {
        return reply::wrong_arity(out, "zcard");
    };
    match ctx
        .store
        .db(key)
        .modify(key, ctx.now, |v| v.zset().map(|z| z.len()))
    {
        Some(Ok(n)) => reply::int(out, count(n)),
        Some(Err(e)) => wrong_type(out, e),
        None => reply::int(out, 0),
    }
}

/// `ZRANGE key start stop [WITHSCORES]`, by rank, negative ranks from the end.
pub fn zrange(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let (Some(key), Some(start), Some(stop)) = (args.next(), args.next(), args.next()) else {
        return reply::wrong_arity(out, "zrange");
    };
    let scores = match (args.next(), args.next()) {
        (None, _) => false,
        (Some(w), None) if w.eq_ignore_ascii_case(b"WITHSCORES") => true,
        _ => return reply::error(out, reply::SYNTAX),
    };
    let (Some(start), Some(stop)) = (int(start), int(stop)) else {
        return reply::error(out, reply::NOT_AN_INTEGER);
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let z = v.zset()?;
        match range(start, stop, z.len()) {
            None => out.put(reply::EMPTY_ARRAY),
            Some((first, n)) => {
                reply::array(out, if scores { n * 2 } else { n });
                for (m, s) in z.range(first, n) {
                    reply::bulk(out, m);
                    if scores {
                        reply::double(out, s);
                    }
                }
            }
        }
        Ok(())
    });
    match r {
        Some(Ok(())) => {}
        Some(Err(e)) => wrong_type(out, e),
        None => out.put(reply::EMPTY_ARRAY),
    }
}

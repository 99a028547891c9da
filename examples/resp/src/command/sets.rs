//! Set commands: `SADD`, `SPOP` (with an optional count), `SCARD`, `SMEMBERS`. A set emptied
//! by `SPOP` disappears. `SPOP` takes members in the set's iteration order, which std's
//! randomly keyed hashing makes arbitrary (Redis picks them at random).

use std::collections::HashSet;

use crate::parse::Args;
use crate::reply::{self, Sink};
use crate::store::Value;

use super::ctx::{Ctx, count, exact, pop_count, wrong_type};

/// `SADD key member...`: how many were new.
pub fn sadd(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let Some(key) = args.next().filter(|_| args.len() > 0) else {
        return reply::wrong_arity(out, "sadd");
    };
    let r = ctx.store.db(key).upsert(
        key,
        ctx.now,
        || Value::Set(HashSet::new()),
        |v| {
            let set = v.set()?;
            // A member already there costs a lookup, not a copy of it.
            Ok(args
                .filter(|m| !set.contains(*m) && set.insert(m.to_vec()))
                .count())
        },
    );
    match r {
        Ok(n) => reply::int(out, count(n)),
        Err(e) => wrong_type(out, e),
    }
}

/// `SPOP key [count]`: one member (or nil), or with a count an array of up to that many.
pub fn spop(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let Some(key) = args.next() else {
        return reply::wrong_arity(out, "spop");
    };
    let Ok(n) = pop_count(args, "spop", out) else {
        return;
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let set = v.set()?;
        let want = n.unwrap_or(1).min(set.len());
        let popped: Vec<Vec<u8>> = set.iter().take(want).cloned().collect();
        for m in &popped {
            set.remove(m);
        }
        match n {
            None => reply::bulk_or_nil(out, popped.first().map(Vec::as_slice)),
            Some(_) => {
                reply::array(out, popped.len());
                for m in &popped {
                    reply::bulk(out, m);
                }
            }
        }
        Ok(())
    });
    match (r, n) {
        (Some(Ok(())), _) => {}
        (Some(Err(e)), _) => wrong_type(out, e),
        (None, None) => out.put(reply::NIL),
        (None, Some(_)) => out.put(reply::EMPTY_ARRAY),
    }
}

/// `SCARD key`.
pub fn scard(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "scard");
    };
    match ctx
        .store
        .db(key)
        .modify(key, ctx.now, |v| v.set().map(|s| s.len()))
    {
        Some(Ok(n)) => reply::int(out, count(n)),
        Some(Err(e)) => wrong_type(out, e),
        None => reply::int(out, 0),
    }
}

/// `SMEMBERS key`.
pub fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "smembers");
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let set = v.set()?;
        reply::array(out, set.len());
        for m in set.iter() {
            reply::bulk(out, m);
        }
        Ok(())
    });
    match r {
        Some(Ok(())) => {}
        Some(Err(e)) => wrong_type(out, e),
        None => out.put(reply::EMPTY_ARRAY),
    }
}

//! Key-space commands: `DEL`, `EXISTS`, `TYPE`, `EXPIRE`, `PEXPIRE`, `TTL`, `PTTL`,
//! `PERSIST`, `DBSIZE`, `FLUSHALL`.

use crate::parse::Args;
use crate::reply::{self, Sink};
use crate::store::Value;

use super::ctx::{Ctx, count, exact, int};
use super::strings::invalid_expire;

/// `DEL key...` (`del`) or `EXISTS key...`: keys removed / existing (a repeated key counts
/// each time for `EXISTS`, once for `DEL`).
pub fn del_exists(ctx: &mut Ctx<'_>, args: Args<'_>, del: bool, out: &mut impl Sink) {
    if args.len() == 0 {
        return reply::wrong_arity(out, if del { "del" } else { "exists" });
    }
    let mut locked = ctx.store.lock_keys(args.clone());
    let hits = args
        .filter(|k| {
            locked.db(k).is_some_and(|db| {
                if del {
                    db.contains(k, ctx.now) && db.remove(k)
                } else {
                    db.contains(k, ctx.now)
                }
            })
        })
        .count();
    drop(locked);
    reply::int(out, count(hits));
}

/// `TYPE key`.
pub fn type_of(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "type");
    };
    let name: &[u8] = match ctx.store.db(key).get(key, ctx.now) {
        None => b"+none\r\n",
        Some(Value::Str(_)) => b"+string\r\n",
        Some(Value::List(_)) => b"+list\r\n",
        Some(Value::Set(_)) => b"+set\r\n",
        Some(Value::Hash(_)) => b"+hash\r\n",
        Some(Value::Zset(_)) => b"+zset\r\n",
    };
    out.put(name);
}

/// `EXPIRE key seconds [NX|XX|GT|LT]` (`unit` 1000, `name` "expire") or `PEXPIRE key ms
/// [...]` (1, "pexpire"): 1 if the time was set, 0 if there is no key or the condition
/// stopped it. A time not in the future deletes the key.
pub fn expire(ctx: &mut Ctx<'_>, mut args: Args<'_>, name: &str, unit: i64, out: &mut impl Sink) {
    let (Some(key), Some(n)) = (args.next(), args.next()) else {
        return reply::wrong_arity(out, name);
    };
    let Some(n) = int(n) else {
        return reply::error(out, reply::NOT_AN_INTEGER);
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args {
        let is = |s: &[u8]| opt.eq_ignore_ascii_case(s);
        if is(b"NX") {
            nx = true;
        } else if is(b"XX") {
            xx = true;
        } else if is(b"GT") {
            gt = true;
        } else if is(b"LT") {
            lt = true;
        } else {
            return reply::error_unquoted(out, "Unsupported option ", opt, "");
        }
    }
    if nx && (xx || gt || lt) {
        return reply::error(
            out,
            "NX and XX, GT or LT options at the same time are not compatible",
        );
    }
    if gt && lt {
        return reply::error(out, "GT and LT options at the same time are not compatible");
    }
    // The new time, in engine milliseconds; `None`: already past (delete). The engine's
    // time starts at 0, so a time before it is simply past.
    let Some(ms) = n.checked_mul(unit) else {
        return invalid_expire(out, name);
    };
    let now = i64::try_from(ctx.now).unwrap_or(i64::MAX);
    let Some(at) = now.checked_add(ms) else {
        return invalid_expire(out, name);
    };
    let at = u64::try_from(at).ok().filter(|&at| at > ctx.now);
    let mut db = ctx.store.db(key);
    let Some(current) = db.expiry(key, ctx.now) else {
        return reply::int(out, 0);
    };
    // No time counts as infinite for GT and LT, as in Redis.
    let new = at.unwrap_or(0);
    let allowed = !(nx && current.is_some()
        || xx && current.is_none()
        || gt && current.is_none_or(|c| new <= c)
        || lt && current.is_some_and(|c| new >= c));
    if !allowed {
        return reply::int(out, 0);
    }
    match at {
        Some(at) => db.set_expiry(key, Some(at)),
        None => db.remove(key),
    };
    reply::int(out, 1);
}

/// `TTL key` (`ms` false) or `PTTL key`: -2 if there is no key, -1 if it has no time,
/// else the time left (seconds rounded to nearest, as Redis does).
pub fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>, ms: bool, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, if ms { "pttl" } else { "ttl" });
    };
    let left = match ctx.store.db(key).expiry(key, ctx.now) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let left = i64::try_from(at.saturating_sub(ctx.now)).unwrap_or(i64::MAX);
            if ms {
                left
            } else {
                left.saturating_add(500) / 1000
            }
        }
    };
    reply::int(out, left);
}

/// `PERSIST key`: 1 if a time was removed.
pub fn persist(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "persist");
    };
    let mut db = ctx.store.db(key);
    let had = matches!(db.expiry(key, ctx.now), Some(Some(_)));
    if had {
        db.set_expiry(key, None);
    }
    reply::int(out, i64::from(had));
}

/// `DBSIZE`: keys (expired ones not yet removed included, as in Redis).
pub fn dbsize(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    match args.len() {
        0 => reply::int(out, count(ctx.store.len())),
        _ => reply::wrong_arity(out, "dbsize"),
    }
}

/// `FLUSHALL [ASYNC|SYNC]`.
pub fn flushall(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let n = args.len();
    match args.next() {
        Some(mode)
            if n > 1
                || !(mode.eq_ignore_ascii_case(b"ASYNC") || mode.eq_ignore_ascii_case(b"SYNC")) =>
        {
            reply::error(out, reply::SYNTAX);
        }
        _ => {
            ctx.store.clear();
            out.put(reply::OK);
        }
    }
}

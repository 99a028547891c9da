//! String commands: `SET` (with `EX`/`PX`/`NX`/`XX`/`KEEPTTL`/`GET`), `GET`, `INCR`,
//! `DECR`, `INCRBY`, `DECRBY`, `MSET`, `MGET`.

use crate::parse::Args;
use crate::reply::{self, Sink};
use crate::store::Value;

use super::ctx::{Ctx, exact, int, wrong_type};

/// When `SET` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetIf {
    Always,
    /// `NX`
    Absent,
    /// `XX`
    Present,
}

/// How `SET` treats the expiry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ttl {
    /// Cleared (no option).
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX`/`PX`: this many milliseconds from now (the argument as given, then its unit).
    In(&'static str, i64, i64),
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL]`.
pub fn set(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let (Some(key), Some(value)) = (args.next(), args.next()) else {
        return reply::wrong_arity(out, "set");
    };
    let mut cond = SetIf::Always;
    let mut ttl = Ttl::Clear;
    let mut get = false;
    while let Some(opt) = args.next() {
        let is = |s: &[u8]| opt.eq_ignore_ascii_case(s);
        if is(b"NX") && cond != SetIf::Present {
            cond = SetIf::Absent;
        } else if is(b"XX") && cond != SetIf::Absent {
            cond = SetIf::Present;
        } else if is(b"GET") {
            get = true;
        } else if is(b"KEEPTTL") && ttl == Ttl::Clear {
            ttl = Ttl::Keep;
        } else if (is(b"EX") || is(b"PX")) && ttl == Ttl::Clear {
            let Some(n) = args.next() else {
                return reply::error(out, reply::SYNTAX);
            };
            let Some(n) = int(n) else {
                return reply::error(out, reply::NOT_AN_INTEGER);
            };
            ttl = Ttl::In("set", n, if is(b"EX") { 1000 } else { 1 });
        } else if is(b"EXAT") || is(b"PXAT") {
            return reply::error_quoting(
                out,
                "SET option ",
                opt,
                " is not supported by this server (its clock is not the wall clock)",
            );
        } else {
            return reply::error(out, reply::SYNTAX);
        }
    }
    let at = match ttl {
        Ttl::In(name, n, unit) => match deadline(ctx.now, n, unit) {
            Some(at) => Some(at),
            None => return invalid_expire(out, name),
        },
        _ => None,
    };
    let mut db = ctx.store.db(key);
    if cond == SetIf::Always && !get {
        // The plain `SET key value`: one lookup, in `set_str` (after a due key is dropped, so
        // `KEEPTTL` does not keep a past time).
        db.expire_if_due(key, ctx.now);
        db.set_str(key, value, at, ttl == Ttl::Keep);
        return out.put(reply::OK);
    }
    let old = db.get(key, ctx.now);
    let exists = old.is_some();
    if get {
        match old.map(Value::str) {
            Some(Err(e)) => return wrong_type(out, e),
            Some(Ok(v)) => reply::bulk(out, v),
            None => out.put(reply::NIL),
        }
    }
    let write = match cond {
        SetIf::Always => true,
        SetIf::Absent => !exists,
        SetIf::Present => exists,
    };
    if write {
        db.set_str(key, value, at, ttl == Ttl::Keep);
    }
    if !get {
        out.put(if write { reply::OK } else { reply::NIL });
    }
}

/// `now + n * unit` milliseconds, if `n > 0` and nothing overflows.
pub fn deadline(now: u64, n: i64, unit: i64) -> Option<u64> {
    let ms = u64::try_from(n.checked_mul(unit)?)
        .ok()
        .filter(|&ms| ms > 0)?;
    now.checked_add(ms)
}

/// `-ERR invalid expire time in '<name>' command`.
pub fn invalid_expire(out: &mut impl Sink, name: &str) {
    reply::error_quoting(out, "invalid expire time in ", name.as_bytes(), " command");
}

/// `GET key`.
pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "get");
    };
    match ctx.store.db(key).get(key, ctx.now).map(Value::str) {
        Some(Ok(v)) => reply::bulk(out, v),
        Some(Err(e)) => wrong_type(out, e),
        None => out.put(reply::NIL),
    }
}

/// `INCR key` (`by` 1), `DECR key` (-1), `INCRBY key n` (`by` `None`, `sign` 1),
/// `DECRBY key n` (`sign` -1).
pub fn incr(
    ctx: &mut Ctx<'_>,
    mut args: Args<'_>,
    name: &str,
    by: Option<i64>,
    out: &mut impl Sink,
) {
    let want = if by.is_some() { 1 } else { 2 };
    if args.len() != want {
        return reply::wrong_arity(out, name);
    }
    let Some(key) = args.next() else {
        return reply::wrong_arity(out, name);
    };
    let delta = match by {
        Some(d) => d,
        None => match args.next().and_then(int) {
            Some(d) if name == "decrby" => match d.checked_neg() {
                Some(d) => d,
                None => return reply::error(out, "decrement would overflow"),
            },
            Some(d) => d,
            None => return reply::error(out, reply::NOT_AN_INTEGER),
        },
    };
    let mut db = ctx.store.db(key);
    let current = match db.get(key, ctx.now).map(Value::str) {
        None => 0,
        Some(Err(e)) => return wrong_type(out, e),
        Some(Ok(v)) => match int(v) {
            Some(n) => n,
            None => return reply::error(out, reply::NOT_AN_INTEGER),
        },
    };
    let Some(next) = current.checked_add(delta) else {
        return reply::error(out, "increment or decrement would overflow");
    };
    let mut digits = [0u8; 20];
    db.set_str(key, reply::decimal(next, &mut digits), None, true);
    reply::int(out, next);
}

/// `MSET key value [key value...]`: atomic, clears the keys' expiry times.
pub fn mset(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let n = args.len();
    if n == 0 || !n.is_multiple_of(2) {
        return reply::wrong_arity(out, "mset");
    }
    let mut locked = ctx.store.lock_keys(args.clone().step_by(2));
    while let (Some(key), Some(value)) = (args.next(), args.next()) {
        if let Some(db) = locked.db(key) {
            db.set_str(key, value, None, false);
        }
    }
    drop(locked);
    out.put(reply::OK);
}

/// `MGET key...`: nil for a missing key or one that is not a string.
pub fn mget(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    if args.len() == 0 {
        return reply::wrong_arity(out, "mget");
    }
    let mut locked = ctx.store.lock_keys(args.clone());
    reply::array(out, args.len());
    for key in args {
        let v = locked
            .db(key)
            .and_then(|db| db.get(key, ctx.now))
            .and_then(|v| v.str().ok());
        reply::bulk_or_nil(out, v);
    }
}

//! List commands: `LPUSH`, `RPUSH`, `LPOP`, `RPOP` (with an optional count), `LRANGE`,
//! `LLEN`. A list emptied by a pop disappears.

use std::collections::VecDeque;

use crate::parse::Args;
use crate::reply::{self, Sink};
use crate::store::Value;

use super::ctx::{Ctx, count, exact, int, pop_count, range, wrong_type};

/// `LPUSH key element...` (`left`) or `RPUSH`: the list's new length.
pub fn push(ctx: &mut Ctx<'_>, mut args: Args<'_>, left: bool, out: &mut impl Sink) {
    let name = if left { "lpush" } else { "rpush" };
    let Some(key) = args.next().filter(|_| args.len() > 0) else {
        return reply::wrong_arity(out, name);
    };
    let r = ctx.store.db(key).upsert(
        key,
        ctx.now,
        || Value::List(VecDeque::new()),
        |v| {
            let list = v.list()?;
            for e in args {
                if left {
                    list.push_front(e.to_vec());
                } else {
                    list.push_back(e.to_vec());
                }
            }
            Ok(list.len())
        },
    );
    match r {
        Ok(len) => reply::int(out, count(len)),
        Err(e) => wrong_type(out, e),
    }
}

/// `LPOP key [count]` (`left`) or `RPOP`: one element (or nil), or with a count an array of
/// up to that many (nil array if there is no list).
pub fn pop(ctx: &mut Ctx<'_>, mut args: Args<'_>, left: bool, out: &mut impl Sink) {
    let name = if left { "lpop" } else { "rpop" };
    let Some(key) = args.next() else {
        return reply::wrong_arity(out, name);
    };
    let Ok(n) = pop_count(args, name, out) else {
        return;
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let list = v.list()?;
        let mut take = || {
            if left {
                list.pop_front()
            } else {
                list.pop_back()
            }
        };
        match n {
            None => reply::bulk_or_nil(out, take().as_deref()),
            Some(n) => {
                let mut popped = Vec::new();
                while popped.len() < n {
                    match take() {
                        Some(e) => popped.push(e),
                        None => break,
                    }
                }
                reply::array(out, popped.len());
                for e in &popped {
                    reply::bulk(out, e);
                }
            }
        }
        Ok(())
    });
    match (r, n) {
        (Some(Ok(())), _) => {}
        (Some(Err(e)), _) => wrong_type(out, e),
        (None, None) => out.put(reply::NIL),
        (None, Some(_)) => out.put(reply::NIL_ARRAY),
    }
}

/// `LRANGE key start stop`: negative indexes count from the end.
pub fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key, start, stop]) = exact(args) else {
        return reply::wrong_arity(out, "lrange");
    };
    let (Some(start), Some(stop)) = (int(start), int(stop)) else {
        return reply::error(out, reply::NOT_AN_INTEGER);
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let list = v.list()?;
        match range(start, stop, list.len()) {
            None => out.put(reply::EMPTY_ARRAY),
            Some((first, n)) => {
                reply::array(out, n);
                for e in list.range(first..first + n) {
                    reply::bulk(out, e);
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

/// `LLEN key`.
pub fn llen(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "llen");
    };
    match ctx
        .store
        .db(key)
        .modify(key, ctx.now, |v| v.list().map(|l| l.len()))
    {
        Some(Ok(n)) => reply::int(out, count(n)),
        Some(Err(e)) => wrong_type(out, e),
        None => reply::int(out, 0),
    }
}

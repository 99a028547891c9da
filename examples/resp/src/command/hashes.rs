//! Hash commands: `HSET`, `HGET`, `HGETALL`.

use std::collections::HashMap;

use crate::parse::Args;
use crate::reply::{self, Sink};
use crate::store::Value;

use super::ctx::{Ctx, count, exact, wrong_type};

/// `HSET key field value [field value...]`: how many fields were new.
pub fn hset(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let Some(key) = args
        .next()
        .filter(|_| args.len() > 0 && args.len().is_multiple_of(2))
    else {
        return reply::wrong_arity(out, "hset");
    };
    let r = ctx.store.db(key).upsert(
        key,
        ctx.now,
        || Value::Hash(HashMap::new()),
        |v| {
            let hash = v.hash()?;
            let mut new = 0;
            while let (Some(f), Some(val)) = (args.next(), args.next()) {
                match hash.get_mut(f) {
                    Some(old) => {
                        old.clear();
                        old.extend_from_slice(val);
                    }
                    None => {
                        hash.insert(f.to_vec(), val.to_vec());
                        new += 1;
                    }
                }
            }
            Ok(new)
        },
    );
    match r {
        Ok(n) => reply::int(out, count(n)),
        Err(e) => wrong_type(out, e),
    }
}

/// `HGET key field`.
pub fn hget(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key, field]) = exact(args) else {
        return reply::wrong_arity(out, "hget");
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        reply::bulk_or_nil(out, v.hash()?.get(field).map(Vec::as_slice));
        Ok(())
    });
    match r {
        Some(Ok(())) => {}
        Some(Err(e)) => wrong_type(out, e),
        None => out.put(reply::NIL),
    }
}

/// `HGETALL key`: field, value, field, value...
pub fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut impl Sink) {
    let Some([key]) = exact(args) else {
        return reply::wrong_arity(out, "hgetall");
    };
    let mut db = ctx.store.db(key);
    let r = db.modify(key, ctx.now, |v| {
        let hash = v.hash()?;
        reply::array(out, hash.len() * 2);
        for (f, val) in hash.iter() {
            reply::bulk(out, f);
            reply::bulk(out, val);
        }
        Ok(())
    });
    match r {
        Some(Ok(())) => {}
        Some(Err(e)) => wrong_type(out, e),
        None => out.put(reply::EMPTY_ARRAY),
    }
}

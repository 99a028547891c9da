//! The commands: find one by name, check its arguments, run it against the
//! [`Store`](crate::store::Store), write its reply. Names are case-insensitive; replies and
//! error texts are Redis 7.0's.
//!
//! | family (module) | commands |
//! |---|---|
//! | [`strings`] | `SET key value [NX\|XX] [GET] [EX s\|PX ms\|KEEPTTL]`, `GET`, `INCR`, `DECR`, `INCRBY`, `DECRBY`, `MSET`, `MGET` |
//! | [`keys`] | `DEL`, `EXISTS`, `TYPE`, `EXPIRE`, `PEXPIRE` (`NX\|XX\|GT\|LT`), `TTL`, `PTTL`, `PERSIST`, `DBSIZE`, `FLUSHALL [ASYNC\|SYNC]` |
//! | [`lists`] | `LPUSH`, `RPUSH`, `LPOP [count]`, `RPOP [count]`, `LRANGE`, `LLEN` |
//! | [`sets`] | `SADD`, `SPOP [count]`, `SCARD`, `SMEMBERS` |
//! | [`hashes`] | `HSET`, `HGET`, `HGETALL` |
//! | [`zsets`] | `ZADD [NX\|XX] [GT\|LT] [CH] [INCR]`, `ZPOPMIN [count]`, `ZCARD`, `ZRANGE start stop [WITHSCORES]` |
//! | [`server`] | `PING [msg]`, `ECHO`, `SELECT 0`, `COMMAND [COUNT\|DOCS\|INFO\|LIST]`, `CONFIG GET`, `CLIENT SETNAME\|GETNAME\|ID\|SETINFO`, `INFO`, `QUIT` |
//!
//! Anything else: `-ERR unknown command '<name>', with args beginning with: ...`. A key
//! holding another kind of value: `-WRONGTYPE ...`. Collections emptied by a command are
//! deleted. [`ctx`] holds what the families share.

pub mod ctx;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod server;
pub mod sets;
pub mod strings;
pub mod zsets;

use crate::parse::Command;
use crate::reply::{self, Sink};

pub use ctx::{Ctx, Session};

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next command.
    Continue,
    /// Close once the replies are sent (`QUIT`).
    Close,
}

/// Number of commands served (`COMMAND COUNT`): the names matched in [`execute`].
pub const COMMAND_COUNT: usize = 43;

/// Longest command name: names are matched upper-cased in a buffer of this size.
const NAME_MAX: usize = 8;

/// Runs `cmd`, writing its reply to `out`.
pub fn execute(cmd: Command<'_>, ctx: &mut Ctx<'_>, out: &mut impl Sink) -> Next {
    let mut args = cmd.args();
    let Some(name) = args.next() else {
        return Next::Continue;
    };
    let mut upper = [0u8; NAME_MAX];
    let upper = match upper.get_mut(..name.len()) {
        Some(u) => {
            u.copy_from_slice(name);
            u.make_ascii_uppercase();
            &*u
        }
        None => &[][..],
    };
    match upper {
        b"GET" => strings::get(ctx, args, out),
        b"SET" => strings::set(ctx, args, out),
        b"PING" => server::ping(args, out),
        b"INCR" => strings::incr(ctx, args, "incr", Some(1), out),
        b"DECR" => strings::incr(ctx, args, "decr", Some(-1), out),
        b"INCRBY" => strings::incr(ctx, args, "incrby", None, out),
        b"DECRBY" => strings::incr(ctx, args, "decrby", None, out),
        b"MSET" => strings::mset(ctx, args, out),
        b"MGET" => strings::mget(ctx, args, out),
        b"LPUSH" => lists::push(ctx, args, true, out),
        b"RPUSH" => lists::push(ctx, args, false, out),
        b"LPOP" => lists::pop(ctx, args, true, out),
        b"RPOP" => lists::pop(ctx, args, false, out),
        b"LRANGE" => lists::lrange(ctx, args, out),
        b"LLEN" => lists::llen(ctx, args, out),
        b"SADD" => sets::sadd(ctx, args, out),
        b"SPOP" => sets::spop(ctx, args, out),
        b"SCARD" => sets::scard(ctx, args, out),
        b"SMEMBERS" => sets::smembers(ctx, args, out),
        b"HSET" => hashes::hset(ctx, args, out),
        b"HGET" => hashes::hget(ctx, args, out),
        b"HGETALL" => hashes::hgetall(ctx, args, out),
        b"ZADD" => zsets::zadd(ctx, args, out),
        b"ZPOPMIN" => zsets::zpopmin(ctx, args, out),
        b"ZCARD" => zsets::zcard(ctx, args, out),
        b"ZRANGE" => zsets::zrange(ctx, args, out),
        b"DEL" => keys::del_exists(ctx, args, true, out),
        b"EXISTS" => keys::del_exists(ctx, args, false, out),
        b"TYPE" => keys::type_of(ctx, args, out),
        b"EXPIRE" => keys::expire(ctx, args, "expire", 1000, out),
        b"PEXPIRE" => keys::expire(ctx, args, "pexpire", 1, out),
        b"TTL" => keys::ttl(ctx, args, false, out),
        b"PTTL" => keys::ttl(ctx, args, true, out),
        b"PERSIST" => keys::persist(ctx, args, out),
        b"DBSIZE" => keys::dbsize(ctx, args, out),
        b"FLUSHALL" => keys::flushall(ctx, args, out),
        b"ECHO" => server::echo(args, out),
        b"SELECT" => server::select(args, out),
        b"COMMAND" => server::command(args, COMMAND_COUNT, out),
        b"CONFIG" => server::config(args, out),
        b"CLIENT" => server::client(ctx, args, out),
        b"INFO" => server::info(ctx, out),
        b"QUIT" => {
            out.put(reply::OK);
            return Next::Close;
        }
        _ => server::unknown(name, args, out),
    }
    Next::Continue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Limits, Parsed, Progress, parse};
    use crate::store::Store;

    #[test]
    fn quit_closes_and_every_name_is_counted() {
        let store = Store::new();
        let mut session = Session::default();
        let mut ctx = Ctx {
            store: &store,
            now: 0,
            session: &mut session,
        };
        let mut out = Vec::new();
        let Ok(Parsed::Command(c, _)) =
            parse(b"QUIT\r\n", &mut Progress::default(), &Limits::default())
        else {
            panic!()
        };
        assert_eq!(execute(c, &mut ctx, &mut out), Next::Close);
        assert_eq!(out, reply::OK);
        let source = include_str!("mod.rs");
        let arms = source
            .lines()
            .filter(|l| l.trim_start().starts_with("b\"") && l.contains("=>"))
            .count();
        assert_eq!(arms, COMMAND_COUNT);
    }
}

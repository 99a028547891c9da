//! The commands: find one by name, check its arguments, run it against the [`Store`], write
//! its reply.
//!
//! | command | reply |
//! |---|---|
//! | `PING [msg]` | `+PONG`, or `msg` as a bulk string |
//! | `ECHO msg` | `msg` |
//! | `SET key value [NX\|XX]` | `+OK`, or nil when `NX`/`XX` stopped it; `EX`, `PX`, `EXAT`, `PXAT`, `KEEPTTL` and `GET` are refused with an error (this store keeps no expiry) |
//! | `GET key` | the value or nil |
//! | `DEL key...`, `EXISTS key...` | how many keys were removed / exist |
//! | `INCR key` | the new value |
//! | `MGET key...` | an array of values or nils |
//! | `MSET key value [key value...]` | `+OK` |
//! | `DBSIZE` | number of keys |
//! | `FLUSHALL [ASYNC\|SYNC]` | `+OK` |
//! | `SELECT 0` | `+OK` (there is one database) |
//! | `COMMAND [COUNT\|DOCS\|INFO\|LIST]` | an empty array, or the number of commands |
//! | `CONFIG GET param...` | `save` → `""`, `appendonly` → `no`; others are left out |
//! | `QUIT` | `+OK`, then the connection closes |
//!
//! Anything else: `-ERR unknown command '<name>'`. Names are case-insensitive; error texts are
//! Redis's.

use super::parse::Command;
use super::reply::{self, Sink};
use super::store::{IncrError, SetIf, Store};

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next command.
    Continue,
    /// Close once the replies are sent (`QUIT`).
    Close,
}

/// Number of commands (`COMMAND COUNT`): PING, ECHO, SET, GET, DEL, EXISTS, INCR, MGET, MSET,
/// DBSIZE, FLUSHALL, SELECT, COMMAND, CONFIG, QUIT.
const COMMAND_COUNT: i64 = 15;

/// Longest command name: names are matched upper-cased in a buffer of this size.
const NAME_MAX: usize = 8;

/// `CONFIG GET` answers for these parameters (what `redis-benchmark` asks at start-up).
const CONFIG: [(&[u8], &[u8]); 2] = [(b"save", b""), (b"appendonly", b"no")];

/// Runs `cmd`, writing its reply to `out`.
pub fn execute(cmd: Command<'_>, store: &Store, out: &mut impl Sink) -> Next {
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
    // Arguments after the name.
    let n = cmd.argc() - 1;
    match upper {
        b"PING" => match (n, args.next()) {
            (0, _) => out.put(reply::PONG),
            (1, Some(msg)) => reply::bulk(out, msg),
            _ => reply::wrong_arity(out, "ping"),
        },
        b"ECHO" => match (n, args.next()) {
            (1, Some(msg)) => reply::bulk(out, msg),
            _ => reply::wrong_arity(out, "echo"),
        },
        b"SET" => match (args.next(), args.next()) {
            (Some(key), Some(value)) => set(key, value, args, store, out),
            _ => reply::wrong_arity(out, "set"),
        },
        b"GET" => match (n, args.next()) {
            (1, Some(key)) => store.get(key, |v| reply::bulk_or_nil(out, v)),
            _ => reply::wrong_arity(out, "get"),
        },
        b"DEL" | b"EXISTS" => {
            let del = upper == b"DEL";
            if n == 0 {
                reply::wrong_arity(out, if del { "del" } else { "exists" });
            } else {
                let mut locked = store.lock_keys(args.clone());
                let hits = args
                    .filter(|k| {
                        if del {
                            locked.remove(k)
                        } else {
                            locked.contains(k)
                        }
                    })
                    .count();
                drop(locked);
                reply::int(out, i64::try_from(hits).unwrap_or(i64::MAX));
            }
        }
        b"INCR" => match (n, args.next()) {
            (1, Some(key)) => match store.incr(key) {
                Ok(v) => reply::int(out, v),
                Err(IncrError::NotAnInteger) => {
                    reply::error(out, "value is not an integer or out of range");
                }
                Err(IncrError::Overflow) => {
                    reply::error(out, "increment or decrement would overflow");
                }
            },
            _ => reply::wrong_arity(out, "incr"),
        },
        b"MGET" => {
            if n == 0 {
                reply::wrong_arity(out, "mget");
            } else {
                let mut locked = store.lock_keys(args.clone());
                reply::array(out, n);
                for key in args {
                    reply::bulk_or_nil(out, locked.get(key));
                }
            }
        }
        b"MSET" => {
            if n == 0 || !n.is_multiple_of(2) {
                reply::wrong_arity(out, "mset");
            } else {
                let mut locked = store.lock_keys(args.clone().step_by(2));
                while let (Some(key), Some(value)) = (args.next(), args.next()) {
                    locked.set(key, value);
                }
                drop(locked);
                out.put(reply::OK);
            }
        }
        b"DBSIZE" => match n {
            0 => reply::int(out, i64::try_from(store.len()).unwrap_or(i64::MAX)),
            _ => reply::wrong_arity(out, "dbsize"),
        },
        b"FLUSHALL" => match args.next() {
            Some(mode)
                if n > 1
                    || !(mode.eq_ignore_ascii_case(b"ASYNC")
                        || mode.eq_ignore_ascii_case(b"SYNC")) =>
            {
                reply::error(out, "syntax error");
            }
            _ => {
                store.clear();
                out.put(reply::OK);
            }
        },
        b"SELECT" => match (n, args.next()) {
            (1, Some(b"0")) => out.put(reply::OK),
            (1, Some(_)) => reply::error(out, "DB index is out of range"),
            _ => reply::wrong_arity(out, "select"),
        },
        b"COMMAND" => match args.next() {
            None => out.put(reply::EMPTY_ARRAY),
            Some(sub) if sub.eq_ignore_ascii_case(b"COUNT") => reply::int(out, COMMAND_COUNT),
            Some(sub)
                if [&b"DOCS"[..], b"INFO", b"LIST"]
                    .iter()
                    .any(|s| sub.eq_ignore_ascii_case(s)) =>
            {
                out.put(reply::EMPTY_ARRAY);
            }
            Some(sub) => {
                reply::error_quoting(out, "unknown subcommand ", sub, ". Try COMMAND HELP.")
            }
        },
        b"CONFIG" => match args.next() {
            Some(sub) if sub.eq_ignore_ascii_case(b"GET") => {
                if n < 2 {
                    reply::wrong_arity(out, "config|get");
                } else {
                    config_get(args, out);
                }
            }
            Some(sub) => reply::error_quoting(out, "unsupported CONFIG subcommand ", sub, ""),
            None => reply::wrong_arity(out, "config"),
        },
        b"QUIT" => {
            out.put(reply::OK);
            return Next::Close;
        }
        _ => reply::error_quoting(out, "unknown command ", name, ""),
    }
    Next::Continue
}

/// `SET key value` and its options.
fn set<'a>(
    key: &[u8],
    value: &[u8],
    options: impl Iterator<Item = &'a [u8]>,
    store: &Store,
    out: &mut impl Sink,
) {
    let mut cond = SetIf::Always;
    for opt in options {
        let is = |s: &[u8]| opt.eq_ignore_ascii_case(s);
        if is(b"NX") && cond != SetIf::Present {
            cond = SetIf::Absent;
        } else if is(b"XX") && cond != SetIf::Absent {
            cond = SetIf::Present;
        } else if [&b"EX"[..], b"PX", b"EXAT", b"PXAT", b"KEEPTTL", b"GET"]
            .iter()
            .any(|s| is(s))
        {
            return reply::error_quoting(
                out,
                "SET option ",
                opt,
                " is not supported by this server (no expiry)",
            );
        } else {
            return reply::error(out, "syntax error");
        }
    }
    if store.set(key, value, cond) {
        out.put(reply::OK);
    } else {
        out.put(reply::NIL);
    }
}

/// `CONFIG GET param...`: a flat array of name, value pairs for the parameters known.
fn config_get<'a>(params: impl Iterator<Item = &'a [u8]> + Clone, out: &mut impl Sink) {
    let known = |p: &[u8]| CONFIG.iter().find(|(k, _)| p.eq_ignore_ascii_case(k));
    let found = params.clone().filter(|p| known(p).is_some()).count();
    reply::array(out, found * 2);
    for (k, v) in params.filter_map(known) {
        reply::bulk(out, k);
        reply::bulk(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{Limits, Parsed, Progress, parse};
    use super::*;

    /// Runs each line (inline syntax) and returns the replies, concatenated.
    fn run(store: &Store, lines: &[&str]) -> String {
        let mut out = Vec::new();
        for l in lines {
            let line = format!("{l}\r\n");
            let Ok(Parsed::Command(c, _)) = parse(
                line.as_bytes(),
                &mut Progress::default(),
                &Limits::default(),
            ) else {
                panic!("not a command: {l}");
            };
            execute(c, store, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn basics() {
        let s = Store::new();
        assert_eq!(
            run(&s, &["PING", "ping hi", "PING a b"]),
            "+PONG\r\n$2\r\nhi\r\n-ERR wrong number of arguments for 'ping' command\r\n"
        );
        assert_eq!(
            run(&s, &["SET k v", "GET k", "get nope"]),
            "+OK\r\n$1\r\nv\r\n$-1\r\n"
        );
        assert_eq!(
            run(&s, &["SET k w NX", "SET n w XX", "SET k w xx", "GET k"]),
            "$-1\r\n$-1\r\n+OK\r\n$1\r\nw\r\n"
        );
        assert_eq!(
            run(&s, &["SET k v EX 10", "SET k v NX XX", "SET k v BOGUS"]),
            "-ERR SET option 'EX' is not supported by this server (no expiry)\r\n-ERR syntax error\r\n-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&s, &["INCR c", "INCR c", "INCR k"]),
            ":1\r\n:2\r\n-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            run(&s, &["MSET a 1 b 2", "MGET a b zz", "MSET a"]),
            "+OK\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n-ERR wrong number of arguments for 'mset' command\r\n"
        );
        assert_eq!(
            run(&s, &["EXISTS a a zz", "DEL a zz", "EXISTS a", "DBSIZE"]),
            ":2\r\n:1\r\n:0\r\n:3\r\n"
        );
        assert_eq!(
            run(&s, &["FLUSHALL", "DBSIZE", "FLUSHALL NOW"]),
            "+OK\r\n:0\r\n-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&s, &["ECHO x", "SELECT 0", "SELECT 1"]),
            "$1\r\nx\r\n+OK\r\n-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            run(
                &s,
                &[
                    "CONFIG GET save",
                    "CONFIG GET appendonly nothing",
                    "config get x",
                    "COMMAND",
                    "COMMAND DOCS"
                ]
            ),
            "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n*0\r\n*0\r\n"
        );
        assert_eq!(run(&s, &["COMMAND COUNT"]), ":15\r\n");
        assert_eq!(
            run(&s, &["NOPE x", "averyveryverylongname"]),
            "-ERR unknown command 'NOPE'\r\n-ERR unknown command 'averyveryverylongname'\r\n"
        );
    }

    #[test]
    fn quit_closes() {
        let s = Store::new();
        let mut out = Vec::new();
        let Ok(Parsed::Command(c, _)) =
            parse(b"QUIT\r\n", &mut Progress::default(), &Limits::default())
        else {
            panic!()
        };
        assert_eq!(execute(c, &s, &mut out), Next::Close);
        assert_eq!(out, reply::OK);
    }
}

//! Connection and server commands: `PING`, `ECHO`, `SELECT`, `COMMAND`, `CONFIG GET`,
//! `CLIENT SETNAME|GETNAME|ID|SETINFO`, `INFO`, and the `unknown command` error.

use crate::parse::Args;
use crate::reply::{self, Sink};

use super::ctx::{Ctx, count, exact, int};

/// `CONFIG GET` answers for these parameters (what `redis-benchmark` asks at start-up).
const CONFIG: [(&[u8], &[u8]); 2] = [(b"save", b""), (b"appendonly", b"no")];

/// The version `INFO` reports: the Redis whose behaviour this server follows.
const VERSION: &str = "7.0.15";

/// `PING [msg]`.
pub fn ping(mut args: Args<'_>, out: &mut impl Sink) {
    match (args.next(), args.next()) {
        (None, _) => out.put(reply::PONG),
        (Some(msg), None) => reply::bulk(out, msg),
        _ => reply::wrong_arity(out, "ping"),
    }
}

/// `ECHO msg`.
pub fn echo(args: Args<'_>, out: &mut impl Sink) {
    match exact(args) {
        Some([msg]) => reply::bulk(out, msg),
        None => reply::wrong_arity(out, "echo"),
    }
}

/// `SELECT 0`: there is one database; any other index is an error.
pub fn select(args: Args<'_>, out: &mut impl Sink) {
    match exact(args) {
        Some([b"0"]) => out.put(reply::OK),
        Some([i]) if int(i).is_none() => reply::error(out, reply::NOT_AN_INTEGER),
        Some([_]) => reply::error(out, "DB index is out of range"),
        None => reply::wrong_arity(out, "select"),
    }
}

/// `COMMAND [COUNT|DOCS|INFO|LIST]`: an empty array (no command table is published), or the
/// number of commands.
pub fn command(mut args: Args<'_>, commands: usize, out: &mut impl Sink) {
    match args.next() {
        None => out.put(reply::EMPTY_ARRAY),
        Some(sub) if sub.eq_ignore_ascii_case(b"COUNT") => reply::int(out, count(commands)),
        Some(sub)
            if [&b"DOCS"[..], b"INFO", b"LIST"]
                .iter()
                .any(|s| sub.eq_ignore_ascii_case(s)) =>
        {
            out.put(reply::EMPTY_ARRAY);
        }
        Some(sub) => reply::error_quoting(out, "unknown subcommand ", sub, ". Try COMMAND HELP."),
    }
}

/// `CONFIG GET param...`: a flat array of name, value pairs for the parameters known.
pub fn config(mut args: Args<'_>, out: &mut impl Sink) {
    match args.next() {
        Some(sub) if sub.eq_ignore_ascii_case(b"GET") => {
            if args.len() == 0 {
                return reply::wrong_arity(out, "config|get");
            }
            let known = |p: &[u8]| CONFIG.iter().find(|(k, _)| p.eq_ignore_ascii_case(k));
            let found = args.clone().filter(|p| known(p).is_some()).count();
            reply::array(out, found * 2);
            for (k, v) in args.filter_map(known) {
                reply::bulk(out, k);
                reply::bulk(out, v);
            }
        }
        Some(sub) => reply::error_quoting(out, "unsupported CONFIG subcommand ", sub, ""),
        None => reply::wrong_arity(out, "config"),
    }
}

/// `CLIENT SETNAME name`, `CLIENT GETNAME`, `CLIENT ID` (always 1: connections are not
/// numbered), `CLIENT SETINFO ...` (accepted, ignored).
pub fn client(ctx: &mut Ctx<'_>, mut args: Args<'_>, out: &mut impl Sink) {
    let Some(sub) = args.next() else {
        return reply::wrong_arity(out, "client");
    };
    let is = |s: &[u8]| sub.eq_ignore_ascii_case(s);
    if is(b"SETNAME") {
        let Some([name]) = exact(args) else {
            return reply::wrong_arity(out, "client|setname");
        };
        if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
            return reply::error(
                out,
                "Client names cannot contain spaces, newlines or special characters.",
            );
        }
        ctx.session.name = (!name.is_empty()).then(|| name.to_vec());
        out.put(reply::OK);
    } else if is(b"GETNAME") {
        if args.len() != 0 {
            return reply::wrong_arity(out, "client|getname");
        }
        reply::bulk_or_nil(out, ctx.session.name.as_deref());
    } else if is(b"ID") {
        reply::int(out, 1);
    } else if is(b"SETINFO") {
        out.put(reply::OK);
    } else {
        reply::error_quoting(out, "unknown subcommand ", sub, ". Try CLIENT HELP.");
    }
}

/// `INFO [section...]`: a few fields of the `server` and `keyspace` sections, whatever is
/// asked.
pub fn info(ctx: &mut Ctx<'_>, out: &mut impl Sink) {
    let keys = ctx.store.len();
    let expires = ctx.store.volatile();
    let uptime = ctx.now / 1000;
    let mut text = format!(
        "# Server\r\nredis_version:{VERSION}\r\nredis_mode:standalone\r\n\
         server:loopwire-resp\r\nuptime_in_seconds:{uptime}\r\n\r\n# Keyspace\r\n"
    );
    if keys > 0 {
        text.push_str(&format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n"));
    }
    reply::bulk(out, text.as_bytes());
}

/// `-ERR unknown command '<name>', with args beginning with: '<arg>' ...`, as Redis 7
/// words it: arguments quoted while the list is under 128 bytes, each followed by a space.
pub fn unknown(name: &[u8], args: Args<'_>, out: &mut impl Sink) {
    let mut list = Vec::new();
    for a in args {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    let mut msg = Vec::with_capacity(list.len() + 200);
    msg.extend_from_slice(b"-ERR unknown command '");
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&list);
    // Peer bytes must not end the line early.
    for b in &mut msg {
        if matches!(*b, b'\r' | b'\n') {
            *b = b' ';
        }
    }
    msg.extend_from_slice(b"\r\n");
    out.put(&msg);
}

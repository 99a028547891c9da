//! The server without its I/O: [`serve`] takes a connection's unread bytes, runs every
//! complete command in them and appends the replies to any [`Sink`]; [`sweep`] is one tick of
//! the expiry sweep. loopwire's event handler (`handler`) drives both, and so can any other
//! I/O layer (the same-run peers in `loopwire-bench` run them on tokio and on mio), so every
//! server answers every command the same way.
//!
//! A partial command is left unconsumed: call again with the same bytes and those that follow
//! (the parse resumes where it stopped, [`ConnState`] keeps how far it got). Before each command
//! `serve` asks the caller whether the output has room; when it has none it stops, and the
//! commands left unconsumed are run by a later call, once the replies are sent.

use std::time::Duration;

use crate::command::{Ctx, Next, Session, execute};
use crate::parse::{Limits, Parsed, Progress, parse};
use crate::reply::Sink;
use crate::store::Store;

/// Time between two expiry sweeps when the last one finished its work.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Time between two expiry sweeps while due keys remain.
pub const SWEEP_AGAIN: Duration = Duration::from_millis(1);

/// Most expired keys one sweep removes (bounds the time one tick takes).
pub const SWEEP_BUDGET: usize = 4096;

/// The most bytes a connection holds unread, or unsent, under these limits: one request with a
/// bulk string of [`Limits::max_bulk`] unread, or its `GET` reply unsent, with 1 MiB to spare.
/// A request or a single reply larger than that closes the connection.
pub fn max_buffered(limits: &Limits) -> usize {
    limits.max_bulk.saturating_add(1 << 20)
}

/// Per-connection state: how far the parse of a partial command got, and the session
/// (`CLIENT SETNAME`).
#[derive(Debug, Default)]
pub struct ConnState {
    progress: Progress,
    session: Session,
}

/// Why [`serve`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every complete command was run; the bytes left (if any) are the start of the next one.
    Incomplete,
    /// The output had no room for another reply: send it, then call again with the bytes not
    /// consumed (complete commands may be among them).
    Full,
    /// Close the connection once the output is sent (`QUIT`, or a protocol error, whose
    /// `-ERR Protocol error: ...` reply is in the output).
    Close,
}

/// What one [`serve`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// Bytes of the input consumed (the commands run, and empty requests skipped); after a
    /// protocol error, all of them.
    pub consumed: usize,
    /// Why it stopped.
    pub stop: Stop,
}

/// Runs every complete command at the start of `input` against `store` at time `now`
/// (milliseconds of the caller's monotonic clock, the one expiry times are kept in), appending
/// the replies to `out` in order. Before each command it asks `room(out)`, and stops with
/// [`Stop::Full`] when that is false.
pub fn serve<O: Sink>(
    store: &Store,
    limits: &Limits,
    now: u64,
    state: &mut ConnState,
    input: &[u8],
    out: &mut O,
    mut room: impl FnMut(&O) -> bool,
) -> Served {
    let mut at = 0;
    loop {
        if !room(out) {
            return Served {
                consumed: at,
                stop: Stop::Full,
            };
        }
        // `at <= input.len()`: it only grows by lengths `parse` found inside `input[at..]`.
        let rest = input.get(at..).unwrap_or_default();
        match parse(rest, &mut state.progress, limits) {
            Ok(Parsed::Command(cmd, len)) => {
                at += len;
                let mut ctx = Ctx {
                    store,
                    now,
                    session: &mut state.session,
                };
                if execute(cmd, &mut ctx, out) == Next::Close {
                    return Served {
                        consumed: at,
                        stop: Stop::Close,
                    };
                }
            }
            Ok(Parsed::Empty(len)) => at += len,
            Ok(Parsed::Incomplete) => {
                return Served {
                    consumed: at,
                    stop: Stop::Incomplete,
                };
            }
            Err(e) => {
                // Then close, as Redis does: there is no telling where the next command starts.
                out.put(format!("-ERR Protocol error: {e}\r\n").as_bytes());
                return Served {
                    consumed: input.len(),
                    stop: Stop::Close,
                };
            }
        }
    }
}

/// One tick of the expiry sweep at time `now`: removes up to [`SWEEP_BUDGET`] expired keys
/// from `store` and returns when to sweep next ([`SWEEP_AGAIN`] while due keys remain,
/// [`SWEEP_EVERY`] otherwise; Redis sweeps 10 times a second).
pub fn sweep(store: &Store, now: u64) -> Duration {
    if store.sweep(now, SWEEP_BUDGET).more {
        SWEEP_AGAIN
    } else {
        SWEEP_EVERY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(store: &Store, st: &mut ConnState, input: &[u8]) -> (Served, String) {
        let mut out = Vec::new();
        let s = serve(store, &Limits::default(), 0, st, input, &mut out, |_| true);
        (s, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn a_pipeline_is_answered_in_order_and_a_partial_command_waits() {
        let store = Store::new();
        let mut st = ConnState::default();
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n\r\n*2\r\n$3\r\nGET\r\n$1";
        let (s, out) = run(&store, &mut st, input);
        assert_eq!(out, "+OK\r\n$1\r\nv\r\n");
        assert_eq!(s.stop, Stop::Incomplete);
        // SET (27 bytes), the inline GET (7), the blank line (2); the partial GET stays.
        assert_eq!(s.consumed, 36);
        let mut rest = input[s.consumed..].to_vec();
        rest.extend_from_slice(b"\r\nk\r\n");
        let (s, out) = run(&store, &mut st, &rest);
        assert_eq!(out, "$1\r\nv\r\n");
        assert_eq!((s.consumed, s.stop), (rest.len(), Stop::Incomplete));
    }

    #[test]
    fn no_room_stops_before_the_next_command() {
        let store = Store::new();
        let mut st = ConnState::default();
        let mut out = Vec::new();
        let input = b"PING\r\nPING\r\nPING\r\n";
        // Room for one reply only.
        let s = serve(
            &store,
            &Limits::default(),
            0,
            &mut st,
            input,
            &mut out,
            |o| o.is_empty(),
        );
        assert_eq!(out, b"+PONG\r\n");
        assert_eq!((s.consumed, s.stop), (6, Stop::Full));
        let (s, out) = run(&store, &mut st, &input[6..]);
        assert_eq!(out, "+PONG\r\n+PONG\r\n");
        assert_eq!((s.consumed, s.stop), (12, Stop::Incomplete));
    }

    #[test]
    fn quit_and_protocol_errors_close() {
        let store = Store::new();
        let (s, out) = run(&store, &mut ConnState::default(), b"QUIT\r\nPING\r\n");
        assert_eq!(out, "+OK\r\n");
        assert_eq!((s.consumed, s.stop), (6, Stop::Close));
        let input = b"PING\r\n*1\r\n$x\r\nPING\r\n";
        let (s, out) = run(&store, &mut ConnState::default(), input);
        assert_eq!(out, "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
        assert_eq!((s.consumed, s.stop), (input.len(), Stop::Close));
    }

    #[test]
    fn the_sweep_removes_due_keys_and_says_when_to_come_back() {
        let store = Store::new();
        let mut st = ConnState::default();
        let mut out = Vec::new();
        let set = b"SET a 1 PX 10\r\nSET b 2\r\n";
        serve(
            &store,
            &Limits::default(),
            0,
            &mut st,
            set,
            &mut out,
            |_| true,
        );
        assert_eq!(out, b"+OK\r\n+OK\r\n");
        assert_eq!(sweep(&store, 5), SWEEP_EVERY);
        let (_, out) = run(&store, &mut st, b"DBSIZE\r\n");
        assert_eq!(out, ":2\r\n");
        assert_eq!(sweep(&store, 10), SWEEP_EVERY);
        let (_, out) = run(&store, &mut st, b"DBSIZE\r\n");
        assert_eq!(out, ":1\r\n");
    }
}

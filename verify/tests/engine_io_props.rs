//! Property tests of the engine's inbound and outbound paths (`loopwire::internals`, the same
//! functions the event loop calls, minus the socket).
//!
//! - Inbound: a byte stream split into reads at random points, with a handler that consumes a
//!   random amount each time (none, some, all, more than it was shown) and random wakes
//!   between reads: every call shows exactly the bytes after what was consumed so far, up to
//!   what was received, so the handler sees the stream exactly once and in order. With a small
//!   limit, a read overflows exactly when the unread bytes it would have to keep pass it, and
//!   what is kept never does.
//! - Outbound: random sends and drains against a socket that accepts random partial amounts
//!   (or would block, or is interrupted) for plain and vectored writes: what reached the
//!   socket followed by the backlog is always exactly the bytes sent, in order; nothing reaches
//!   the socket out of turn; with a limit, a send overflows exactly when the part the socket
//!   refused would pass it.

mod engine_support;

use std::io::{self, IoSlice, Write};

use engine_support::pool;
use loopwire::internals::{
    BufferPool, Overflow, SendError, Spill, deliver, drain, redeliver, send,
};
use proptest::prelude::*;

/// How much of what it is shown a handler consumes.
#[derive(Debug, Clone, Copy)]
enum Take {
    Nothing,
    All,
    /// More than it was shown (the engine clamps).
    TooMuch,
    /// This many bytes, or all when fewer were shown.
    Upto(usize),
}

impl Take {
    fn of(self, shown: usize) -> usize {
        match self {
            Take::Nothing => 0,
            Take::All => shown,
            Take::TooMuch => shown + 1 + shown % 7,
            Take::Upto(n) => n.min(shown),
        }
    }
}

fn take() -> impl Strategy<Value = Take> {
    prop_oneof![
        1 => Just(Take::Nothing),
        2 => Just(Take::All),
        1 => Just(Take::TooMuch),
        4 => (0usize..300).prop_map(Take::Upto),
    ]
}

/// One inbound event: bytes arrive (`Read`) or the handler is woken with none (`Wake`).
#[derive(Debug, Clone)]
enum In {
    Read(usize, Take),
    Wake(Take),
}

fn inbound_ops() -> impl Strategy<Value = Vec<In>> {
    prop::collection::vec(
        prop_oneof![
            5 => (1usize..700, take()).prop_map(|(n, t)| In::Read(n, t)),
            1 => take().prop_map(In::Wake),
        ],
        1..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inbound_shows_the_stream_exactly_once_in_order(
        seed in any::<u8>(),
        ops in inbound_ops(),
    ) {
        let total: usize = ops.iter().map(|op| match op { In::Read(n, _) => *n, In::Wake(_) => 0 }).sum();
        let stream: Vec<u8> = (0..total).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let (mut pool, mut spill) = (pool(), Spill::default());
        let (mut received, mut consumed) = (0usize, 0usize);
        let mut delivered = Vec::new();
        for op in ops {
            let (fresh, t) = match op {
                In::Read(n, t) => (&stream[received..received + n], t),
                In::Wake(t) => (&stream[..0], t),
            };
            received += fresh.len();
            let mut shown_ok = true;
            let mut handler = |shown: &[u8]| {
                shown_ok = shown == &stream[consumed..received];
                let n = t.of(shown.len());
                delivered.extend_from_slice(&shown[..n.min(shown.len())]);
                n
            };
            if fresh.is_empty() {
                redeliver(&mut spill, &mut pool, &mut handler);
            } else {
                prop_assert_eq!(deliver(&mut spill, &mut pool, fresh, usize::MAX, &mut handler), Ok(()));
            }
            prop_assert!(shown_ok, "handler was not shown exactly the unconsumed bytes");
            consumed = delivered.len();
            prop_assert_eq!(spill.len(), received - consumed);
        }
        // Whatever is still unread is exactly the tail of the stream.
        redeliver(&mut spill, &mut pool, |rest| {
            delivered.extend_from_slice(rest);
            rest.len()
        });
        prop_assert_eq!(delivered, stream);
        prop_assert!(spill.is_empty());
    }

    #[test]
    fn inbound_overflows_exactly_past_the_limit(
        max in 0usize..600,
        ops in prop::collection::vec((1usize..300, take()), 1..40),
    ) {
        let (mut pool, mut spill) = (pool(), Spill::default());
        for (n, t) in ops {
            let fresh = vec![0xA5; n];
            let before = spill.len();
            let mut ran = false;
            let mut unread = 0;
            let res = deliver(&mut spill, &mut pool, &fresh, max, |shown| {
                ran = true;
                let k = t.of(shown.len());
                unread = shown.len() - k.min(shown.len());
                k
            });
            let expected_overflow = if before == 0 { unread > max } else { before + n > max };
            prop_assert_eq!(res.is_err(), expected_overflow);
            if res == Err(Overflow) {
                // With leftovers the check comes first and the handler is not run.
                prop_assert_eq!(ran, before == 0);
                // The engine closes the connection here; start a new one.
                spill = Spill::default();
            } else {
                prop_assert!(ran);
                prop_assert!(spill.len() <= max);
                prop_assert_eq!(spill.len(), unread);
            }
        }
    }
}

/// What the fake socket does on one write call.
#[derive(Debug, Clone, Copy)]
enum Accept {
    /// Takes at most this many bytes (0 takes nothing and reports success with 0 bytes).
    Upto(usize),
    WouldBlock,
    Interrupted,
}

/// A socket that follows a script of accepts (repeating it), recording what it took.
struct ScriptedSocket {
    out: Vec<u8>,
    script: Vec<Accept>,
    next: usize,
}

impl ScriptedSocket {
    fn step(&mut self) -> Accept {
        let a = self.script[self.next % self.script.len()];
        self.next += 1;
        a
    }
}

impl Write for ScriptedSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut budget = match self.step() {
            Accept::Upto(n) => n,
            Accept::WouldBlock => return Err(io::ErrorKind::WouldBlock.into()),
            Accept::Interrupted => return Err(io::ErrorKind::Interrupted.into()),
        };
        let mut taken = 0;
        for b in bufs {
            let n = b.len().min(budget);
            self.out.extend_from_slice(&b[..n]);
            budget -= n;
            taken += n;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn accept() -> impl Strategy<Value = Accept> {
    prop_oneof![
        6 => (0usize..400).prop_map(Accept::Upto),
        2 => Just(Accept::WouldBlock),
        1 => Just(Accept::Interrupted),
    ]
}

/// One outbound event: the loop sends bytes, or the socket turned writable.
#[derive(Debug, Clone)]
enum Out {
    Send(usize),
    Writable,
}

fn outbound_ops() -> impl Strategy<Value = Vec<Out>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0usize..500).prop_map(Out::Send),
            2 => Just(Out::Writable),
        ],
        1..60,
    )
}

/// The backlog's bytes, without consuming them (drains a copy into a greedy writer).
fn backlog_bytes(backlog: &mut Spill, pool: &mut BufferPool) -> Vec<u8> {
    // Drain into a socket that takes everything, then put the bytes back: `Spill` has no
    // public peek, and this also exercises the vectored path on wrapped rings.
    let mut all = ScriptedSocket {
        out: Vec::new(),
        script: vec![Accept::Upto(usize::MAX)],
        next: 0,
    };
    while !backlog.is_empty() {
        drain(backlog, pool, &mut all).expect("a greedy writer never fails");
    }
    let bytes = all.out;
    if !bytes.is_empty() {
        let mut ok = ScriptedSocket {
            out: Vec::new(),
            script: vec![Accept::WouldBlock],
            next: 0,
        };
        // A would-block socket queues everything, restoring the backlog.
        send(backlog, pool, &mut ok, &bytes, usize::MAX).expect("restoring the backlog fits");
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn outbound_sends_exactly_the_bytes_written_in_order(
        seed in any::<u8>(),
        script in prop::collection::vec(accept(), 1..20),
        ops in outbound_ops(),
    ) {
        let (mut pool, mut backlog) = (pool(), Spill::default());
        let mut sock = ScriptedSocket { out: Vec::new(), script, next: 0 };
        let mut written: Vec<u8> = Vec::new();
        for op in ops {
            match op {
                Out::Send(n) => {
                    let data: Vec<u8> = (0..n).map(|i| ((written.len() + i) as u8) ^ seed).collect();
                    let queued_before = !backlog.is_empty();
                    let out_before = sock.out.len();
                    written.extend_from_slice(&data);
                    prop_assert!(send(&mut backlog, &mut pool, &mut sock, &data, usize::MAX).is_ok());
                    if queued_before {
                        prop_assert_eq!(sock.out.len(), out_before, "wrote around the backlog");
                    }
                }
                Out::Writable => {
                    prop_assert!(drain(&mut backlog, &mut pool, &mut sock).is_ok());
                }
            }
            let mut seen = sock.out.clone();
            seen.extend_from_slice(&backlog_bytes(&mut backlog, &mut pool));
            prop_assert_eq!(&seen, &written);
        }
        // The socket turns generous: everything arrives, once, in order.
        sock.script = vec![Accept::Upto(usize::MAX)];
        while !backlog.is_empty() {
            prop_assert!(drain(&mut backlog, &mut pool, &mut sock).is_ok());
        }
        prop_assert_eq!(sock.out, written);
    }

    #[test]
    fn outbound_overflows_exactly_past_the_limit(
        max in 0usize..800,
        script in prop::collection::vec(accept(), 1..10),
        sends in prop::collection::vec(0usize..400, 1..30),
    ) {
        let (mut pool, mut backlog) = (pool(), Spill::default());
        let mut sock = ScriptedSocket { out: Vec::new(), script, next: 0 };
        for n in sends {
            let before = backlog.len();
            let out_before = sock.out.len();
            let res = send(&mut backlog, &mut pool, &mut sock, &vec![1; n], max);
            let taken = sock.out.len() - out_before;
            let expected_overflow = before + (n - taken) > max;
            prop_assert_eq!(matches!(res, Err(SendError::Overflow)), expected_overflow);
            if expected_overflow {
                prop_assert_eq!(backlog.len(), before, "nothing queued on overflow");
                // The engine closes the connection here; start a new one.
                backlog = Spill::default();
            } else {
                prop_assert!(res.is_ok());
                prop_assert!(backlog.len() <= max);
            }
        }
    }
}

#[test]
fn a_hard_socket_error_is_reported_and_nothing_is_queued() {
    struct Reset;
    impl Write for Reset {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::ConnectionReset.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let (mut pool, mut backlog) = (pool(), Spill::default());
    let res = send(&mut backlog, &mut pool, &mut Reset, b"abc", usize::MAX);
    assert!(matches!(res, Err(SendError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset));
    assert!(backlog.is_empty());
}

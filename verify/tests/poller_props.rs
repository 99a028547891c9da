//! Property tests for `loopwire-poller`: random register / reregister / deregister sequences
//! against a model of the registration table, on every backend available here.
//!
//! After each operation the poller's answer (success or which typed error) and its
//! registration count must match the model; at the end, making every source readable must
//! report exactly the tokens the model holds.

#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use loopwire_poller::{Backend, Error, Events, Interest, Mode, Poller, Token};
use proptest::prelude::*;

const SOURCES: usize = 4;
const TOKENS: usize = 6;

#[derive(Debug, Clone, Copy)]
enum Op {
    Register {
        source: usize,
        token: usize,
        mode: Mode,
    },
    Reregister {
        source: usize,
        token: usize,
        mode: Mode,
    },
    Deregister {
        source: usize,
    },
}

/// What the poller must answer, by error variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Reserved,
    AlreadyRegistered,
    NotRegistered,
    TokenInUse,
    UnsupportedMode,
}

fn outcome(result: &Result<(), Error>) -> Outcome {
    match result {
        Ok(()) => Outcome::Ok,
        Err(Error::ReservedToken(_)) => Outcome::Reserved,
        Err(Error::AlreadyRegistered(_)) => Outcome::AlreadyRegistered,
        Err(Error::NotRegistered(_)) => Outcome::NotRegistered,
        Err(Error::TokenInUse(_)) => Outcome::TokenInUse,
        Err(Error::UnsupportedMode { .. }) => Outcome::UnsupportedMode,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

/// Token index `TOKENS` stands for the reserved token.
fn token(index: usize) -> Token {
    if index == TOKENS {
        Token::RESERVED
    } else {
        Token(index)
    }
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Level), Just(Mode::Edge), Just(Mode::Oneshot)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..SOURCES, 0..=TOKENS, mode()).prop_map(|(source, token, mode)| Op::Register {
            source,
            token,
            mode
        }),
        (0..SOURCES, 0..=TOKENS, mode()).prop_map(|(source, token, mode)| Op::Reregister {
            source,
            token,
            mode
        }),
        (0..SOURCES).prop_map(|source| Op::Deregister { source }),
    ]
}

/// The model: source index → token, plus the backend's mode support.
struct Model {
    tokens: HashMap<usize, Token>,
    supports: fn(Mode) -> bool,
}

impl Model {
    fn owner(&self, token: Token) -> Option<usize> {
        self.tokens
            .iter()
            .find(|(_, t)| **t == token)
            .map(|(s, _)| *s)
    }

    fn apply(&mut self, op: Op) -> Outcome {
        match op {
            Op::Register {
                source,
                token: t,
                mode,
            } => {
                let t = token(t);
                if !(self.supports)(mode) {
                    Outcome::UnsupportedMode
                } else if t == Token::RESERVED {
                    Outcome::Reserved
                } else if self.tokens.contains_key(&source) {
                    Outcome::AlreadyRegistered
                } else if self.owner(t).is_some() {
                    Outcome::TokenInUse
                } else {
                    self.tokens.insert(source, t);
                    Outcome::Ok
                }
            }
            Op::Reregister {
                source,
                token: t,
                mode,
            } => {
                let t = token(t);
                if !(self.supports)(mode) {
                    Outcome::UnsupportedMode
                } else if t == Token::RESERVED {
                    Outcome::Reserved
                } else if !self.tokens.contains_key(&source) {
                    Outcome::NotRegistered
                } else if self.owner(t).is_some_and(|owner| owner != source) {
                    Outcome::TokenInUse
                } else {
                    self.tokens.insert(source, t);
                    Outcome::Ok
                }
            }
            Op::Deregister { source } => match self.tokens.remove(&source) {
                Some(_) => Outcome::Ok,
                None => Outcome::NotRegistered,
            },
        }
    }
}

fn check(backend: Backend, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut pairs: Vec<(UnixStream, UnixStream)> = (0..SOURCES)
        .map(|_| {
            let (rx, tx) = UnixStream::pair().expect("socketpair");
            rx.set_nonblocking(true).expect("nonblocking");
            (rx, tx)
        })
        .collect();
    // Declared after the pairs, so it is dropped (and every registration with it) first.
    let mut poller = Poller::with_backend(backend).expect("poller");
    let supports: fn(Mode) -> bool = match backend {
        Backend::Mio => |mode| mode != Mode::Level,
        _ => |_| true,
    };
    for mode in [Mode::Level, Mode::Edge, Mode::Oneshot] {
        prop_assert_eq!(poller.supports_mode(mode), supports(mode));
    }
    let mut model = Model {
        tokens: HashMap::new(),
        supports,
    };
    for &op in ops {
        let result = match op {
            Op::Register {
                source,
                token: t,
                mode,
            } => {
                let fd = pairs[source].0.as_raw_fd();
                // SAFETY: every pair outlives the poller, which is dropped first.
                unsafe { poller.register(fd, token(t), Interest::READABLE, mode) }
            }
            Op::Reregister {
                source,
                token: t,
                mode,
            } => {
                let fd = pairs[source].0.as_raw_fd();
                poller.reregister(fd, token(t), Interest::READABLE, mode)
            }
            Op::Deregister { source } => poller.deregister(pairs[source].0.as_raw_fd()),
        };
        prop_assert_eq!(outcome(&result), model.apply(op), "after {:?}", op);
        prop_assert_eq!(poller.registered(), model.tokens.len());
    }

    // Every registered source becomes readable: exactly the model's tokens are reported.
    for (_, tx) in &mut pairs {
        tx.write_all(b"!").expect("write");
    }
    let expected: HashSet<Token> = model.tokens.values().copied().collect();
    let mut seen = HashSet::new();
    let mut events = Events::with_capacity(16);
    let start = Instant::now();
    while seen != expected && start.elapsed() < Duration::from_secs(5) {
        poller
            .poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        for event in &events {
            prop_assert!(
                expected.contains(&event.token()),
                "event for a token nobody holds: {:?}",
                event
            );
            seen.insert(event.token());
        }
    }
    prop_assert_eq!(seen, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn registrations_follow_the_model(ops in prop::collection::vec(op(), 0..24)) {
        for &backend in Backend::available() {
            check(backend, &ops)?;
        }
    }
}

//! Helpers the resp test files share: commands run in-process against a [`Store`] at a chosen
//! engine time, replies collected as text.

#![allow(dead_code)]

use loopwire_resp::Store;
use loopwire_resp::command::{Ctx, Session, execute};
use loopwire_resp::parse::{Limits, Parsed, Progress, parse};

/// A store and a session, and the engine time commands see.
#[derive(Debug, Default)]
pub(crate) struct Db {
    pub(crate) store: Store,
    pub(crate) session: Session,
    pub(crate) now: u64,
}

impl Db {
    /// Runs one command given as its arguments; returns the reply.
    pub(crate) fn cmd(&mut self, args: &[&[u8]]) -> String {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        let Ok(Parsed::Command(c, _)) = parse(&req, &mut Progress::default(), &Limits::default())
        else {
            panic!("not a command: {args:?}");
        };
        let mut out = Vec::new();
        let mut ctx = Ctx {
            store: &self.store,
            now: self.now,
            session: &mut self.session,
        };
        execute(c, &mut ctx, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Runs each line (split at spaces) and returns the replies, concatenated.
    pub(crate) fn run(&mut self, lines: &[&str]) -> String {
        lines
            .iter()
            .map(|l| {
                let args: Vec<&[u8]> = l.split(' ').map(str::as_bytes).collect();
                self.cmd(&args)
            })
            .collect()
    }
}

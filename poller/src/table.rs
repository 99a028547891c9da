//! [`Table`]: the registration bookkeeping every backend shares.
//!
//! The table is what turns registration mistakes into typed errors on every platform (kqueue,
//! for one, silently accepts a descriptor added twice) and what lets `reregister` and
//! `deregister` be safe: they only touch handles recorded here, which the `register` contract
//! keeps open. Each operation is split into a check, done before the system call, and a commit,
//! done after it succeeded, so a refused system call leaves the table as it was.

use std::collections::HashMap;

use crate::{Error, Interest, Mode, RawSource, Result, Token};

/// One registered source, plus per-backend state `X` (the mio backend's "armed" bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Registration<X = ()> {
    pub(crate) token: Token,
    pub(crate) interest: Interest,
    pub(crate) mode: Mode,
    pub(crate) extra: X,
}

/// Registrations by source, and the owner of each token.
#[derive(Debug)]
pub(crate) struct Table<X = ()> {
    by_source: HashMap<RawSource, Registration<X>>,
    by_token: HashMap<Token, RawSource>,
}

impl<X> Table<X> {
    pub(crate) fn new() -> Self {
        Table {
            by_source: HashMap::new(),
            by_token: HashMap::new(),
        }
    }

    /// Checks that `fd` may be registered under `token`.
    pub(crate) fn check_insert(&self, fd: RawSource, token: Token) -> Result<()> {
        if token == Token::RESERVED {
            return Err(Error::ReservedToken(token));
        }
        if self.by_source.contains_key(&fd) {
            return Err(Error::AlreadyRegistered(fd));
        }
        if self.by_token.contains_key(&token) {
            return Err(Error::TokenInUse(token));
        }
        Ok(())
    }

    /// Records a registration that passed [`check_insert`](Self::check_insert) and the OS.
    pub(crate) fn insert(&mut self, fd: RawSource, registration: Registration<X>) {
        debug_assert!(self.check_insert(fd, registration.token).is_ok());
        self.by_token.insert(registration.token, fd);
        self.by_source.insert(fd, registration);
    }

    /// Checks that the registration of `fd` may move to `token`; returns the current one.
    pub(crate) fn check_update(&self, fd: RawSource, token: Token) -> Result<&Registration<X>> {
        if token == Token::RESERVED {
            return Err(Error::ReservedToken(token));
        }
        let current = self.by_source.get(&fd).ok_or(Error::NotRegistered(fd))?;
        if current.token != token && self.by_token.contains_key(&token) {
            return Err(Error::TokenInUse(token));
        }
        Ok(current)
    }

    /// Replaces the registration of `fd` after [`check_update`](Self::check_update) and the OS
    /// agreed.
    pub(crate) fn update(&mut self, fd: RawSource, registration: Registration<X>) {
        let token = registration.token;
        debug_assert!(self.check_update(fd, token).is_ok());
        let old = self.by_source.insert(fd, registration);
        if let Some(old) = old.filter(|old| old.token != token) {
            self.by_token.remove(&old.token);
        }
        self.by_token.insert(token, fd);
    }

    /// Forgets the registration of `fd`.
    pub(crate) fn remove(&mut self, fd: RawSource) -> Result<Registration<X>> {
        let registration = self.by_source.remove(&fd).ok_or(Error::NotRegistered(fd))?;
        self.by_token.remove(&registration.token);
        Ok(registration)
    }

    /// The source registered under `token` and its registration, for in-place state changes
    /// (the mio backend's oneshot emulation).
    #[cfg(any(has_mio, test))]
    pub(crate) fn by_token_mut(
        &mut self,
        token: Token,
    ) -> Option<(RawSource, &mut Registration<X>)> {
        let fd = *self.by_token.get(&token)?;
        self.by_source
            .get_mut(&fd)
            .map(|registration| (fd, registration))
    }

    /// How many sources are registered.
    pub(crate) fn len(&self) -> usize {
        self.by_source.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(token: usize) -> Registration {
        Registration {
            token: Token(token),
            interest: Interest::READABLE,
            mode: Mode::Edge,
            extra: (),
        }
    }

    #[test]
    fn insert_checks_reserved_then_source_then_token() {
        let mut table = Table::new();
        table
            .check_insert(3, Token(1))
            .expect("empty table accepts");
        table.insert(3, reg(1));
        assert!(matches!(
            table.check_insert(4, Token::RESERVED),
            Err(Error::ReservedToken(_))
        ));
        assert!(matches!(
            table.check_insert(3, Token(2)),
            Err(Error::AlreadyRegistered(3))
        ));
        assert!(matches!(
            table.check_insert(4, Token(1)),
            Err(Error::TokenInUse(Token(1)))
        ));
        table
            .check_insert(4, Token(2))
            .expect("fresh source and token");
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn update_may_keep_its_own_token_but_not_take_another() {
        let mut table = Table::new();
        table.insert(3, reg(1));
        table.insert(4, reg(2));
        assert_eq!(
            table.check_update(3, Token(1)).map(|r| r.token).ok(),
            Some(Token(1))
        );
        assert!(matches!(
            table.check_update(3, Token(2)),
            Err(Error::TokenInUse(Token(2)))
        ));
        assert!(matches!(
            table.check_update(5, Token(9)),
            Err(Error::NotRegistered(5))
        ));
        assert!(matches!(
            table.check_update(3, Token::RESERVED),
            Err(Error::ReservedToken(_))
        ));
    }

    #[test]
    fn update_frees_the_old_token() {
        let mut table = Table::new();
        table.insert(3, reg(1));
        table.check_update(3, Token(7)).expect("free token");
        table.update(3, reg(7));
        assert_eq!(
            table.check_update(3, Token(7)).map(|r| r.token).ok(),
            Some(Token(7))
        );
        table
            .check_insert(4, Token(1))
            .expect("old token is free again");
        assert!(table.by_token_mut(Token(1)).is_none());
        assert_eq!(table.by_token_mut(Token(7)).map(|(fd, _)| fd), Some(3));
    }

    #[test]
    fn remove_frees_source_and_token() {
        let mut table = Table::new();
        table.insert(3, reg(1));
        assert_eq!(table.remove(3).map(|r| r.token).ok(), Some(Token(1)));
        assert!(matches!(table.remove(3), Err(Error::NotRegistered(3))));
        table.check_insert(3, Token(1)).expect("both free again");
        assert_eq!(table.len(), 0);
    }
}

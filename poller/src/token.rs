//! [`Token`]: the caller's name for a registration, echoed back in every [`Event`](crate::Event).

/// Identifies a registered source in the events a poll returns.
///
/// A token is chosen by the caller (typically a slab key or a connection index) and is unique
/// among the registrations of one poller: registering a second source under a token already in
/// use fails with [`Error::TokenInUse`](crate::Error::TokenInUse).
///
/// [`Token::RESERVED`] (`usize::MAX`) belongs to the poller itself (the epoll and mio wakers use
/// it, and the `polling` crate keeps the same key for its notifier) and cannot be registered.
///
/// # Examples
///
/// ```
/// use loopwire_poller::Token;
///
/// let token = Token(7);
/// assert_eq!(usize::from(token), 7);
/// assert!(Token(1) < Token(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub usize);

impl Token {
    /// The one token callers cannot register: the poller uses it for its waker.
    pub const RESERVED: Token = Token(usize::MAX);
}

impl From<usize> for Token {
    fn from(value: usize) -> Self {
        Token(value)
    }
}

impl From<Token> for usize {
    fn from(token: Token) -> Self {
        token.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        assert_eq!(Token::from(42), Token(42));
        assert_eq!(usize::from(Token(42)), 42);
    }

    #[test]
    fn reserved_is_the_largest_token() {
        assert_eq!(Token::RESERVED, Token(usize::MAX));
        assert!(Token(usize::MAX - 1) < Token::RESERVED);
    }
}

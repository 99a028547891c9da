//! The bearer token: `Authorization: Bearer <token>` checked in constant time.
//!
//! The scheme is matched case-insensitively (RFC 9110 §11.1), then the credentials are
//! compared with every byte of the configured token whatever the input, so the time taken
//! does not tell how much of a guess was right (it depends only on the configured token's
//! length).

use std::fmt;

/// What a request's `Authorization` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No `Authorization` header.
    Missing,
    /// Another scheme, another token, or more than one header.
    Wrong,
    /// The configured token.
    Ok,
}

/// The configured token. `Debug` does not show it.
#[derive(Clone)]
pub(crate) struct Token(Box<[u8]>);

impl Token {
    pub(crate) fn new(token: &str) -> Self {
        Self(token.as_bytes().into())
    }

    /// Checks an `Authorization` header's value.
    pub(crate) fn check(&self, value: &[u8]) -> Auth {
        let value = value.trim_ascii();
        let Some((scheme, credentials)) = value
            .iter()
            .position(|&b| b == b' ')
            .map(|i| (&value[..i], value[i..].trim_ascii_start()))
        else {
            return Auth::Wrong;
        };
        if scheme.eq_ignore_ascii_case(b"bearer") && ct_eq(&self.0, credentials) {
            Auth::Ok
        } else {
            Auth::Wrong
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Whether `secret == guess`, looking at every byte of `secret` whatever `guess` is.
fn ct_eq(secret: &[u8], guess: &[u8]) -> bool {
    let mut diff = u8::from(secret.len() != guess.len());
    for (i, &s) in secret.iter().enumerate() {
        diff |= s ^ guess.get(i).copied().unwrap_or(!s);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(!ct_eq(b"abc", b""));
    }

    #[test]
    fn checks_the_header() {
        let t = Token::new("s3cret");
        assert_eq!(t.check(b"Bearer s3cret"), Auth::Ok);
        assert_eq!(t.check(b"bearer   s3cret "), Auth::Ok);
        assert_eq!(t.check(b"Bearer s3cre"), Auth::Wrong);
        assert_eq!(t.check(b"Bearer s3cret2"), Auth::Wrong);
        assert_eq!(t.check(b"Basic s3cret"), Auth::Wrong);
        assert_eq!(t.check(b"s3cret"), Auth::Wrong);
        assert_eq!(t.check(b""), Auth::Wrong);
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}

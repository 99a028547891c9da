//! Room grants: which rooms a token lets its holder join.
//!
//! A pattern is one of
//!
//! - `*`: any room;
//! - `prefix*` (a `*` as the last character only): every room whose name starts with
//!   `prefix`, e.g. `chat:*` allows `chat:` and `chat:42` but not `chat` or `news:1`;
//! - anything else: exactly that room.
//!
//! Patterns are 1 to [`MAX_PATTERN_LEN`] bytes and are compared with room names byte for
//! byte (room names are opaque bytes in the protocol; patterns are UTF-8 since they come
//! from JSON). A `*` elsewhere is refused rather than read as a glob. As a consequence a
//! room whose name ends in `*` can only be granted by a prefix pattern or `*`.

use super::error::{ClaimError, PatternError};

/// The longest room pattern, in bytes (the protocol's name limit, `Config::max_name`).
pub const MAX_PATTERN_LEN: usize = 64;

/// The most patterns one token may grant.
pub const MAX_ROOM_GRANTS: usize = 32;

/// One parsed room pattern (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomPattern {
    /// `*`: any room.
    Any,
    /// `prefix*`: rooms starting with these bytes (never empty).
    Prefix(Box<[u8]>),
    /// Exactly this room.
    Exact(Box<[u8]>),
}

impl RoomPattern {
    /// Parses a pattern.
    ///
    /// # Errors
    ///
    /// [`PatternError`] if it is empty, longer than [`MAX_PATTERN_LEN`] bytes or has a `*`
    /// before its last character.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let bytes = pattern.as_bytes();
        if bytes.is_empty() {
            return Err(PatternError::Empty);
        }
        if bytes.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong);
        }
        let (head, star) = match bytes.split_last() {
            Some((b'*', head)) => (head, true),
            _ => (bytes, false),
        };
        if head.contains(&b'*') {
            return Err(PatternError::MisplacedStar);
        }
        Ok(match (star, head.is_empty()) {
            (true, true) => Self::Any,
            (true, false) => Self::Prefix(head.into()),
            (false, _) => Self::Exact(head.into()),
        })
    }

    /// Whether the pattern allows `room`.
    pub fn matches(&self, room: &[u8]) -> bool {
        match self {
            Self::Any => true,
            Self::Prefix(prefix) => room.starts_with(prefix),
            Self::Exact(name) => **name == *room,
        }
    }
}

/// The rooms an identity may join: up to [`MAX_ROOM_GRANTS`] patterns. Empty (the default,
/// and what a token without `rooms` gets) allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomGrants {
    patterns: Vec<RoomPattern>,
}

impl RoomGrants {
    /// Grants nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grants every room (the pattern `*`).
    pub fn any() -> Self {
        Self {
            patterns: vec![RoomPattern::Any],
        }
    }

    /// Parses a token's `rooms` list.
    ///
    /// # Errors
    ///
    /// [`ClaimError::TooManyRooms`] over [`MAX_ROOM_GRANTS`] patterns,
    /// [`ClaimError::BadRoom`] for the first invalid one.
    pub fn parse<I, S>(patterns: I) -> Result<Self, ClaimError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for (index, p) in patterns.into_iter().enumerate() {
            if index == MAX_ROOM_GRANTS {
                return Err(ClaimError::TooManyRooms {
                    max: MAX_ROOM_GRANTS,
                });
            }
            let pattern = RoomPattern::parse(p.as_ref())
                .map_err(|reason| ClaimError::BadRoom { index, reason })?;
            parsed.push(pattern);
        }
        Ok(Self { patterns: parsed })
    }

    /// Whether some pattern allows `room` (see the module docs). Only matches: whether
    /// `room` is a valid name at all is the protocol's check.
    pub fn allows(&self, room: &[u8]) -> bool {
        self.patterns.iter().any(|p| p.matches(room))
    }

    /// Whether no room is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns, in the token's order.
    pub fn patterns(&self) -> &[RoomPattern] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(RoomPattern::parse("*"), Ok(RoomPattern::Any));
        assert_eq!(
            RoomPattern::parse("chat:*"),
            Ok(RoomPattern::Prefix((*b"chat:").into()))
        );
        assert_eq!(
            RoomPattern::parse("news"),
            Ok(RoomPattern::Exact((*b"news").into()))
        );
        assert_eq!(RoomPattern::parse(""), Err(PatternError::Empty));
        assert_eq!(RoomPattern::parse("**"), Err(PatternError::MisplacedStar));
        assert_eq!(RoomPattern::parse("a*b"), Err(PatternError::MisplacedStar));
        assert_eq!(RoomPattern::parse("*a"), Err(PatternError::MisplacedStar));
        let long = "x".repeat(MAX_PATTERN_LEN);
        assert!(RoomPattern::parse(&long).is_ok());
        assert_eq!(
            RoomPattern::parse(&format!("{long}*")),
            Err(PatternError::TooLong)
        );
    }

    #[test]
    fn matching() {
        let g = RoomGrants::parse(["chat:*", "news"]).unwrap();
        assert!(g.allows(b"chat:"));
        assert!(g.allows(b"chat:42"));
        assert!(g.allows(b"news"));
        assert!(!g.allows(b"chat"));
        assert!(!g.allows(b"news:1"));
        assert!(!g.allows(b"new"));
        assert!(!g.allows(b""));
        assert!(!RoomGrants::none().allows(b"news"));
        assert!(RoomGrants::any().allows(b"anything"));
    }

    #[test]
    fn limits() {
        let many = vec!["r"; MAX_ROOM_GRANTS];
        assert_eq!(
            RoomGrants::parse(&many).unwrap().patterns().len(),
            MAX_ROOM_GRANTS
        );
        let too_many = vec!["r"; MAX_ROOM_GRANTS + 1];
        assert_eq!(
            RoomGrants::parse(&too_many),
            Err(ClaimError::TooManyRooms {
                max: MAX_ROOM_GRANTS
            })
        );
        assert_eq!(
            RoomGrants::parse(["ok", "a*b"]),
            Err(ClaimError::BadRoom {
                index: 1,
                reason: PatternError::MisplacedStar
            })
        );
    }
}

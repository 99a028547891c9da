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
///
/// Every live session keeps its grants, so they are packed in one allocation (at most
/// 32 × 66 bytes; 8 bytes for `["all", "s*"]`), not a `Vec` of boxed patterns: per pattern
/// a kind byte (`*`, `prefix*` or exact), a length byte and the bytes
/// ([`MAX_PATTERN_LEN`] fits a byte).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomGrants {
    packed: Box<[u8]>,
}

const ANY: u8 = 0;
const PREFIX: u8 = 1;
const EXACT: u8 = 2;

/// The patterns packed in `packed` (see [`RoomGrants`]), as (kind, bytes).
fn unpack(packed: &[u8]) -> impl Iterator<Item = (u8, &[u8])> + '_ {
    let mut rest = packed;
    std::iter::from_fn(move || {
        let (&kind, tail) = rest.split_first()?;
        let (&len, tail) = tail.split_first()?;
        let (bytes, tail) = tail.split_at_checked(usize::from(len))?;
        rest = tail;
        Some((kind, bytes))
    })
}

impl RoomGrants {
    /// Grants nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grants every room (the pattern `*`).
    pub fn any() -> Self {
        Self {
            packed: Box::new([ANY, 0]),
        }
    }

    /// Parses a token's `rooms` claim.
    ///
    /// # Errors
    /// [`ClaimError::TooManyRooms`] beyond [`MAX_ROOM_GRANTS`] patterns;
    /// [`ClaimError::BadRoom`] for the first pattern [`RoomPattern::parse`] refuses.
    pub fn parse<I, S>(patterns: I) -> Result<Self, ClaimError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut packed = Vec::new();
        for (index, p) in patterns.into_iter().enumerate() {
            if index == MAX_ROOM_GRANTS {
                return Err(ClaimError::TooManyRooms {
                    max: MAX_ROOM_GRANTS,
                });
            }
            let pattern = RoomPattern::parse(p.as_ref())
                .map_err(|reason| ClaimError::BadRoom { index, reason })?;
            let (kind, bytes): (u8, &[u8]) = match &pattern {
                RoomPattern::Any => (ANY, &[]),
                RoomPattern::Prefix(b) => (PREFIX, b),
                RoomPattern::Exact(b) => (EXACT, b),
            };
            // `parse` bounds a pattern to MAX_PATTERN_LEN (64) bytes.
            let len = u8::try_from(bytes.len()).map_err(|_| ClaimError::BadRoom {
                index,
                reason: PatternError::TooLong,
            })?;
            packed.extend_from_slice(&[kind, len]);
            packed.extend_from_slice(bytes);
        }
        Ok(Self {
            packed: packed.into_boxed_slice(),
        })
    }

    /// Whether `room` matches one of the patterns.
    pub fn allows(&self, room: &[u8]) -> bool {
        unpack(&self.packed).any(|(kind, bytes)| match kind {
            ANY => true,
            PREFIX => room.starts_with(bytes),
            _ => room == bytes,
        })
    }

    /// Whether no room is granted.
    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// The patterns, in the claim's order (built on demand: grants are stored packed).
    pub fn patterns(&self) -> Vec<RoomPattern> {
        unpack(&self.packed)
            .map(|(kind, bytes)| match kind {
                ANY => RoomPattern::Any,
                PREFIX => RoomPattern::Prefix(bytes.into()),
                _ => RoomPattern::Exact(bytes.into()),
            })
            .collect()
    }

    /// Heap bytes these grants hold (the packed patterns).
    pub fn heap_bytes(&self) -> usize {
        self.packed.len()
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
        assert_eq!(RoomGrants::any(), RoomGrants::parse(["*"]).unwrap());
    }

    #[test]
    fn packed_patterns_come_back_in_order() {
        let long = "x".repeat(MAX_PATTERN_LEN);
        let g = RoomGrants::parse(["*", "chat:*", "news", long.as_str()]).unwrap();
        assert_eq!(
            g.patterns(),
            [
                RoomPattern::Any,
                RoomPattern::Prefix((*b"chat:").into()),
                RoomPattern::Exact((*b"news").into()),
                RoomPattern::Exact(long.as_bytes().into()),
            ]
        );
        let h = RoomGrants::parse(["news", long.as_str()]).unwrap();
        assert!(h.allows(long.as_bytes()) && !h.allows(&long.as_bytes()[1..]));
        // ["all", "s*"]: 2 + 3 + 2 + 1 bytes, one allocation.
        assert_eq!(RoomGrants::parse(["all", "s*"]).unwrap().heap_bytes(), 8);
        assert!(RoomGrants::none().is_empty() && RoomGrants::none().patterns().is_empty());
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

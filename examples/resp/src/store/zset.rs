//! [`ZSet`]: a sorted set, members ordered by (score, member) as Redis orders them.
//!
//! Two structures kept in step: a hash map from member to score (for `ZADD`'s lookup of an
//! existing member) and a B-tree of (score, member) pairs (for `ZRANGE` and `ZPOPMIN`). Redis
//! uses a skip list for the second; a B-tree gives the same O(log n) updates and ordered walk
//! from std. Ranks (`ZRANGE start stop`) walk the tree from its first element: O(start + count)
//! where Redis's skip list is O(log n + count).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// A score with a total order (`f64::total_cmp`). Never NaN (`ZADD` refuses it), and `-0.0` is
/// stored as `0.0`, so the order is the numeric one.
#[derive(Debug, Clone, Copy)]
struct Score(f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct ZSet {
    scores: HashMap<Vec<u8>, f64>,
    order: BTreeSet<(Score, Vec<u8>)>,
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score (adding the member if new); returns the previous score. `score`
    /// must not be NaN (the caller refuses it).
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        // `-0.0 + 0.0 == +0.0`: one zero.
        let score = score + 0.0;
        let old = self.scores.insert(member.to_vec(), score);
        if let Some(o) = old {
            if o.total_cmp(&score) == Ordering::Equal {
                return old;
            }
            self.order.remove(&(Score(o), member.to_vec()));
        }
        self.order.insert((Score(score), member.to_vec()));
        old
    }

    /// Removes and returns the member with the lowest score (the smallest member among equal
    /// scores).
    pub fn pop_min(&mut self) -> Option<(Vec<u8>, f64)> {
        let (Score(s), m) = self.order.pop_first()?;
        self.scores.remove(&m);
        Some((m, s))
    }

    /// The members from rank `start`, `count` of them, lowest score first.
    pub fn range(&self, start: usize, count: usize) -> impl Iterator<Item = (&[u8], f64)> {
        self.order
            .iter()
            .skip(start)
            .take(count)
            .map(|(Score(s), m)| (m.as_slice(), *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_by_score_then_member() {
        let mut z = ZSet::default();
        assert_eq!(z.insert(b"b", 1.0), None);
        z.insert(b"a", 1.0);
        z.insert(b"c", -0.0);
        assert_eq!(z.insert(b"b", 0.0), Some(1.0));
        let got: Vec<_> = z.range(0, 10).map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(
            got,
            vec![
                (b"b".to_vec(), 0.0),
                (b"c".to_vec(), 0.0),
                (b"a".to_vec(), 1.0)
            ]
        );
        assert_eq!(z.pop_min(), Some((b"b".to_vec(), 0.0)));
        assert_eq!(z.len(), 2);
        assert_eq!(z.score(b"a"), Some(1.0));
    }
}

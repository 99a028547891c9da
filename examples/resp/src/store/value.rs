//! [`Value`]: what a key holds (a string, list, set, hash or sorted set), and [`WrongType`],
//! the error of a command meeting the wrong kind.

use std::collections::{HashMap, HashSet, VecDeque};

use super::zset::ZSet;

/// A key's value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A byte string (`SET`, `INCR`).
    Str(Vec<u8>),
    /// A list (`LPUSH`, `RPOP`, `LRANGE`).
    List(VecDeque<Vec<u8>>),
    /// A set (`SADD`, `SPOP`).
    Set(HashSet<Vec<u8>>),
    /// A hash (`HSET`, `HGET`).
    Hash(HashMap<Vec<u8>, Vec<u8>>),
    /// A sorted set (`ZADD`, `ZRANGE`).
    Zset(ZSet),
}

/// A command met a key holding another kind of value: `-WRONGTYPE ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

impl Value {
    /// Whether this is a collection with no elements: such a key is deleted, as in Redis.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Zset(z) => z.is_empty(),
        }
    }

    /// The string.
    ///
    /// # Errors
    /// [`WrongType`] for any other kind.
    pub fn str(&self) -> Result<&[u8], WrongType> {
        match self {
            Value::Str(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    /// The list.
    ///
    /// # Errors
    /// [`WrongType`] for any other kind.
    pub fn list(&mut self) -> Result<&mut VecDeque<Vec<u8>>, WrongType> {
        match self {
            Value::List(l) => Ok(l),
            _ => Err(WrongType),
        }
    }

    /// The set.
    ///
    /// # Errors
    /// [`WrongType`] for any other kind.
    pub fn set(&mut self) -> Result<&mut HashSet<Vec<u8>>, WrongType> {
        match self {
            Value::Set(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    /// The hash.
    ///
    /// # Errors
    /// [`WrongType`] for any other kind.
    pub fn hash(&mut self) -> Result<&mut HashMap<Vec<u8>, Vec<u8>>, WrongType> {
        match self {
            Value::Hash(h) => Ok(h),
            _ => Err(WrongType),
        }
    }

    /// The sorted set.
    ///
    /// # Errors
    /// [`WrongType`] for any other kind.
    pub fn zset(&mut self) -> Result<&mut ZSet, WrongType> {
        match self {
            Value::Zset(z) => Ok(z),
            _ => Err(WrongType),
        }
    }
}

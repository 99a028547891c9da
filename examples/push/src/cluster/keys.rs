//! The Redis key layout of a cluster, its Lua scripts, and the encoding of a stored message.
//! Every key starts with `lw:`; see the [module docs](super) for what each holds and why.

use loopwire::Bytes;

/// Channel every node subscribes to: room and everyone broadcasts, room assignments.
pub(crate) const ALL: &str = "lw:all";
/// Set of node ids that announced themselves (dead ones are removed by whoever sees them).
pub(crate) const NODES: &str = "lw:nodes";
/// The global message id counter (INCR): ids strictly increase per user and overall.
pub(crate) const SEQ: &str = "lw:seq";

/// A node's heartbeat key: its gateway address and session count, with a TTL.
pub(crate) fn node(id: &str) -> String {
    format!("lw:node:{id}")
}

/// A node's own pub/sub channel (unicast pushes, kicks for its users).
pub(crate) fn channel(id: &str) -> String {
    format!("lw:n:{id}")
}

/// A user's session registry hash: node id → `"{sessions} {expires_unix_ms}"`.
pub(crate) fn user(u: &[u8]) -> Vec<u8> {
    [b"lw:u:".as_slice(), u].concat()
}

/// A user's QoS1 queue: a sorted set, score the message id.
pub(crate) fn queue(u: &[u8]) -> Vec<u8> {
    [b"lw:q:".as_slice(), u].concat()
}

/// The rooms assigned to a user by the backend: a set.
pub(crate) fn rooms(u: &[u8]) -> Vec<u8> {
    [b"lw:ur:".as_slice(), u].concat()
}

/// Stores one message: `KEYS = [lw:seq, lw:q:{user}]`, `ARGV = [expires_unix_ms, ttl_ms,
/// envelope, cap, floor]`. Takes an id from the global counter, at least `floor` (the
/// caller's Unix time in microseconds: ids keep growing even when Redis lost its data, so a
/// client's dedupe by "highest id acknowledged" never drops a new message after a Redis
/// restart), adds the member `"{id}:{expires}:" .. envelope` at score `id`, drops the oldest
/// members beyond `cap`, and makes the key live at least `ttl_ms` more. Returns the id. One
/// round trip, atomic. (Ids stay below 2^53, exact in Lua's doubles, until the year 2255.)
pub(crate) const PUT: &str = r"
local id = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[5])
if id < floor then
  redis.call('SET', KEYS[1], ARGV[5])
  id = floor
end
redis.call('ZADD', KEYS[2], id, string.format('%.0f', id) .. ':' .. ARGV[1] .. ':' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return id
";

/// A stored message as read back from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) id: u64,
    pub(crate) expires_unix_ms: u64,
    pub(crate) envelope: Bytes,
}

/// Parses a queue member `"{id}:{expires_unix_ms}:" .. envelope`; `None` if it is not one
/// (a foreign value: skipped and counted by the caller).
pub(crate) fn parse_member(m: &[u8]) -> Option<Member> {
    let a = m.iter().position(|&b| b == b':')?;
    let rest = &m[a + 1..];
    let b = rest.iter().position(|&b| b == b':')?;
    let id = std::str::from_utf8(&m[..a]).ok()?.parse().ok()?;
    let expires_unix_ms = std::str::from_utf8(&rest[..b]).ok()?.parse().ok()?;
    Some(Member {
        id,
        expires_unix_ms,
        envelope: Bytes::copy_from_slice(&rest[b + 1..]),
    })
}

/// Parses a registry value `"{sessions} {expires_unix_ms}"`: the sessions if it has not
/// expired at `now_unix_ms`.
pub(crate) fn live_sessions(v: &[u8], now_unix_ms: u64) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let (n, exp) = s.split_once(' ')?;
    let exp: u64 = exp.parse().ok()?;
    (exp > now_unix_ms).then(|| n.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_registry_values_parse_back() {
        let m = parse_member(b"42:1700000000000:a:b\x00c").expect("member");
        assert_eq!(m.id, 42);
        assert_eq!(m.expires_unix_ms, 1_700_000_000_000);
        assert_eq!(&m.envelope[..], b"a:b\x00c");
        assert_eq!(parse_member(b"x:1:"), None);
        assert_eq!(parse_member(b"1"), None);
        assert_eq!(live_sessions(b"3 1000", 999), Some(3));
        assert_eq!(live_sessions(b"3 1000", 1000), None);
        assert_eq!(live_sessions(b"junk", 0), None);
    }
}

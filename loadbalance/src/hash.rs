//! The one fixed hash every balancer and consistent-hash structure in this crate uses.
//!
//! Placement must not change between runs, processes, machines or builds: a user routed to
//! gateway 3 today must be routed there by every other process that knows the same gateways.
//! So nothing here uses [`std::collections::hash_map::RandomState`] (randomly keyed per process)
//! or [`std::hash::DefaultHasher`] (its algorithm is explicitly unspecified). Instead:
//!
//! - **Algorithm**: SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
//!   2012; one compression round, three finalization rounds), implemented here.
//! - **Key**: fixed, `k0 = 0x6c6f_6f70_7769_7265` (the ASCII bytes of `"loopwire"`),
//!   `k1 = 0x6c6f_6164_6261_6c6e` (`"loadbaln"`). It is not secret: these hashes spread keys,
//!   they do not defend against an adversary who picks keys to overload one node.
//! - **Byte encoding**: every integer fed through [`Hasher`] is encoded little-endian,
//!   whatever the platform's byte order, and `usize` / `isize` are widened to 64 bits first,
//!   so 32- and 64-bit targets agree.
//!
//! [`hash_bytes`] hashes exactly the bytes it is given: use it (with the `*_by_hash` lookups)
//! for keys that must map identically forever, for example when placements are persisted.
//! [`hash_key`] hashes whatever a type's [`Hash`] impl writes; that is stable for integers,
//! strings, byte slices and tuples or derives of them in practice, but Rust does not promise
//! that a type's `Hash` impl never changes between compiler versions.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// First SipHash key word: the ASCII bytes of `"loopwire"`.
const K0: u64 = 0x6c6f_6f70_7769_7265;
/// Second SipHash key word: the ASCII bytes of `"loadbaln"`.
const K1: u64 = 0x6c6f_6164_6261_6c6e;

/// Hashes `bytes` with the crate's fixed SipHash-1-3.
///
/// The result is the same on every platform and in every process.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::hash::hash_bytes;
///
/// assert_eq!(hash_bytes(b"user-42"), hash_bytes(b"user-42"));
/// assert_ne!(hash_bytes(b"user-42"), hash_bytes(b"user-43"));
/// ```
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = StableHasher::new();
    h.write(bytes);
    h.finish()
}

/// Hashes a value through its [`Hash`] impl with [`StableHasher`].
///
/// See the [module docs](self) for what is and is not guaranteed stable.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::hash::hash_key;
///
/// // A `u64` is encoded as its 8 little-endian bytes.
/// assert_eq!(hash_key(&7u64), loopwire_loadbalance::hash::hash_bytes(&7u64.to_le_bytes()));
/// ```
#[inline]
pub fn hash_key<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = StableHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Hashes two words; used to derive per-node values (ring points, Maglev offset and skip)
/// from a node's hash.
#[inline]
pub(crate) fn hash_pair(a: u64, b: u64) -> u64 {
    let mut h = StableHasher::new();
    h.write_u64(a);
    h.write_u64(b);
    h.finish()
}

/// Hashes a socket address as explicit bytes, so the result does not depend on how
/// `SocketAddr`'s `Hash` impl is written.
///
/// Encoding: IPv4 is `[4, a, b, c, d]`, IPv6 is `[6, 16 address bytes]`; an IPv4-mapped IPv6
/// address (`::ffff:a.b.c.d`, what a dual-stack listener reports for an IPv4 peer) is encoded
/// as the IPv4 address it maps, so one client hashes the same on either kind of listener.
/// With `with_port`, the port follows as 2 big-endian bytes. IPv6 flow info and scope id are
/// ignored.
pub(crate) fn hash_socket_addr(addr: &SocketAddr, with_port: bool) -> u64 {
    let mut buf = [0u8; 19];
    let mut len = match addr.ip() {
        IpAddr::V4(ip) => encode_v4(&mut buf, ip.octets()),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => encode_v4(&mut buf, v4.octets()),
            None => {
                buf[0] = 6;
                buf[1..17].copy_from_slice(&ip.octets());
                17
            }
        },
    };
    if with_port {
        buf[len..len + 2].copy_from_slice(&addr.port().to_be_bytes());
        len += 2;
    }
    hash_bytes(&buf[..len])
}

fn encode_v4(buf: &mut [u8; 19], octets: [u8; 4]) -> usize {
    buf[0] = 4;
    buf[1..5].copy_from_slice(&octets);
    5
}

/// Maps a uniformly distributed 64-bit hash onto `0..n` without a division (Lemire's
/// multiply-shift reduction, "A fast alternative to the modulo reduction", 2016). Uses the
/// high bits of `hash`; the bias is below `n / 2^64`.
#[inline]
pub(crate) fn reduce(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

/// A [`Hasher`] computing SipHash-1-3 under the crate's fixed key, with platform-independent
/// integer encoding (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use std::hash::{Hash, Hasher};
/// use loopwire_loadbalance::hash::StableHasher;
///
/// let mut h = StableHasher::new();
/// "gateway-7".hash(&mut h);
/// let a = h.finish();
/// assert_eq!(a, loopwire_loadbalance::hash::hash_key("gateway-7"));
/// ```
#[derive(Clone, Debug)]
pub struct StableHasher(Sip<1, 3>);

impl StableHasher {
    /// A hasher with the crate's fixed key and no input yet.
    #[inline]
    pub const fn new() -> Self {
        Self(Sip::new(K0, K1))
    }
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.write(&[i]);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.0.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0.write(&i.to_le_bytes());
    }

    /// Widened to `u64` so 32- and 64-bit platforms agree.
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_u64(i as u64);
    }

    /// Sign-extended to `i64` so 32- and 64-bit platforms agree.
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.0.write_u64(i as i64 as u64);
    }
}

/// SipHash-c-d state (`C` compression rounds, `D` finalization rounds), fed little-endian
/// 64-bit words; bytes that do not yet fill a word wait in `tail`.
#[derive(Clone, Debug)]
struct Sip<const C: usize, const D: usize> {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Pending input bytes, little-endian, `ntail` of them.
    tail: u64,
    ntail: usize,
    /// Total input length in bytes; only its low byte enters the hash.
    length: u64,
}

impl<const C: usize, const D: usize> Sip<C, D> {
    const fn new(k0: u64, k1: u64) -> Self {
        Self {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13);
        self.v1 ^= self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16);
        self.v3 ^= self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21);
        self.v3 ^= self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17);
        self.v1 ^= self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        for _ in 0..C {
            self.round();
        }
        self.v0 ^= m;
    }

    /// Fast path for a whole word when no partial word is pending.
    #[inline]
    fn write_u64(&mut self, word: u64) {
        if self.ntail == 0 {
            self.length = self.length.wrapping_add(8);
            self.compress(word);
        } else {
            self.write(&word.to_le_bytes());
        }
    }

    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        if self.ntail != 0 {
            let fill = (8 - self.ntail).min(bytes.len());
            self.tail |= load_le(&bytes[..fill]) << (8 * self.ntail);
            self.ntail += fill;
            bytes = &bytes[fill..];
            if self.ntail < 8 {
                return;
            }
            let word = self.tail;
            self.compress(word);
            self.tail = 0;
            self.ntail = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            self.compress(load_word(chunk));
        }
        let rest = words.remainder();
        self.tail = load_le(rest);
        self.ntail = rest.len();
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut s = self.clone();
        s.compress(((self.length & 0xff) << 56) | self.tail);
        s.v2 ^= 0xff;
        for _ in 0..D {
            s.round();
        }
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }
}

/// Reads the 0 to 7 bytes of a partial word as a little-endian word (missing high bytes are
/// zero), in at most one 4-, one 2- and one 1-byte load rather than a variable-length copy.
#[inline(always)]
fn load_le(bytes: &[u8]) -> u64 {
    debug_assert!(bytes.len() < 8);
    let mut word = 0u64;
    let mut i = 0;
    if bytes.len() - i >= 4 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[i..i + 4]);
        word = u64::from(u32::from_le_bytes(b));
        i += 4;
    }
    if bytes.len() - i >= 2 {
        let mut b = [0u8; 2];
        b.copy_from_slice(&bytes[i..i + 2]);
        word |= u64::from(u16::from_le_bytes(b)) << (8 * i);
        i += 2;
    }
    if let Some(&b) = bytes.get(i) {
        word |= u64::from(b) << (8 * i);
    }
    word
}

/// Reads an 8-byte chunk (from `chunks_exact(8)`) as a little-endian word.
#[inline(always)]
fn load_word(chunk: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The SipHash-2-4 test vector from appendix A of the SipHash paper: key 00..0f,
    /// message 00..0e (15 bytes).
    #[test]
    fn round_function_matches_the_paper_vector() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        let mut s = Sip::<2, 4>::new(k0, k1);
        s.write(&msg);
        assert_eq!(s.finish(), 0xa129_ca61_49be_45e5);
    }

    /// The same key and message fed in every possible split must give the same hash.
    #[test]
    fn split_writes_equal_one_write() {
        let msg: Vec<u8> = (0u8..40).collect();
        let whole = hash_bytes(&msg);
        for a in 0..msg.len() {
            for b in a..msg.len() {
                let mut h = StableHasher::new();
                h.write(&msg[..a]);
                h.write(&msg[a..b]);
                h.write(&msg[b..]);
                assert_eq!(h.finish(), whole, "split at {a}, {b}");
            }
        }
    }

    /// Our SipHash-1-3 against the `siphasher` crate's, for every length up to 64.
    #[test]
    fn matches_siphasher_sip13() {
        for len in 0..64u8 {
            let msg: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let mut theirs = siphasher::sip::SipHasher13::new_with_keys(K0, K1);
            theirs.write(&msg);
            assert_eq!(hash_bytes(&msg), theirs.finish(), "length {len}");
        }
    }

    #[test]
    fn integers_are_little_endian_and_usize_is_64_bit() {
        assert_eq!(hash_key(&0x0102_0304u32), hash_bytes(&[4, 3, 2, 1]));
        assert_eq!(hash_key(&5usize), hash_key(&5u64));
        assert_eq!(hash_key(&-1isize), hash_key(&-1i64));
        assert_eq!(hash_key(&9u16), hash_bytes(&[9, 0]));
        assert_eq!(hash_key(&3u128), hash_bytes(&3u128.to_le_bytes()));
        // u64 after a partial word takes the slow path and must agree with bytes.
        let mut h = StableHasher::new();
        h.write_u8(1);
        h.write_u64(2);
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&2u64.to_le_bytes());
        assert_eq!(h.finish(), hash_bytes(&bytes));
    }

    /// Regression vectors, computed once with this implementation: if they change, every
    /// deployed placement changes with them.
    #[test]
    fn fixed_outputs_never_change() {
        assert_eq!(hash_bytes(b""), 0x9478_088f_a339_f837);
        assert_eq!(hash_bytes(b"loopwire"), 0xc7f7_d41f_6026_7f46);
        assert_eq!(hash_key(&42u64), 0x06a1_de2a_413c_3f51);
    }

    #[test]
    fn mapped_ipv6_hashes_like_ipv4() {
        let v4 = SocketAddr::from((Ipv4Addr::new(10, 1, 2, 3), 4000));
        let mapped = SocketAddr::from((Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped(), 4000));
        assert_eq!(hash_socket_addr(&v4, true), hash_socket_addr(&mapped, true));
        assert_eq!(
            hash_socket_addr(&v4, true),
            hash_bytes(&[4, 10, 1, 2, 3, 0x0f, 0xa0])
        );
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 4000));
        assert_ne!(hash_socket_addr(&v6, true), hash_socket_addr(&v4, true));
    }

    #[test]
    fn port_only_matters_with_port() {
        let a = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 1));
        let b = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 2));
        assert_eq!(hash_socket_addr(&a, false), hash_socket_addr(&b, false));
        assert_ne!(hash_socket_addr(&a, true), hash_socket_addr(&b, true));
    }

    #[test]
    fn reduce_stays_in_range() {
        for n in [1usize, 2, 3, 7, 64, 65_537] {
            assert_eq!(reduce(0, n), 0);
            assert_eq!(reduce(u64::MAX, n), n - 1);
            assert!(reduce(0x8000_0000_0000_0000, n) < n);
        }
    }
}

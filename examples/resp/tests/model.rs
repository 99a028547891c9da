//! A property test of the collection commands against a simple model: random sequences of
//! list, set, hash and sorted-set commands on a few keys, run against the server's commands
//! (in-process) and against `VecDeque`/`BTreeSet`/`BTreeMap` models; every reply's meaning
//! and every key's existence (emptied collections disappear) must agree.

mod util;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use util::Db;

/// A tiny deterministic generator (xorshift): reproducible without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[derive(Default)]
struct Model {
    lists: BTreeMap<String, VecDeque<String>>,
    sets: BTreeMap<String, BTreeSet<String>>,
    hashes: BTreeMap<String, BTreeMap<String, String>>,
    zsets: BTreeMap<String, BTreeMap<String, i64>>,
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn array<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<_> = items.into_iter().collect();
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out.push_str(&bulk(i));
    }
    out
}

#[test]
fn collections_match_the_model() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut d = Db::default();
        let mut m = Model::default();
        for step in 0..400 {
            let k = rng.next(3);
            let e = format!("e{}", rng.next(6));
            let (line, want) = match rng.next(10) {
                0 => {
                    let key = format!("l{k}");
                    let l = m.lists.entry(key.clone()).or_default();
                    l.push_front(e.clone());
                    (format!("LPUSH {key} {e}"), format!(":{}\r\n", l.len()))
                }
                1 => {
                    let key = format!("l{k}");
                    let l = m.lists.entry(key.clone()).or_default();
                    l.push_back(e.clone());
                    (format!("RPUSH {key} {e}"), format!(":{}\r\n", l.len()))
                }
                2 => {
                    let key = format!("l{k}");
                    let n = rng.next(3) as usize;
                    let want = match m.lists.get_mut(&key) {
                        None => "*-1\r\n".to_owned(),
                        Some(l) => {
                            let popped: Vec<String> =
                                (0..n).filter_map(|_| l.pop_front()).collect();
                            array(&popped)
                        }
                    };
                    (format!("LPOP {key} {n}"), want)
                }
                3 => {
                    let key = format!("l{k}");
                    let (a, b) = (rng.next(9) as i64 - 4, rng.next(9) as i64 - 4);
                    let l = m.lists.get(&key).cloned().unwrap_or_default();
                    let len = l.len() as i64;
                    let s = if a < 0 { (a + len).max(0) } else { a };
                    let t = if b < 0 { b + len } else { b.min(len - 1) };
                    let want = if s > t || s >= len {
                        "*0\r\n".to_owned()
                    } else {
                        array(l.range(s as usize..=t as usize))
                    };
                    (format!("LRANGE {key} {a} {b}"), want)
                }
                4 => {
                    let key = format!("s{k}");
                    let new = m.sets.entry(key.clone()).or_default().insert(e.clone());
                    (
                        format!("SADD {key} {e}"),
                        format!(":{}\r\n", i32::from(new)),
                    )
                }
                5 => {
                    let key = format!("s{k}");
                    // Which member SPOP takes is arbitrary: pop it from the model after.
                    let line = format!("SPOP {key}");
                    let got = d.run(&[&line]);
                    match m.sets.get_mut(&key) {
                        None => assert_eq!(got, "$-1\r\n"),
                        Some(s) => {
                            let member = got.split("\r\n").nth(1).unwrap_or_default();
                            assert!(s.remove(member), "seed {seed} step {step}: {got:?}");
                        }
                    }
                    (format!("SCARD {key}"), String::new())
                }
                6 => {
                    let key = format!("h{k}");
                    let v = format!("v{}", rng.next(100));
                    let new = m
                        .hashes
                        .entry(key.clone())
                        .or_default()
                        .insert(e.clone(), v.clone())
                        .is_none();
                    (
                        format!("HSET {key} {e} {v}"),
                        format!(":{}\r\n", i32::from(new)),
                    )
                }
                7 => {
                    let key = format!("z{k}");
                    let score = rng.next(5) as i64;
                    let new = m
                        .zsets
                        .entry(key.clone())
                        .or_default()
                        .insert(e.clone(), score)
                        .is_none();
                    (
                        format!("ZADD {key} {score} {e}"),
                        format!(":{}\r\n", i32::from(new)),
                    )
                }
                8 => {
                    let key = format!("z{k}");
                    let want = match m.zsets.get_mut(&key) {
                        None => "*0\r\n".to_owned(),
                        Some(z) => {
                            let min = z
                                .iter()
                                .map(|(member, s)| (*s, member.clone()))
                                .min()
                                .unwrap_or_default();
                            z.remove(&min.1);
                            format!("*2\r\n{}{}", bulk(&min.1), bulk(&min.0.to_string()))
                        }
                    };
                    (format!("ZPOPMIN {key}"), want)
                }
                _ => {
                    let key = format!("z{k}");
                    let z = m.zsets.get(&key).cloned().unwrap_or_default();
                    let mut order: Vec<(i64, String)> =
                        z.iter().map(|(member, s)| (*s, member.clone())).collect();
                    order.sort();
                    let members: Vec<String> = order.into_iter().map(|(_, e)| e).collect();
                    (format!("ZRANGE {key} 0 -1"), array(&members))
                }
            };
            // Emptied collections disappear from the model too.
            m.lists.retain(|_, l| !l.is_empty());
            m.sets.retain(|_, s| !s.is_empty());
            m.hashes.retain(|_, h| !h.is_empty());
            m.zsets.retain(|_, z| !z.is_empty());
            let got = d.run(&[&line]);
            let want = if line.starts_with("SCARD") {
                let key = &line[6..];
                format!(":{}\r\n", m.sets.get(key).map_or(0, BTreeSet::len))
            } else {
                want
            };
            assert_eq!(got, want, "seed {seed} step {step}: {line}");
            let keys = m.lists.len() + m.sets.len() + m.hashes.len() + m.zsets.len();
            assert_eq!(
                d.run(&["DBSIZE"]),
                format!(":{keys}\r\n"),
                "seed {seed} step {step}"
            );
        }
    }
}

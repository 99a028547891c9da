//! The QoS1 message store ([`loopwire_push::store`]): edge cases of each call, a property
//! test of [`MemoryStore`] against a `BTreeMap` model over random call sequences, several
//! threads at once, and the memory a message and an idle user cost (a counting allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use loopwire::Bytes;
use loopwire_push::store::{
    MemoryOptions, MemoryStore, MessageId, SendVerdict, Store, StoreConfig, StoreError, StoreStats,
    Stored,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// A counting allocator: bytes requested minus bytes freed, per thread (so tests running in
// parallel do not disturb each other's figures). Counts what was asked for, not malloc's
// rounding.

struct Counting;

thread_local! {
    static NET: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = NET.try_with(|n| n.set(n.get() + delta));
}

fn net_bytes() -> isize {
    NET.with(Cell::get)
}

// SAFETY: defers every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------
// Helpers.

const SEC: u64 = 1000;

fn store(config: StoreConfig) -> MemoryStore {
    MemoryStore::new(config).expect("valid config")
}

fn small() -> StoreConfig {
    StoreConfig {
        per_user_cap: 3,
        default_ttl: Duration::from_secs(10),
        max_ttl: Duration::from_secs(60),
        max_attempts: 2,
        max_payload: 8,
        max_user: 8,
    }
}

fn msg(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn ids(v: &[Stored]) -> Vec<u64> {
    v.iter().map(|s| s.id.0).collect()
}

fn all(s: &dyn Store, user: &[u8], now: u64) -> Vec<u64> {
    ids(&s.pending(user, None, usize::MAX, now).unwrap())
}

/// `put == stored + every way out`.
fn conserved(st: &StoreStats) -> bool {
    st.put == st.stored + st.acked + st.expired + st.dropped_cap + st.dropped_attempts + st.removed
}

// ---------------------------------------------------------------------------------------
// Edge cases.

#[test]
fn usable_as_a_trait_object() {
    let s: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let id = s.put(b"alice", msg("hi"), None, 0).unwrap();
    let p = s.pending(b"alice", None, 10, 0).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].id, id);
    assert_eq!(p[0].payload, msg("hi"));
    assert_eq!(p[0].expires_at, 24 * 3600 * SEC);
    assert_eq!(p[0].attempts, 0);
    assert!(format!("{s:?}").contains("MemoryStore"));
}

#[test]
fn put_many_is_put_for_each_user_with_ids_in_their_order() {
    let s = store(small());
    let users: Vec<Vec<u8>> = (0..40).map(|i| format!("u{i}").into_bytes()).collect();
    let names: Vec<&[u8]> = users.iter().map(Vec::as_slice).collect();
    let before = s.put(b"u7", msg("old"), None, 0).unwrap();
    let ids = s.put_many(&names, msg("hi"), None, 5).unwrap();
    assert_eq!(ids.len(), 40);
    for (user, id) in names.iter().zip(&ids) {
        let p = s.pending(user, None, 10, 5).unwrap();
        let last = p.last().unwrap();
        assert_eq!(
            (last.id, &last.payload, last.expires_at),
            (*id, &msg("hi"), 5 + 10 * SEC)
        );
    }
    // Ids still grow per user, and are unique.
    assert!(ids[7] > before);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 40);
    assert_eq!(s.stats().unwrap().put, 41);
    // A bad user anywhere: refused before anything is stored.
    let bad: [&[u8]; 2] = [b"u1", b""];
    assert!(s.put_many(&bad, msg("x"), None, 5).is_err());
    assert_eq!(s.stats().unwrap().put, 41);
    assert!(s.put_many(&[], msg("x"), None, 5).unwrap().is_empty());
}

#[test]
fn bad_input_is_a_typed_error_in_every_call() {
    let s = store(small());
    let long = [b'x'; 9];
    let e = |r: Result<MessageId, StoreError>| r.unwrap_err();
    assert!(matches!(
        e(s.put(b"", msg("x"), None, 0)),
        StoreError::EmptyUser
    ));
    assert!(matches!(
        e(s.put(&long, msg("x"), None, 0)),
        StoreError::UserTooLong { len: 9, max: 8 }
    ));
    assert!(matches!(
        e(s.put(b"u", msg("123456789"), None, 0)),
        StoreError::PayloadTooLarge { len: 9, max: 8 }
    ));
    assert!(matches!(
        e(s.put(b"u", msg("x"), Some(Duration::ZERO), 0)),
        StoreError::TtlTooShort(_)
    ));
    assert!(matches!(
        e(s.put(b"u", msg("x"), Some(Duration::from_micros(999)), 0)),
        StoreError::TtlTooShort(_)
    ));
    assert!(matches!(
        e(s.put(b"u", msg("x"), Some(Duration::from_millis(60_001)), 0)),
        StoreError::TtlTooLong { .. }
    ));
    // The limits themselves are fine; an empty payload too.
    s.put(
        &long[..8],
        msg("12345678"),
        Some(Duration::from_secs(60)),
        0,
    )
    .unwrap();
    s.put(b"u", Bytes::new(), Some(Duration::from_millis(1)), 0)
        .unwrap();

    for user in [&b""[..], &long[..]] {
        assert!(s.pending(user, None, 1, 0).is_err());
        assert!(s.mark_sent(user, MessageId(1), 0).is_err());
        assert!(s.mark_sent_many(user, &[MessageId(1)], 0).is_err());
        assert!(s.ack(user, MessageId(1), 0).is_err());
        assert!(s.ack_many(user, &[MessageId(1)], 0).is_err());
        assert!(s.ack_up_to(user, MessageId(1), 0).is_err());
        assert!(s.remove_user(user, 0).is_err());
    }
    let st = s.stats().unwrap();
    assert_eq!((st.put, st.stored), (2, 2));
    // Errors display their numbers.
    let msg = e(s.put(b"u", msg("123456789"), None, 0)).to_string();
    assert!(msg.contains('9') && msg.contains('8'), "{msg}");
}

#[test]
fn bad_config_is_refused() {
    let bad = [
        StoreConfig {
            per_user_cap: 0,
            ..small()
        },
        StoreConfig {
            max_attempts: 0,
            ..small()
        },
        StoreConfig {
            max_user: 0,
            ..small()
        },
        StoreConfig {
            default_ttl: Duration::from_micros(10),
            ..small()
        },
        StoreConfig {
            default_ttl: Duration::from_secs(61),
            ..small()
        },
    ];
    for c in bad {
        assert!(matches!(
            MemoryStore::new(c),
            Err(StoreError::InvalidConfig(_))
        ));
    }
    for shards in [0, 4097] {
        let o = MemoryOptions {
            shards,
            first_id: 0,
        };
        assert!(MemoryStore::with_options(small(), o).is_err());
    }
    assert!(StoreConfig::default().validate().is_ok());
}

#[test]
fn expired_exactly_at_put_time_plus_ttl() {
    let s = store(small());
    let t0 = 1_000;
    let a = s
        .put(b"u", msg("a"), Some(Duration::from_millis(100)), t0)
        .unwrap();
    let b = s
        .put(b"u", msg("b"), Some(Duration::from_millis(100)), t0)
        .unwrap();
    let c = s
        .put(b"u", msg("c"), Some(Duration::from_millis(101)), t0)
        .unwrap();
    let p = s.pending(b"u", None, 10, t0 + 99).unwrap();
    assert_eq!(ids(&p), [a.0, b.0, c.0]);
    assert_eq!(p[0].expires_at, t0 + 100);
    // At expires_at: gone for every call.
    assert_eq!(s.mark_sent(b"u", a, t0 + 100).unwrap(), SendVerdict::Gone);
    assert!(!s.ack(b"u", b, t0 + 100).unwrap());
    assert_eq!(all(&s, b"u", t0 + 100), [c.0]);
    assert_eq!(all(&s, b"u", t0 + 101), Vec::<u64>::new());
    assert_eq!(s.users(), 0);
    let st = s.stats().unwrap();
    assert_eq!((st.expired, st.acked, st.stored), (3, 0, 0));
}

#[test]
fn full_user_drops_its_oldest_unexpired_message() {
    let s = store(small()); // cap 3
    let put = |now| s.put(b"u", msg("m"), None, now).unwrap().0;
    let v: Vec<u64> = (0..5).map(|_| put(0)).collect();
    assert_eq!(all(&s, b"u", 0), v[2..]);
    assert_eq!(s.stats().unwrap().dropped_cap, 2);
    // Another user is not affected.
    s.put(b"w", msg("m"), None, 0).unwrap();
    assert_eq!(all(&s, b"u", 0).len(), 3);

    // Expired messages make room before any unexpired one is dropped.
    let s = store(small());
    let short = Some(Duration::from_millis(5));
    let old: Vec<u64> = (0..2)
        .map(|_| s.put(b"u", msg("m"), short, 0).unwrap().0)
        .collect();
    let keep = s.put(b"u", msg("m"), None, 0).unwrap().0;
    let new = s.put(b"u", msg("m"), None, 5).unwrap().0;
    assert!(old.iter().all(|&o| o < keep));
    assert_eq!(all(&s, b"u", 5), [keep, new]);
    let st = s.stats().unwrap();
    assert_eq!((st.dropped_cap, st.expired, st.stored), (0, 2, 2));
}

#[test]
fn sent_at_most_max_attempts_times() {
    let s = store(small()); // max_attempts 2
    let id = s.put(b"u", msg("m"), None, 0).unwrap();
    assert_eq!(
        s.mark_sent(b"u", id, 0).unwrap(),
        SendVerdict::Send { attempt: 1 }
    );
    assert_eq!(s.pending(b"u", None, 1, 0).unwrap()[0].attempts, 1);
    assert_eq!(
        s.mark_sent(b"u", id, 1).unwrap(),
        SendVerdict::Send { attempt: 2 }
    );
    assert_eq!(s.mark_sent(b"u", id, 2).unwrap(), SendVerdict::Exhausted);
    assert_eq!(s.mark_sent(b"u", id, 3).unwrap(), SendVerdict::Gone);
    assert!(!s.ack(b"u", id, 3).unwrap());
    assert_eq!(all(&s, b"u", 3), Vec::<u64>::new());
    let st = s.stats().unwrap();
    assert_eq!((st.dropped_attempts, st.stored, st.acked), (1, 0, 0));

    // An ACK in time keeps it from being dropped.
    let id = s.put(b"u", msg("m"), None, 0).unwrap();
    assert_eq!(
        s.mark_sent_many(b"u", &[id, id, MessageId(7)], 0).unwrap(),
        [
            SendVerdict::Send { attempt: 1 },
            SendVerdict::Send { attempt: 2 },
            SendVerdict::Gone
        ]
    );
    assert!(s.ack(b"u", id, 0).unwrap());
}

#[test]
fn ack_is_idempotent_and_foreign_ids_are_false() {
    let s = store(small());
    let a = s.put(b"alice", msg("a"), None, 0).unwrap();
    let b = s.put(b"bob", msg("b"), None, 0).unwrap();
    assert!(!s.ack(b"alice", b, 0).unwrap(), "bob's id");
    assert!(!s.ack(b"alice", MessageId(0), 0).unwrap());
    assert!(!s.ack(b"alice", MessageId(u64::MAX), 0).unwrap());
    assert!(!s.ack(b"carol", a, 0).unwrap(), "no such user");
    assert_eq!(s.mark_sent(b"bob", a, 0).unwrap(), SendVerdict::Gone);
    assert!(s.ack(b"alice", a, 0).unwrap());
    assert!(!s.ack(b"alice", a, 0).unwrap(), "second ACK");
    assert_eq!(s.ack_many(b"bob", &[b, b, a], 0).unwrap(), 1);
    let st = s.stats().unwrap();
    assert_eq!((st.acked, st.stored), (2, 0));
    assert_eq!(s.users(), 0);
}

#[test]
fn ids_grow_per_user_across_emptiness_and_are_unique() {
    let o = MemoryOptions {
        shards: 4,
        first_id: 1_000_000,
    };
    let s = MemoryStore::with_options(small(), o).unwrap();
    let mut seen = HashSet::new();
    let mut last = BTreeMap::new();
    for round in 0..50 {
        for user in [&b"a"[..], b"b", b"c", b"d", b"e"] {
            let id = s.put(user, msg("m"), None, round).unwrap();
            assert!(id.0 > 1_000_000);
            assert!(seen.insert(id), "{id} issued twice");
            let prev = last.insert(user, id).unwrap_or(MessageId(0));
            assert!(id > prev, "{user:?}: {id} after {prev}");
            // The user empties (no memory kept for it), and its ids still grow.
            assert!(s.ack(user, id, round).unwrap());
        }
        assert_eq!(s.users(), 0);
    }
}

#[test]
fn ids_run_out_with_an_error_not_a_panic() {
    for shards in [1, 64] {
        let o = MemoryOptions {
            shards,
            first_id: u64::MAX - 200,
        };
        let s = MemoryStore::with_options(StoreConfig::default(), o).unwrap();
        let mut last = 0;
        let err = loop {
            match s.put(b"u", msg("m"), None, 0) {
                Ok(id) => {
                    assert!(id.0 > last);
                    last = id.0;
                }
                Err(e) => break e,
            }
        };
        assert!(matches!(err, StoreError::IdsExhausted), "{err}");
        assert!(matches!(
            s.put(b"u", msg("m"), None, 0),
            Err(StoreError::IdsExhausted)
        ));
    }
}

#[test]
fn pending_pages_with_after_and_limit() {
    let s = store(StoreConfig::default());
    let v: Vec<u64> = (0..10)
        .map(|_| s.put(b"u", msg("m"), None, 0).unwrap().0)
        .collect();
    assert_eq!(ids(&s.pending(b"u", None, 4, 0).unwrap()), v[..4]);
    assert_eq!(
        ids(&s.pending(b"u", Some(MessageId(v[3])), 4, 0).unwrap()),
        v[4..8]
    );
    // `after` need not be an id of the user.
    assert_eq!(
        ids(&s.pending(b"u", Some(MessageId(v[7] + 1)), 4, 0).unwrap()),
        v[8..]
    );
    assert!(s.pending(b"u", None, 0, 0).unwrap().is_empty());
    assert!(
        s.pending(b"u", Some(MessageId(u64::MAX)), 4, 0)
            .unwrap()
            .is_empty()
    );
    assert!(s.pending(b"nobody", None, 4, 0).unwrap().is_empty());
    assert_eq!(s.stats().unwrap().stored, 10);
}

#[test]
fn ack_up_to_remove_user_and_clear() {
    let s = store(StoreConfig::default());
    let v: Vec<u64> = (0..6)
        .map(|_| s.put(b"u", msg("m"), None, 0).unwrap().0)
        .collect();
    assert_eq!(s.ack_up_to(b"u", MessageId(v[2]), 0).unwrap(), 3);
    assert_eq!(s.ack_up_to(b"u", MessageId(v[2]), 0).unwrap(), 0);
    assert_eq!(all(&s, b"u", 0), v[3..]);
    assert_eq!(s.remove_user(b"u", 0).unwrap(), 3);
    assert_eq!(s.remove_user(b"u", 0).unwrap(), 0);
    s.put(b"a", msg("m"), None, 0).unwrap();
    s.put(b"b", msg("m"), Some(Duration::from_millis(1)), 0)
        .unwrap();
    assert_eq!(s.clear(1), 1, "b had expired");
    assert_eq!(s.users(), 0);
    let st = s.stats().unwrap();
    assert_eq!(
        (st.put, st.acked, st.removed, st.expired, st.stored),
        (8, 3, 4, 1, 0)
    );
}

#[test]
fn purge_expired_is_bounded_and_reaches_everything() {
    let o = MemoryOptions {
        shards: 8,
        first_id: 0,
    };
    let s = MemoryStore::with_options(StoreConfig::default(), o).unwrap();
    for i in 0..100u64 {
        let user = format!("user{}", i % 17);
        let ttl = Duration::from_millis(1 + i % 10);
        s.put(user.as_bytes(), msg("m"), Some(ttl), 0).unwrap();
    }
    s.put(b"late", msg("m"), None, 0).unwrap();
    assert_eq!(s.purge_expired(5, 0).unwrap(), 0);
    // Due by 5 ms: ttl 1..=5, i.e. 50 messages.
    let mut n = 0;
    loop {
        let k = s.purge_expired(5, 7).unwrap();
        assert!(k <= 7);
        if k == 0 {
            break;
        }
        n += k;
    }
    assert_eq!(n, 50);
    assert_eq!(s.purge_expired(SEC, usize::MAX).unwrap(), 50);
    assert_eq!(s.users(), 1);
    let st = s.stats().unwrap();
    assert_eq!((st.expired, st.stored), (100, 1));
}

// ---------------------------------------------------------------------------------------
// Memory.

/// Net bytes `f` leaves allocated.
fn retained(f: impl FnOnce()) -> isize {
    let before = net_bytes();
    f();
    net_bytes() - before
}

#[test]
fn memory_overhead() {
    let config = StoreConfig {
        per_user_cap: 10_000,
        ..StoreConfig::default()
    };
    let payload = |_| Bytes::from(vec![7u8; 100]);
    let names = |n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("user-{i:010}").into_bytes())
            .collect()
    };

    // Many messages for few users: the per-message overhead. 4096 a user fills each queue's
    // buffer exactly (it doubles from 1); just after a doubling, add up to 56 B a message.
    let s = store(config.clone());
    let users = names(10);
    let n = 10 * 4096;
    let per_msg = retained(|| {
        for i in 0..n {
            s.put(&users[i % 10], payload(i), None, 0).unwrap();
        }
        // Handing messages out gives each `Bytes` its shared header.
        for u in &users {
            drop(s.pending(u, None, usize::MAX, 0).unwrap());
        }
    }) as f64
        / n as f64
        - 100.0;

    // One message for each of many users: the per-user overhead on top.
    let s = store(config.clone());
    let users = names(20_000);
    let one_each = retained(|| {
        for (i, u) in users.iter().enumerate() {
            s.put(u, payload(i), None, 0).unwrap();
            drop(s.pending(u, None, 1, 0).unwrap());
        }
    }) as f64
        / 20_000.0
        - 100.0;
    let per_user = one_each - per_msg;
    println!(
        "per message: {per_msg:.0} B + payload; a user with one message: {one_each:.0} B \
         ({per_user:.0} B for the user)"
    );
    assert!(per_msg < 100.0, "{per_msg} bytes per message");
    assert!(per_user < 220.0, "{per_user} bytes per user");

    // A user whose messages are gone costs nothing: users come and go, memory stays flat.
    let s = store(config);
    let users = names(10_000);
    let cycle = |s: &MemoryStore, users: &[Vec<u8>]| {
        for u in users {
            let id = s.put(u, Bytes::from_static(b"m"), None, 0).unwrap();
            assert!(s.ack(u, id, 0).unwrap());
        }
    };
    // Warm up: every shard's table and index root (per shard, not per user).
    cycle(&s, &users[..5_000]);
    let idle = retained(|| cycle(&s, &users[5_000..]));
    assert_eq!(idle, 0, "{idle} bytes kept for users without messages");
    assert_eq!(s.users(), 0);

    // And a store that held many users gives the tables back.
    let s = store(StoreConfig::default());
    let freed = retained(|| {
        for u in &users {
            s.put(u, Bytes::from_static(b"m"), None, 0).unwrap();
        }
        for u in &users {
            s.remove_user(u, 0).unwrap();
        }
        s.purge_expired(0, 1).unwrap();
    });
    assert!(freed < 64 * 512, "{freed} bytes kept after every user left");
}

// ---------------------------------------------------------------------------------------
// Threads.

#[test]
fn threads_putting_and_acking_overlapping_users_keep_counts_consistent() {
    const THREADS: usize = 8;
    const PUTS: usize = 2_000;
    const USERS: usize = 6;
    let o = MemoryOptions {
        shards: 4,
        first_id: 0,
    };
    let config = StoreConfig {
        per_user_cap: 1_000_000,
        max_attempts: 3,
        ..StoreConfig::default()
    };
    let s = Arc::new(MemoryStore::with_options(config, o).unwrap());
    let users: Arc<Vec<Vec<u8>>> = Arc::new((0..USERS).map(|i| vec![b'u', i as u8]).collect());

    struct Seen {
        put: Vec<MessageId>,
        acked: Vec<MessageId>,
        exhausted: Vec<MessageId>,
    }
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (s, users) = (Arc::clone(&s), Arc::clone(&users));
            thread::spawn(move || {
                let mut seen = Seen {
                    put: Vec::new(),
                    acked: Vec::new(),
                    exhausted: Vec::new(),
                };
                let mut last = [MessageId(0); USERS];
                for k in 0..PUTS {
                    let u = (t + k) % USERS;
                    let id = s.put(&users[u], msg("m"), None, 0).unwrap();
                    assert!(id > last[u], "ids of one user grow");
                    last[u] = id;
                    seen.put.push(id);
                    if k % 3 != 0 {
                        continue;
                    }
                    // Deliver to some user, as a session's loop would: others may too.
                    let v = (t * 7 + k) % USERS;
                    let p = s.pending(&users[v], None, 8, 0).unwrap();
                    let ids: Vec<MessageId> = p.iter().map(|m| m.id).collect();
                    let verdicts = s.mark_sent_many(&users[v], &ids, 0).unwrap();
                    for (&id, verdict) in ids.iter().zip(verdicts) {
                        let sent = matches!(verdict, SendVerdict::Send { .. });
                        if verdict == SendVerdict::Exhausted {
                            seen.exhausted.push(id);
                        } else if sent && k % 2 == 0 && s.ack(&users[v], id, 0).unwrap() {
                            seen.acked.push(id);
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let janitor = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            for _ in 0..2_000 {
                assert_eq!(s.purge_expired(0, 16).unwrap(), 0);
                assert!(conserved(&s.stats().unwrap()));
            }
        })
    };
    let seen: Vec<Seen> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    janitor.join().unwrap();

    let put: HashSet<MessageId> = seen.iter().flat_map(|x| x.put.iter().copied()).collect();
    let acked: Vec<MessageId> = seen.iter().flat_map(|x| x.acked.iter().copied()).collect();
    let exhausted: Vec<MessageId> = seen
        .iter()
        .flat_map(|x| x.exhausted.iter().copied())
        .collect();
    assert_eq!(put.len(), THREADS * PUTS, "ids unique");
    let st = s.stats().unwrap();
    assert!(conserved(&st));
    assert_eq!(st.put as usize, THREADS * PUTS);
    assert_eq!(st.acked as usize, acked.len(), "one true per acked id");
    assert_eq!(st.dropped_attempts as usize, exhausted.len());
    assert_eq!(
        st.stored as usize,
        THREADS * PUTS - acked.len() - exhausted.len()
    );

    // Drain: every id ends exactly once as acked or exhausted.
    let mut ends: Vec<MessageId> = acked.into_iter().chain(exhausted).collect();
    for u in users.iter() {
        let rest: Vec<MessageId> = s
            .pending(u, None, usize::MAX, 0)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(s.ack_many(u, &rest, 0).unwrap(), rest.len());
        ends.extend(rest);
    }
    let n = ends.len();
    let ends: HashSet<MessageId> = ends.into_iter().collect();
    assert_eq!(n, ends.len(), "an id ended twice");
    assert_eq!(ends, put);
    assert_eq!(s.users(), 0);
    assert_eq!(s.stats().unwrap().stored, 0);
}

// ---------------------------------------------------------------------------------------
// The model: each user's unexpired, undropped, unacknowledged messages in a `BTreeMap` by
// id. Expiry is eager in the model (at each time step) and lazy in the store, so the
// store's `expired` may lag: `stored + expired` must match, and everything else exactly;
// after a full purge `stored` and `expired` match too.

const CAP: usize = 4;
const ATTEMPTS: u32 = 3;
const MAX_TTL: u64 = 200;
const MAX_PAYLOAD: usize = 16;

/// Users 0..3 are valid; 3 is empty, 4 too long.
const USERS: usize = 5;
const VALID: usize = 3;

fn user_name(u: usize) -> Vec<u8> {
    match u {
        3 => Vec::new(),
        4 => vec![b'z'; 65],
        _ => format!("user{u}").into_bytes(),
    }
}

#[derive(Debug, Clone)]
struct Msg {
    payload: Bytes,
    expires_at: u64,
    attempts: u32,
}

#[derive(Debug, Default)]
struct Model {
    now: u64,
    users: Vec<BTreeMap<u64, Msg>>,
    last_id: Vec<u64>,
    /// Every id the store issued, for picking (some other user's, some gone).
    issued: Vec<u64>,
    stats: StoreStats,
}

impl Model {
    fn new() -> Self {
        Self {
            users: vec![BTreeMap::new(); VALID],
            last_id: vec![0; VALID],
            ..Self::default()
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        let now = self.now;
        for q in &mut self.users {
            let before = q.len();
            q.retain(|_, m| now < m.expires_at);
            let gone = (before - q.len()) as u64;
            self.stats.expired += gone;
            self.stats.stored -= gone;
        }
    }

    fn pick(&self, p: Pick) -> MessageId {
        MessageId(match p {
            Pick::Issued(i) if !self.issued.is_empty() => self.issued[i % self.issued.len()],
            Pick::Issued(_) => 1,
            Pick::Any(id) => id,
        })
    }

    fn remove(&mut self, u: usize, id: u64) -> Option<Msg> {
        let m = self.users[u].remove(&id)?;
        self.stats.stored -= 1;
        Some(m)
    }
}

#[derive(Debug, Clone, Copy)]
enum Pick {
    Issued(usize),
    Any(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        user: usize,
        ttl: Option<Duration>,
        len: usize,
    },
    Pending {
        user: usize,
        after: Option<Pick>,
        limit: usize,
    },
    MarkSent {
        user: usize,
        ids: Vec<Pick>,
    },
    Ack {
        user: usize,
        ids: Vec<Pick>,
    },
    AckUpTo {
        user: usize,
        id: Pick,
    },
    RemoveUser {
        user: usize,
    },
    Purge {
        budget: usize,
    },
    Advance(u64),
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => any::<usize>().prop_map(Pick::Issued),
        1 => prop_oneof![Just(0), Just(u64::MAX), any::<u64>()].prop_map(Pick::Any),
    ]
}

fn user() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0..VALID, 1 => VALID..USERS]
}

fn ttl() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        3 => Just(None),
        6 => (1..=MAX_TTL).prop_map(|ms| Some(Duration::from_millis(ms))),
        1 => prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::from_micros(999)),
            (MAX_TTL + 1..MAX_TTL + 50).prop_map(Duration::from_millis),
        ]
        .prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (user(), ttl(), 0..=MAX_PAYLOAD + 2).prop_map(|(user, ttl, len)| Op::Put { user, ttl, len }),
        4 => (user(), proptest::option::of(pick()), 0..7usize)
            .prop_map(|(user, after, limit)| Op::Pending { user, after, limit }),
        5 => (user(), proptest::collection::vec(pick(), 1..4))
            .prop_map(|(user, ids)| Op::MarkSent { user, ids }),
        4 => (user(), proptest::collection::vec(pick(), 1..3))
            .prop_map(|(user, ids)| Op::Ack { user, ids }),
        1 => (user(), pick()).prop_map(|(user, id)| Op::AckUpTo { user, id }),
        1 => user().prop_map(|user| Op::RemoveUser { user }),
        2 => prop_oneof![0..4usize, Just(usize::MAX)].prop_map(|budget| Op::Purge { budget }),
        4 => prop_oneof![0..5u64, 5..80u64, Just(MAX_TTL)].prop_map(Op::Advance),
    ]
}

fn check_stats(s: &MemoryStore, m: &Model) -> Result<(), TestCaseError> {
    let st = s.stats().unwrap();
    let want = m.stats;
    prop_assert!(conserved(&st), "{st:?}");
    prop_assert_eq!(
        (
            st.put,
            st.acked,
            st.dropped_cap,
            st.dropped_attempts,
            st.removed
        ),
        (
            want.put,
            want.acked,
            want.dropped_cap,
            want.dropped_attempts,
            want.removed
        )
    );
    prop_assert!(st.expired <= want.expired, "{st:?} vs {want:?}");
    prop_assert_eq!(st.stored + st.expired, want.stored + want.expired);
    Ok(())
}

fn run(ops: Vec<Op>, shards: usize, first_id: u64) -> Result<(), TestCaseError> {
    let config = StoreConfig {
        per_user_cap: CAP,
        default_ttl: Duration::from_millis(50),
        max_ttl: Duration::from_millis(MAX_TTL),
        max_attempts: ATTEMPTS,
        max_payload: MAX_PAYLOAD,
        max_user: 64,
    };
    let s = MemoryStore::with_options(config, MemoryOptions { shards, first_id }).unwrap();
    let mut m = Model::new();
    let mut unique = HashSet::new();
    for op in ops {
        let now = m.now;
        match op {
            Op::Put { user: u, ttl, len } => {
                let payload = Bytes::from(vec![u as u8; len]);
                let r = s.put(&user_name(u), payload.clone(), ttl, now);
                let ttl_ms = ttl.map_or(50, |t| t.as_millis() as u64);
                if u >= VALID || len > MAX_PAYLOAD || ttl_ms == 0 || ttl_ms > MAX_TTL {
                    prop_assert!(r.is_err(), "{r:?}");
                    continue;
                }
                let id = r.unwrap().0;
                prop_assert!(id > m.last_id[u] && id > first_id);
                prop_assert!(unique.insert(id), "id {} twice", id);
                m.last_id[u] = id;
                m.issued.push(id);
                if m.users[u].len() >= CAP {
                    let oldest = *m.users[u].keys().next().unwrap();
                    m.remove(u, oldest);
                    m.stats.dropped_cap += 1;
                }
                m.users[u].insert(
                    id,
                    Msg {
                        payload,
                        expires_at: now + ttl_ms,
                        attempts: 0,
                    },
                );
                m.stats.put += 1;
                m.stats.stored += 1;
            }
            Op::Pending {
                user: u,
                after,
                limit,
            } => {
                let after = after.map(|p| m.pick(p));
                let r = s.pending(&user_name(u), after, limit, now);
                if u >= VALID {
                    prop_assert!(r.is_err());
                    continue;
                }
                let low = after.map_or(0, |a| a.0.saturating_add(1));
                let want: Vec<Stored> = if after.is_some_and(|a| a.0 == u64::MAX) {
                    Vec::new()
                } else {
                    m.users[u]
                        .range(low..)
                        .take(limit)
                        .map(|(&id, msg)| Stored {
                            id: MessageId(id),
                            payload: msg.payload.clone(),
                            expires_at: msg.expires_at,
                            attempts: msg.attempts,
                        })
                        .collect()
                };
                prop_assert_eq!(r.unwrap(), want);
            }
            Op::MarkSent { user: u, ids } => {
                let ids: Vec<MessageId> = ids.into_iter().map(|p| m.pick(p)).collect();
                let r = if ids.len() == 1 {
                    s.mark_sent(&user_name(u), ids[0], now).map(|v| vec![v])
                } else {
                    s.mark_sent_many(&user_name(u), &ids, now)
                };
                if u >= VALID {
                    prop_assert!(r.is_err());
                    continue;
                }
                let mut want = Vec::new();
                for id in &ids {
                    want.push(match m.users[u].get_mut(&id.0) {
                        None => SendVerdict::Gone,
                        Some(msg) if msg.attempts >= ATTEMPTS => {
                            m.remove(u, id.0);
                            m.stats.dropped_attempts += 1;
                            SendVerdict::Exhausted
                        }
                        Some(msg) => {
                            msg.attempts += 1;
                            SendVerdict::Send {
                                attempt: msg.attempts,
                            }
                        }
                    });
                }
                prop_assert_eq!(r.unwrap(), want);
            }
            Op::Ack { user: u, ids } => {
                let ids: Vec<MessageId> = ids.into_iter().map(|p| m.pick(p)).collect();
                let r = if ids.len() == 1 {
                    s.ack(&user_name(u), ids[0], now).map(usize::from)
                } else {
                    s.ack_many(&user_name(u), &ids, now)
                };
                if u >= VALID {
                    prop_assert!(r.is_err());
                    continue;
                }
                let mut want = 0;
                for id in &ids {
                    if m.remove(u, id.0).is_some() {
                        m.stats.acked += 1;
                        want += 1;
                    }
                }
                prop_assert_eq!(r.unwrap(), want);
            }
            Op::AckUpTo { user: u, id } => {
                let id = m.pick(id);
                let r = s.ack_up_to(&user_name(u), id, now);
                if u >= VALID {
                    prop_assert!(r.is_err());
                    continue;
                }
                let gone: Vec<u64> = m.users[u].range(..=id.0).map(|(&k, _)| k).collect();
                for k in &gone {
                    m.remove(u, *k);
                }
                m.stats.acked += gone.len() as u64;
                prop_assert_eq!(r.unwrap(), gone.len());
            }
            Op::RemoveUser { user: u } => {
                let r = s.remove_user(&user_name(u), now);
                if u >= VALID {
                    prop_assert!(r.is_err());
                    continue;
                }
                let n = m.users[u].len();
                m.users[u].clear();
                m.stats.stored -= n as u64;
                m.stats.removed += n as u64;
                prop_assert_eq!(r.unwrap(), n);
            }
            Op::Purge { budget } => {
                let before = s.stats().unwrap().expired;
                let k = s.purge_expired(now, budget).unwrap();
                prop_assert!(k <= budget);
                prop_assert_eq!(s.stats().unwrap().expired, before + k as u64);
                if budget == usize::MAX {
                    prop_assert_eq!(s.stats().unwrap(), m.stats);
                }
            }
            Op::Advance(ms) => m.advance(ms),
        }
        check_stats(&s, &m)?;
    }
    s.purge_expired(m.now, usize::MAX).unwrap();
    prop_assert_eq!(s.stats().unwrap(), m.stats);
    let live = m.users.iter().filter(|q| !q.is_empty()).count();
    prop_assert_eq!(s.users(), live, "users without messages must not be kept");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn memory_store_matches_the_model(
        ops in proptest::collection::vec(op(), 1..80),
        shards in prop_oneof![Just(1usize), Just(2), 1..9usize],
        first_id in prop_oneof![Just(0u64), 0..10_000u64],
    ) {
        run(ops, shards, first_id)?;
    }
}

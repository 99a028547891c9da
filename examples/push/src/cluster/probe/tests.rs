//! The probe against a real `redis-server` (the cluster tests' helper; skipped without one).

use super::*;

use crate::cluster::test_redis as redis_util;

/// Every path does the calls it is asked for, with the gateway's commands (the queues,
/// the registry entries), not merely some traffic.
#[test]
fn every_path_makes_every_call() {
    let Some(redis) = redis_util::Redis::start() else {
        return;
    };
    let url = redis.url();
    let calls = 2 * USERS + 7;
    // The puts of one run for user `u`.
    let puts = |u: usize| (0..calls).filter(|i| i % 3 == 0 && i % USERS == u).count();
    for (n, path) in Path::ALL.into_iter().enumerate() {
        for k in [1, 8] {
            let s = measure(&url, path, calls, k).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert!(s.calls_per_sec > 0.0 && s.p50 <= s.p99, "{path:?} {s:?}");
        }
        let mut c = redis.conn().expect("redis is up");
        let runs = 2 * (n + 1); // two per path so far
        let q0: usize = redis::cmd("ZCARD")
            .arg("lw:q:probe0")
            .query(&mut c)
            .expect("ZCARD");
        let q1: usize = redis::cmd("ZCARD")
            .arg("lw:q:probe1")
            .query(&mut c)
            .expect("ZCARD");
        assert_eq!((q0, q1), (runs * puts(0), runs * puts(1)), "{path:?}");
        let reg: Option<String> = redis::cmd("HGET")
            .arg("lw:u:probe2")
            .arg("probe-node")
            .query(&mut c)
            .expect("HGET");
        assert_eq!(reg.as_deref(), Some("1 9999999999999"), "{path:?}");
    }
    cleanup(&url).expect("cleanup");
    let mut c = redis.conn().expect("redis is up");
    let left: usize = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    assert_eq!(left, 0);
}

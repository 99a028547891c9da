//! Criterion benchmarks of `TimerWheel` against its peers, all measured in the same run:
//! `BinaryHeap` with lazy cancellation, `BTreeMap`, and `tokio_util::time::DelayQueue`
//! (see `peers/`). Each benchmark runs at 10 k, 100 k and 1 M timers and reports the time to
//! treat all of them once (throughput is per timer).
//!
//! - `insert`: insert N timers spread over one minute into an empty structure with capacity.
//! - `cancel_half`: cancel every other one of N pending timers.
//! - `reset_heartbeat`: reset all N timers to `now + 30 s` (plus per-timer jitter), with `now`
//!   one millisecond later each round: the heartbeat / idle-timeout pattern. It also runs as
//!   `wheel_ticks`, on the wheel's tick API with integer milliseconds, as the engine uses it.
//! - `reset_random`: reset all N timers to fresh random deadlines within a minute.
//! - `expire`: N timers due within one second; advance through that second in 1 ms steps,
//!   handling every expired timer.
//! - `advance_idle`: one 1 ms advance with N timers pending but none due (60 to 120 days
//!   away); the cost should not depend on N.
//!
//! Run with short settings on a shared machine, for example
//! `cargo bench -p loopwire-timer --bench timer -- --warm-up-time 1 --measurement-time 3`.

mod peers;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use loopwire_timer::TimerWheel;

use peers::Timers;
use peers::btree::BTree;
use peers::delay_queue::{DelayQueueTimers, runtime};
use peers::heap::Heap;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const MS: Duration = Duration::from_millis(1);

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// A seeded xorshift so every peer sees the same deadlines.
fn offsets_micros(n: usize, below: u64, seed: u64) -> Vec<u64> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + state % below
        })
        .collect()
}

/// `n` deadlines uniformly spread over `span` after `from`.
fn deadlines(from: Instant, n: usize, span: Duration, seed: u64) -> Vec<Instant> {
    let micros = u64::try_from(span.as_micros()).expect("span fits in u64 microseconds");
    offsets_micros(n, micros, seed)
        .into_iter()
        .map(|us| from + Duration::from_micros(us))
        .collect()
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> Group<'a> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group
}

/// Runs `bench` for every peer at every size.
fn for_all(c: &mut Criterion, name: &str, bench: &dyn Fn(&mut Group<'_>, usize, Peer)) {
    let mut group = group(c, name);
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for peer in [Peer::Wheel, Peer::Heap, Peer::BTree, Peer::DelayQueue] {
            bench(&mut group, n, peer);
        }
    }
    group.finish();
}

#[derive(Clone, Copy)]
enum Peer {
    Wheel,
    Heap,
    BTree,
    DelayQueue,
}

/// Calls a generic benchmark function with the peer's type.
macro_rules! dispatch {
    ($peer:expr, $f:ident($($arg:expr),*)) => {
        match $peer {
            Peer::Wheel => $f::<TimerWheel<u64>>($($arg),*),
            Peer::Heap => $f::<Heap>($($arg),*),
            Peer::BTree => $f::<BTree>($($arg),*),
            Peer::DelayQueue => $f::<DelayQueueTimers>($($arg),*),
        }
    };
}

/// A structure holding `deadlines.len()` timers, with their keys.
fn filled<P: Timers>(start: Instant, deadlines: &[Instant]) -> (P, Vec<P::Key>) {
    let mut timers = P::new(start, deadlines.len());
    let keys = deadlines
        .iter()
        .zip(0..)
        .map(|(&d, i)| timers.insert(d, i))
        .collect();
    (timers, keys)
}

fn insert<P: Timers>(group: &mut Group<'_>, n: usize) {
    let start = Instant::now();
    let deadlines = deadlines(start, n, 60 * 1000 * MS, 1);
    let mut timers = P::new(start, n);
    group.bench_function(BenchmarkId::new(P::NAME, n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for (&deadline, value) in deadlines.iter().zip(0..) {
                    black_box(timers.insert(deadline, value));
                }
                total += t.elapsed();
                timers.clear();
            }
            total
        });
    });
}

fn cancel_half<P: Timers>(group: &mut Group<'_>, n: usize) {
    let start = Instant::now();
    let deadlines = deadlines(start, n, 60 * 1000 * MS, 2);
    let (mut timers, mut keys) = filled::<P>(start, &deadlines);
    group.bench_function(BenchmarkId::new(P::NAME, n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for &key in keys.iter().step_by(2) {
                    black_box(timers.cancel(key));
                }
                total += t.elapsed();
                // Put the cancelled half back, untimed, for the next iteration.
                for i in (0..n).step_by(2) {
                    keys[i] = timers.insert(deadlines[i], i as u64);
                }
            }
            total
        });
    });
}

fn reset_heartbeat<P: Timers>(group: &mut Group<'_>, n: usize) {
    let start = Instant::now();
    let timeout = 30 * 1000 * MS;
    let jitter: Vec<Duration> = (0..n).map(|i| (i % 64) as u32 * MS).collect();
    let initial: Vec<Instant> = jitter.iter().map(|&j| start + timeout + j).collect();
    let (mut timers, mut keys) = filled::<P>(start, &initial);
    let mut now = start;
    group.bench_function(BenchmarkId::new(P::NAME, n), |b| {
        b.iter(|| {
            now += MS;
            let deadline = now + timeout;
            for (key, &jitter) in keys.iter_mut().zip(&jitter) {
                timers.reset(key, deadline + jitter);
            }
        });
    });
}

/// `reset_heartbeat` as the engine does it: the wheel's tick API, with `now` an integer count
/// of milliseconds read once per round, no `Instant` anywhere.
fn reset_heartbeat_ticks(group: &mut Group<'_>, n: usize) {
    let timeout: u64 = 30 * 1000;
    let jitter: Vec<u64> = (0..n).map(|i| (i % 64) as u64).collect();
    let mut wheel = TimerWheel::with_capacity_ticks(n);
    let keys: Vec<_> = jitter
        .iter()
        .zip(0..)
        .map(|(&j, i)| wheel.insert_at(timeout + j, i))
        .collect();
    let mut now = 0_u64;
    group.bench_function(BenchmarkId::new("wheel_ticks", n), |b| {
        b.iter(|| {
            now += 1;
            let deadline = now + timeout;
            for (&key, &jitter) in keys.iter().zip(&jitter) {
                wheel.reset_at(key, deadline + jitter);
            }
        });
    });
}

fn reset_random<P: Timers>(group: &mut Group<'_>, n: usize) {
    let start = Instant::now();
    let deadlines = deadlines(start, n, 60 * 1000 * MS, 3);
    let (mut timers, mut keys) = filled::<P>(start, &deadlines);
    let mut round = 0_usize;
    group.bench_function(BenchmarkId::new(P::NAME, n), |b| {
        b.iter(|| {
            round += 1;
            // A different deadline for each timer every round.
            let shift = round.wrapping_mul(7_919) % n;
            for (i, key) in keys.iter_mut().enumerate() {
                timers.reset(key, deadlines[(i + shift) % n]);
            }
        });
    });
}

fn expire<P: Timers>(group: &mut Group<'_>, n: usize) {
    let start = Instant::now();
    let offsets: Vec<Duration> = offsets_micros(n, 1_000_000, 4)
        .into_iter()
        .map(Duration::from_micros)
        .collect();
    let mut timers = P::new(start, n);
    let mut window = start;
    group.bench_function(BenchmarkId::new(P::NAME, n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for (&offset, value) in offsets.iter().zip(0..) {
                    timers.insert(window + offset, value);
                }
                let t = Instant::now();
                let fired = timers.advance_steps(window, 1_000, MS);
                total += t.elapsed();
                assert_eq!(
                    fired,
                    n,
                    "{}: every timer expires within the second",
                    P::NAME
                );
                window += 1_000 * MS;
            }
            total
        });
    });
}

fn advance_idle<P: Timers>(group: &mut Group<'_>, n: usize) {
    let start = Instant::now();
    let sixty_days = Duration::from_secs(60 * 86_400);
    let far = deadlines(start + sixty_days, n, sixty_days, 5);
    let (mut timers, _keys) = filled::<P>(start, &far);
    let mut now = start;
    let mut fired = 0;
    group.bench_function(BenchmarkId::new(P::NAME, n), |b| {
        b.iter(|| {
            now += MS;
            fired += timers.advance(now);
        });
    });
    assert_eq!(fired, 0, "{}: nothing is due within 60 days", P::NAME);
}

fn main() {
    // `DelayQueue` needs a tokio runtime context for its `Sleep`; keep one entered throughout.
    let _runtime = runtime().enter();
    let mut c = Criterion::default().configure_from_args();
    for_all(&mut c, "insert", &|g, n, p| dispatch!(p, insert(g, n)));
    for_all(&mut c, "cancel_half", &|g, n, p| {
        dispatch!(p, cancel_half(g, n))
    });
    for_all(&mut c, "reset_heartbeat", &|g, n, p| {
        if matches!(p, Peer::Wheel) {
            reset_heartbeat_ticks(g, n);
        }
        dispatch!(p, reset_heartbeat(g, n))
    });
    for_all(&mut c, "reset_random", &|g, n, p| {
        dispatch!(p, reset_random(g, n))
    });
    for_all(&mut c, "expire", &|g, n, p| dispatch!(p, expire(g, n)));
    for_all(&mut c, "advance_idle", &|g, n, p| {
        dispatch!(p, advance_idle(g, n))
    });
    c.final_summary();
}

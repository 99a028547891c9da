//! loom model of the whole `ConnHandle` path against slot reuse: the caller's check and push
//! (`loopwire::loom_api::LoopShared::send`, the code behind `EngineHandle::async_write` and
//! `close`, over the real `TaskQueue`, `GenTable` and `StopState`), then the loop's second check
//! when it runs the task.
//!
//! The loop's side is a mirror of `EventLoop` (`register`, `close_now`, `run_tasks`, `live` in
//! `server/src/reactor/`): its connection table (a slab) is the loop's own, single-threaded
//! state; what crosses threads is the real code above.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_handle_path`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::thread;
use loopwire::loom_api::{LoopShared, Notify, StopState, conn_handle};
use loopwire::{ConnHandle, Error};

/// What the model's callers ask of the loop (`Task::Write` and `Task::Close`).
#[derive(Debug)]
enum Task {
    Write(ConnHandle, u8),
    Close(ConnHandle),
}

/// The loop here drains at fixed points instead of sleeping, so wakes need not do anything.
#[derive(Debug)]
struct NoWake;

impl Notify for NoWake {
    fn notify(&self) {}
}

type Shared = LoopShared<Task, NoWake>;

#[derive(Debug)]
struct Conn {
    generation: u64,
    got: Vec<u8>,
}

/// The loop's own state, after `EventLoop`: a slab of connections and the generation counter.
struct Loop {
    shared: Arc<Shared>,
    slots: Vec<Option<Conn>>,
    next_generation: u64,
    /// What each closed connection had received, by generation.
    closed: Vec<(u64, Vec<u8>)>,
}

impl Loop {
    fn new(shared: Arc<Shared>, slots: usize) -> Self {
        Self {
            shared,
            slots: (0..slots).map(|_| None).collect(),
            next_generation: 1,
            closed: Vec::new(),
        }
    }

    /// `EventLoop::register`: fill the slot, then publish its generation.
    fn register(&mut self, slot: usize) -> ConnHandle {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.slots[slot] = Some(Conn {
            generation,
            got: Vec::new(),
        });
        self.shared.gens.set(slot, generation);
        conn_handle(0, slot, generation)
    }

    /// `EventLoop::close_now`: empty the slot and mark it vacant before anything else.
    fn close_now(&mut self, slot: usize) {
        if let Some(c) = self.slots[slot].take() {
            self.shared.gens.set(slot, 0);
            self.closed.push((c.generation, c.got));
        }
    }

    /// `EventLoop::live`: the loop's second check, against the slot's current occupant.
    fn live(&self, h: ConnHandle) -> bool {
        self.slots
            .get(h.slot())
            .and_then(Option::as_ref)
            .is_some_and(|c| c.generation == h.generation())
    }

    /// `EventLoop::run_tasks`.
    fn run_tasks(&mut self) {
        let mut batch = Vec::new();
        self.shared.queue.drain_into(&mut batch);
        for task in batch {
            match task {
                Task::Write(h, b) => {
                    if self.live(h) {
                        self.slots[h.slot()].as_mut().unwrap().got.push(b);
                    }
                }
                Task::Close(h) => {
                    if self.live(h) {
                        self.close_now(h.slot());
                    }
                }
            }
        }
    }

    fn received(&self, generation: u64) -> Vec<u8> {
        let open = self.slots.iter().flatten().map(|c| (c.generation, &c.got));
        let closed = self.closed.iter().map(|(g, got)| (*g, got));
        open.chain(closed)
            .filter(|(g, _)| *g == generation)
            .flat_map(|(_, got)| got.iter().copied())
            .collect()
    }
}

/// Connection A (generation 1) in slot 0 closes and B (generation 2) takes the slot while one
/// user thread writes to A with A's handle and another writes to B, then closes it, with B's
/// handle as soon as it has it. A's bytes never reach B; a thread that has seen A's close
/// (announced with release semantics, as `on_close` would) is refused with `Closed`; B's write is
/// accepted, delivered once and before B's close.
#[test]
fn stale_handle_never_reaches_the_next_occupant() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(NoWake, 1));
        let stop = Arc::new(StopState::new(1));
        let mut lp = Loop::new(Arc::clone(&shared), 1);
        let a = lp.register(0);
        let a_closed = Arc::new(AtomicBool::new(false));
        let b_published = Arc::new(AtomicU64::new(0));

        let old_user = {
            let (shared, stop, a_closed) = (shared.clone(), stop.clone(), a_closed.clone());
            thread::spawn(move || {
                let saw_close = a_closed.load(Ordering::Acquire);
                let r = shared.send(&stop, a, Task::Write(a, b'a'));
                if saw_close {
                    assert!(matches!(r, Err(Error::Closed)), "a closed handle got {r:?}");
                }
                r.is_ok()
            })
        };
        let new_user = {
            let (shared, stop, b_pub) = (shared.clone(), stop.clone(), b_published.clone());
            thread::spawn(move || {
                let generation = b_pub.load(Ordering::Acquire);
                if generation == 0 {
                    return false;
                }
                let b = conn_handle(0, 0, generation);
                shared.send(&stop, b, Task::Write(b, b'b')).unwrap();
                shared.send(&stop, b, Task::Close(b)).unwrap();
                true
            })
        };

        // The loop: run what is queued, close A, announce it, hand the slot to B and publish
        // B's handle (as `on_open` would), run what is queued, and once more after the users
        // are done (the loop keeps running).
        lp.run_tasks();
        lp.close_now(0);
        a_closed.store(true, Ordering::Release);
        let b = lp.register(0);
        b_published.store(b.generation(), Ordering::Release);
        lp.run_tasks();
        let a_accepted = old_user.join().unwrap();
        let b_written = new_user.join().unwrap();
        lp.run_tasks();

        let to_a = lp.received(a.generation());
        assert!(to_a == b"a" || to_a.is_empty(), "A received {to_a:?}");
        assert!(a_accepted || to_a.is_empty(), "A received a refused write");
        let to_b = lp.received(b.generation());
        if b_written {
            assert_eq!(to_b, b"b", "B's write lost or repeated, or A's reached B");
            assert!(lp.slots[0].is_none(), "B's close was lost");
            assert_eq!(lp.closed.last().map(|c| c.0), Some(b.generation()));
        } else {
            assert!(to_b.is_empty(), "A's write reached B");
        }
    });
}

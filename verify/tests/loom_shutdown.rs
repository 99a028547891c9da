//! loom model of stopping an engine while it accepts, writes and closes: `stop` (the real
//! `StopState::signal` then `StopState::wait`, as `EngineHandle::stop` runs them) racing the
//! acceptor's hand-off of a new connection, an async write and an async close of an open
//! connection (the real `LoopShared::send`), over the real `TaskQueue`, `GenTable`,
//! `StopState::thread_exited` and least-connections counters.
//!
//! The loop and the acceptor are mirrors of `EventLoop::{run, run_tasks, close_now, shutdown}`
//! (`server/src/reactor/`) and `Acceptor::{run, accept}` (`server/src/reactor/acceptor.rs`): what
//! they share with other threads is the real code; their own state is a few lines here. Their
//! polls are modelled as blocking waits on an eventfd-like counter that the queue's and the
//! stop signal's wakes raise.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_shutdown`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

mod loom_support;

use loom_support::Waker;

use std::sync::Mutex as GhostMutex;

use loom::sync::Arc;
use loom::thread;
use loopwire::ConnHandle;
use loopwire::loom_api::{LoopShared, StopState, conn_handle};
use loopwire_loadbalance::{Balancer, ConnInfo, LeastConnections};

/// What the model records: bookkeeping only, outside loom's view (a plain `std` mutex, never
/// held across a loom operation), read at the end.
#[derive(Debug, Default)]
struct Log {
    /// Per connection (0: open from the start, 1: accepted during the race): socket closes.
    sockets_closed: [usize; 2],
    /// Per connection: `on_close` calls.
    on_close: [usize; 2],
    /// Bytes the connection of the start received.
    delivered: Vec<u8>,
    /// Tasks accepted by a queue, and tasks run by the loop or handed back by its `close`.
    queued: usize,
    disposed: usize,
    on_shutdown: usize,
    loop_exited: bool,
    acceptor_exited: bool,
}

type Ghost = std::sync::Arc<GhostMutex<Log>>;

fn log(g: &Ghost) -> std::sync::MutexGuard<'_, Log> {
    g.lock().unwrap()
}

/// A connection's socket: dropping it closes it.
#[derive(Debug)]
struct Sock {
    id: usize,
    log: Ghost,
}

impl Drop for Sock {
    fn drop(&mut self) {
        log(&self.log).sockets_closed[self.id] += 1;
    }
}

/// `loopwire`'s `Task`, minus the variants this model does not send.
#[derive(Debug)]
enum Task {
    Register(Sock),
    Write(ConnHandle, u8),
    Close(ConnHandle),
    Stop,
}

type Shared = LoopShared<Task, Waker>;

struct Conn {
    sock: Sock,
    generation: u64,
}

/// The loop's own state, after `EventLoop`.
struct Loop {
    shared: Arc<Shared>,
    balancer: Arc<LeastConnections>,
    slots: [Option<Conn>; 2],
    next_generation: u64,
    log: Ghost,
}

impl Loop {
    /// `EventLoop::register` (the balancer already counted the connection).
    fn register(&mut self, sock: Sock) -> ConnHandle {
        let Some(slot) = self.slots.iter().position(Option::is_none) else {
            self.balancer.on_close(0);
            return conn_handle(0, 0, 0);
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        self.slots[slot] = Some(Conn { sock, generation });
        self.shared.gens.set(slot, generation);
        conn_handle(0, slot, generation)
    }

    /// `EventLoop::close_now`.
    fn close_now(&mut self, slot: usize) {
        let Some(c) = self.slots[slot].take() else {
            return;
        };
        self.shared.gens.set(slot, 0);
        log(&self.log).on_close[c.sock.id] += 1;
        drop(c.sock);
        self.balancer.on_close(0);
    }

    fn live(&self, h: ConnHandle) -> bool {
        self.slots[h.slot()]
            .as_ref()
            .is_some_and(|c| c.generation == h.generation())
    }

    /// `EventLoop::run_tasks`: runs the whole batch; true when it held `Stop`.
    fn run_tasks(&mut self) -> bool {
        let mut batch = Vec::new();
        self.shared.queue.drain_into(&mut batch);
        let mut stop = false;
        for task in batch {
            log(&self.log).disposed += 1;
            match task {
                Task::Register(sock) => {
                    self.register(sock);
                }
                Task::Write(h, b) => {
                    if self.live(h) {
                        log(&self.log).delivered.push(b);
                    }
                }
                Task::Close(h) => {
                    if self.live(h) {
                        self.close_now(h.slot());
                    }
                }
                Task::Stop => stop = true,
            }
        }
        stop
    }

    /// `EventLoop::run` after start-up, then `EventLoop::shutdown` and the thread's exit.
    fn run(mut self, waker: &Waker, stop: &StopState) {
        loop {
            waker.0.wait();
            if self.run_tasks() {
                break;
            }
        }
        for slot in 0..self.slots.len() {
            self.close_now(slot);
        }
        for task in self.shared.queue.close() {
            log(&self.log).disposed += 1;
            if let Task::Register(sock) = task {
                self.balancer.on_close(0);
                drop(sock);
            }
        }
        log(&self.log).loop_exited = true;
        stop.thread_exited(|| log(&self.log).on_shutdown += 1);
    }
}

/// `Acceptor::run` with one connection waiting in the listener's backlog: accept it unless
/// stopping, pick its loop, count it, hand it over (or, refused by an exited loop, uncount and
/// close it); sleep in the poll until woken; exit once the flag is up. A connection still in the
/// backlog is closed with the listener.
fn acceptor(
    shared: &Shared,
    balancer: &LeastConnections,
    waker: &Waker,
    stop: &StopState,
    g: &Ghost,
) {
    let mut backlog = Some(Sock {
        id: 1,
        log: g.clone(),
    });
    while !stop.is_stopping() {
        match backlog.take() {
            // The poll reports the listener readable; `accept` checks the flag first.
            Some(sock) if !stop.is_stopping() => {
                let target = balancer.pick(&ConnInfo::default());
                balancer.on_open(target);
                match shared.queue.push(Task::Register(sock)) {
                    Ok(()) => log(g).queued += 1,
                    Err(refused) => {
                        balancer.on_close(target);
                        drop(refused);
                    }
                }
            }
            still_pending => {
                backlog = still_pending;
                waker.0.wait();
            }
        }
    }
    drop(backlog);
    log(g).acceptor_exited = true;
    stop.thread_exited(|| log(g).on_shutdown += 1);
}

/// `stop` races the acceptor handing a new connection to the loop and a user thread writing to,
/// then closing, the connection that was open from the start. In the end: `stop` returned after
/// `on_shutdown` ran exactly once and after both engine threads exited (the acceptor having seen
/// the flag, the loop having run `Stop`); each connection's socket was closed exactly once, and
/// `on_close` ran exactly once for each connection the loop registered; no task is left in the
/// queue (each accepted task was run or handed back by `close`, and the closed queue refuses
/// more); the least-connections count is back to 0; the write reached the connection at most
/// once.
#[test]
fn stop_races_accept_write_and_close() {
    loom::model(|| {
        let g: Ghost = Ghost::default();
        let loop_waker = Waker::default();
        let acceptor_waker = Waker::default();
        let shared = Arc::new(Shared::new(loop_waker.clone(), 2));
        let stop = Arc::new(StopState::new(2));
        let balancer = Arc::new(LeastConnections::new(1).unwrap());

        let mut lp = Loop {
            shared: Arc::clone(&shared),
            balancer: Arc::clone(&balancer),
            slots: [None, None],
            next_generation: 1,
            log: g.clone(),
        };
        balancer.on_open(0);
        let h0 = lp.register(Sock {
            id: 0,
            log: g.clone(),
        });

        let event_loop = {
            let (stop, waker) = (Arc::clone(&stop), loop_waker.clone());
            thread::spawn(move || lp.run(&waker, &stop))
        };
        let accept = {
            let (shared, balancer, stop) = (shared.clone(), balancer.clone(), stop.clone());
            let (waker, g) = (acceptor_waker.clone(), g.clone());
            thread::spawn(move || acceptor(&shared, &balancer, &waker, &stop, &g))
        };
        let user = {
            let (shared, stop, g) = (shared.clone(), stop.clone(), g.clone());
            thread::spawn(move || {
                for task in [Task::Write(h0, 7), Task::Close(h0)] {
                    if shared.send(&stop, h0, task).is_ok() {
                        log(&g).queued += 1;
                    }
                }
            })
        };

        // `EngineHandle::stop`: `signal_stop`, then `wait`.
        let first = stop.signal([&shared.queue], || Task::Stop, Some(&acceptor_waker));
        assert!(first);
        log(&g).queued += 1; // `Stop`: the loop only exits after running it
        stop.wait();
        {
            let l = log(&g);
            assert_eq!(l.on_shutdown, 1, "on_shutdown before stop returned");
            assert!(l.loop_exited && l.acceptor_exited, "stop returned early");
        }
        assert!(stop.is_stopping());
        event_loop.join().unwrap();
        accept.join().unwrap();
        user.join().unwrap();

        assert!(
            matches!(shared.queue.push(Task::Stop), Err(Task::Stop)),
            "the loop exited with its queue open"
        );
        assert!(shared.queue.close().is_empty(), "a task stranded");
        let l = log(&g);
        assert_eq!(
            l.queued, l.disposed,
            "a queued task was neither run nor handed back"
        );
        assert_eq!(l.sockets_closed, [1, 1], "a socket leaked or closed twice");
        assert_eq!(l.on_close[0], 1);
        assert!(l.on_close[1] <= 1);
        assert!(l.delivered.len() <= 1);
        assert_eq!(l.on_shutdown, 1);
        assert_eq!(
            balancer.connections(0),
            Some(0),
            "least-connections count off"
        );
    });
}

/// A loop that drains at once and counts the `Stop` tasks it sees, then exits as `EventLoop`
/// does; `first` signals the stop itself before waiting (a callback on that loop returned
/// `Action::Shutdown`, which calls `signal_stop` on the loop's own thread).
fn idle_loop(shared: &[Shared], me: usize, waker: &Waker, stop: &StopState, g: &Ghost) -> usize {
    if me == 0 {
        stop.signal(
            shared.iter().map(|s| &s.queue),
            || Task::Stop,
            None::<&Waker>,
        );
    }
    let mut stops = 0;
    let mut batch = Vec::new();
    while stops == 0 {
        waker.0.wait();
        shared[me].queue.drain_into(&mut batch);
        stops += batch.drain(..).filter(|t| matches!(t, Task::Stop)).count();
    }
    stops += shared[me]
        .queue
        .close()
        .iter()
        .filter(|t| matches!(t, Task::Stop))
        .count();
    stop.thread_exited(|| log(g).on_shutdown += 1);
    stops
}

/// `stop` from a user thread races a callback's `Action::Shutdown` on loop 0 of two: each loop
/// gets exactly one `Stop` and exits, `on_shutdown` runs once, and `stop` returns after it.
#[test]
fn racing_stops_stop_every_loop_once() {
    loom::model(|| {
        let g: Ghost = Ghost::default();
        let wakers = [Waker::default(), Waker::default()];
        let shared: Arc<Vec<Shared>> =
            Arc::new(wakers.iter().map(|w| Shared::new(w.clone(), 1)).collect());
        let stop = Arc::new(StopState::new(2));
        let loops: Vec<_> = (0..2)
            .map(|me| {
                let (shared, stop, g) = (shared.clone(), stop.clone(), g.clone());
                let waker = wakers[me].clone();
                thread::spawn(move || idle_loop(&shared, me, &waker, &stop, &g))
            })
            .collect();
        stop.signal(
            shared.iter().map(|s| &s.queue),
            || Task::Stop,
            None::<&Waker>,
        );
        stop.wait();
        assert_eq!(log(&g).on_shutdown, 1);
        for l in loops {
            assert_eq!(l.join().unwrap(), 1, "a loop saw no Stop, or two");
        }
    });
}

//! A counting global allocator shows that echoing a message allocates nothing once warm, and
//! that a connection's leftover bytes reuse the loop's pooled buffers (as many as
//! `EngineBuilder::pooled_buffers` allows). The tests count the whole process's allocations, so
//! they take turns through one lock.

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use loopwire::{Action, Conn, Engine, EventHandler};
use util::*;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn echo_allocates_nothing_per_message_after_warm_up() {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Echo)
        .unwrap();
    let mut clients: Vec<_> = (0..4).map(|_| connect(tcp_addr(&e))).collect();
    let msg = [7u8; 512];
    let mut buf = [0u8; 512];
    let mut round = |clients: &mut Vec<std::net::TcpStream>| {
        for c in clients.iter_mut() {
            std::io::Write::write_all(c, &msg).unwrap();
        }
        for c in clients.iter_mut() {
            std::io::Read::read_exact(c, &mut buf).unwrap();
        }
    };
    for _ in 0..200 {
        round(&mut clients);
    }
    let before = ALLOCS.load(Ordering::SeqCst);
    let rounds = 5000;
    for _ in 0..rounds {
        round(&mut clients);
    }
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    let messages = rounds * clients.len();
    assert!(
        allocs * 1000 < messages,
        "{allocs} allocations for {messages} echoed messages"
    );
    e.stop();
}

/// Lines: a partial line is left unread (so it moves to a buffer from the loop's pool) and
/// acknowledged with `p`; a whole line is consumed and answered with `L`.
struct Lines;

impl EventHandler for Lines {
    type State = ();
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        match c.inbound().iter().position(|&b| b == b'\n') {
            Some(end) => {
                c.discard(end + 1);
                c.write(b"L");
            }
            None => c.write(b"p"),
        }
        Action::None
    }
}

/// Allocations per round of "a partial line, then its end" on one connection, after warm-up.
fn allocations_per_partial_line(pooled_buffers: usize) -> f64 {
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .pooled_buffers(pooled_buffers)
        .start(Lines)
        .unwrap();
    let mut c = connect(tcp_addr(&e));
    let mut reply = [0u8; 1];
    let mut round = |c: &mut std::net::TcpStream| {
        c.write_all(b"abc").unwrap();
        c.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"p", "the partial line was seen alone");
        c.write_all(b"\n").unwrap();
        c.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"L");
    };
    for _ in 0..100 {
        round(&mut c);
    }
    let before = ALLOCS.load(Ordering::SeqCst);
    let rounds = 2000;
    for _ in 0..rounds {
        round(&mut c);
    }
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    e.stop();
    allocs as f64 / rounds as f64
}

#[test]
fn leftovers_reuse_pooled_buffers_unless_the_pool_is_off() {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pooled = allocations_per_partial_line(loopwire::DEFAULT_POOLED_BUFFERS);
    let unpooled = allocations_per_partial_line(0);
    assert!(
        pooled < 0.01,
        "{pooled} allocations per leftover with the pool"
    );
    assert!(
        unpooled >= 1.0,
        "{unpooled} allocations per leftover with pooled_buffers(0): the storage is not kept"
    );
}

//! A counting global allocator shows that echoing a message allocates nothing once warm.

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use loopwire::Engine;
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

#[test]
fn echo_allocates_nothing_per_message_after_warm_up() {
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

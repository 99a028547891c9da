//! Checks that insert, cancel, reset, next_deadline and advance, and their tick forms
//! (insert_at, reset_at, next_due_tick, advance_to), allocate nothing once the wheel has
//! capacity, by counting this thread's allocations with a wrapping global allocator.
//!
//! It lives in its own test binary because the library forbids `unsafe` and a global
//! allocator needs it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use loopwire_timer::TimerWheel;

thread_local! {
    /// Allocations made by this thread; a `const` initializer so reading it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees are ours; the counter is a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn operations_do_not_allocate_once_there_is_capacity() {
    const N: u64 = 10_000;
    let start = Instant::now();
    let ms = Duration::from_millis;
    let mut wheel = TimerWheel::with_capacity(start, N as usize);
    let mut keys = Vec::with_capacity(N as usize);

    let before = allocations();
    for i in 0..N {
        // Spread over about 17 minutes: every level from 0 to 3 gets entries.
        keys.push(wheel.insert(start + ms(i * 101 % 1_000_000), i));
    }
    for (i, &key) in keys.iter().enumerate() {
        match i % 3 {
            0 => assert!(wheel.cancel(key).is_some()),
            1 => assert!(wheel.reset(key, start + ms(i as u64 * 7))),
            _ => {}
        }
    }
    let mut fired = 0;
    let mut now = start;
    while let Some(at) = wheel.next_deadline() {
        now = now.max(at);
        fired += wheel.advance_with(now, |_, _| {});
        fired += wheel.advance(now).count();
    }
    // Refill the freed slots: still within capacity.
    for i in 0..N {
        wheel.insert(start + ms(i), i);
    }
    let after = allocations();

    assert_eq!(fired as u64, N - N.div_ceil(3));
    assert_eq!(after - before, 0, "the wheel allocated during operations");
}

#[test]
fn tick_operations_do_not_allocate_once_there_is_capacity() {
    const N: u64 = 10_000;
    let mut wheel = TimerWheel::with_capacity_ticks(N as usize);
    let mut keys = Vec::with_capacity(N as usize);

    let before = allocations();
    for i in 0..N {
        // Spread over about 17 minutes of 1 ms ticks: levels 0 to 3.
        keys.push(wheel.insert_at(i * 101 % 1_000_000, i));
    }
    for (i, &key) in keys.iter().enumerate() {
        match i % 3 {
            0 => assert!(wheel.cancel(key).is_some()),
            1 => assert!(wheel.reset_at(key, i as u64 * 7)),
            _ => {}
        }
    }
    let mut fired = 0;
    let mut now = 0;
    while let Some(tick) = wheel.next_due_tick() {
        now = now.max(tick);
        fired += wheel.advance_to_with(now, |_, _| {});
        fired += wheel.advance_to(now).count();
    }
    for i in 0..N {
        wheel.try_insert_at(i, i).expect("room");
    }
    let after = allocations();

    assert_eq!(fired as u64, N - N.div_ceil(3));
    assert_eq!(
        after - before,
        0,
        "the wheel allocated during tick operations"
    );
}

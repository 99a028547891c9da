//! Behaviour checks through the public API that the unit tests left open, found by mutation
//! testing (`cargo mutants`, see `verify/README.md`): a full ring whose data wraps by one
//! byte, the pool's inclusive limits, large maxima, that a drained buffer really keeps its
//! `initial` storage and that growth asks for no more than the new capacity (both measured with
//! a wrapping global allocator, as the timer's `no_alloc` test does).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use loopwire_ringbuf::{BufferPool, Config, RingBuffer};

thread_local! {
    /// Allocations made by this thread; a `const` initializer so reading it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// The largest size this thread asked the allocator for since the last reset.
    static LARGEST_REQUEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    ALLOCATIONS.with(|n| n.set(n.get() + 1));
    LARGEST_REQUEST.with(|l| l.set(l.get().max(size)));
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees are ours; the counters are thread-local `Cell`s that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn config(initial: usize, max: usize) -> Config {
    Config::builder().initial(initial).max(max).build().unwrap()
}

fn contents(buf: &RingBuffer) -> Vec<u8> {
    let (a, b) = buf.as_slices();
    [a, b].concat()
}

/// A full 64-byte ring whose first byte sits at position 1 and whose last byte wrapped to
/// position 0, holding `0, 1, …, 63` in logical order.
fn full_and_wrapped_by_one() -> RingBuffer {
    let mut buf = RingBuffer::with_config(config(64, 64));
    buf.push(&[0xee]).unwrap();
    let data: Vec<u8> = (0..63).collect();
    buf.push(&data).unwrap();
    buf.discard(1);
    buf.push(&[63]).unwrap();
    assert_eq!((buf.len(), buf.capacity()), (64, 64));
    assert_eq!(buf.as_slices().1, [63], "the last byte wrapped");
    buf
}

#[test]
fn pop_into_reads_a_full_ring_wrapped_by_one_byte() {
    let mut buf = full_and_wrapped_by_one();
    let mut out = [0u8; 64];
    assert_eq!(buf.pop_into(&mut out), 64);
    let expected: Vec<u8> = (0..64).collect();
    assert_eq!(out[..], expected[..]);
    assert!(buf.is_empty());
}

#[test]
fn make_contiguous_joins_a_full_ring_wrapped_by_one_byte() {
    let mut buf = full_and_wrapped_by_one();
    let expected: Vec<u8> = (0..64).collect();
    assert_eq!(buf.make_contiguous(), &expected[..]);
    assert!(buf.as_slices().1.is_empty());
    assert_eq!(contents(&buf), expected);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn large_maxima_are_kept_below_the_limit() {
    // 1 TiB is far below the 2^62-byte limit: kept as asked, not clamped.
    assert_eq!(
        Config::builder().max(1 << 40).build().unwrap().max(),
        1 << 40
    );
    assert_eq!(loopwire_ringbuf::CAPACITY_LIMIT, 1 << 62);
}

#[test]
fn pool_reports_its_byte_cap() {
    assert_eq!(
        BufferPool::new(config(0, 4096), 12_345).max_pooled_bytes(),
        12_345
    );
}

#[test]
fn pool_keeps_a_buffer_grown_to_exactly_the_maximum() {
    let mut pool = BufferPool::new(config(0, 256), 1 << 20);
    let mut buf = pool.get();
    buf.push(&[7; 256]).unwrap();
    assert_eq!(buf.capacity(), 256);
    pool.put(buf);
    assert_eq!((pool.pooled_buffers(), pool.pooled_bytes()), (1, 256));
    assert_eq!(pool.get().capacity(), 256);
}

#[test]
fn pool_fills_its_byte_cap_exactly() {
    let mut pool = BufferPool::new(config(0, 4096), 512);
    for _ in 0..3 {
        let mut buf = RingBuffer::with_config(config(0, 4096));
        buf.push(&[1; 200]).unwrap(); // capacity 256
        pool.put(buf);
    }
    // Two 256-byte buffers fill the 512-byte cap exactly; the third does not fit.
    assert_eq!((pool.pooled_buffers(), pool.pooled_bytes()), (2, 512));
}

#[test]
fn a_drained_buffer_keeps_its_initial_storage() {
    let mut buf = RingBuffer::with_config(config(1024, 1 << 20));
    buf.push(&[1; 100]).unwrap();
    buf.push(&[2; 5000]).unwrap(); // grows to 8 KiB
    assert_eq!(buf.capacity(), 8192);
    assert_eq!(buf.discard(usize::MAX), 5100);
    assert_eq!(buf.capacity(), 1024);

    // Refilling up to `initial`, wrapping included, must not go back to the allocator.
    let before = allocations();
    for round in 0..4u8 {
        buf.push(&[round; 1000]).unwrap();
        let mut out = [0u8; 600];
        assert_eq!(buf.pop_into(&mut out), 600);
        assert!(out.iter().all(|&b| b == round));
        buf.push(&[round; 600]).unwrap();
        assert_eq!(buf.discard(usize::MAX), 1000);
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "a drained buffer reallocated its initial storage"
    );
    assert_eq!(buf.capacity(), 1024);
}

#[test]
fn growth_asks_the_allocator_for_the_new_capacity_only() {
    let mut buf = RingBuffer::with_config(config(0, 1 << 20));
    LARGEST_REQUEST.with(|l| l.set(0));
    // Grow from 64 step by step, sometimes with wrapped data, up to 4 KiB.
    let mut next = 0u8;
    for step in 0..40usize {
        let chunk: Vec<u8> = (0..step * 13 + 50)
            .map(|_| {
                next = next.wrapping_add(1);
                next
            })
            .collect();
        buf.push(&chunk).unwrap();
        if step % 3 == 0 {
            buf.discard(buf.len() / 2);
        }
        let largest = LARGEST_REQUEST.with(Cell::get);
        assert!(
            largest <= buf.capacity(),
            "asked for {largest} bytes with a capacity of {}",
            buf.capacity()
        );
    }
    assert_eq!(buf.capacity(), 4096, "grew through six powers of two");
}

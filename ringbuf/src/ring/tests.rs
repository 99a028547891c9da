//! Unit tests of the ring buffer core: growth, wrapping, shrinking and the slice API.

use std::io::{IoSlice, IoSliceMut};

use crate::{CapacityError, CommitError, Config, MIN_CAPACITY, RingBuffer};

fn with(initial: usize, max: usize) -> RingBuffer {
    RingBuffer::with_config(Config::builder().initial(initial).max(max).build().unwrap())
}

fn contents(buf: &RingBuffer) -> Vec<u8> {
    let (a, b) = buf.as_slices();
    [a, b].concat()
}

/// A buffer of capacity 64 (maximum 1024) whose data (`[0, 1, ..., 19]`) wraps: 10 bytes at
/// the end of the storage, 10 at the start.
fn wrapped() -> RingBuffer {
    let mut buf = with(64, 1024);
    buf.push(&[0xee; 54]).unwrap();
    buf.push(&(0..10).collect::<Vec<u8>>()).unwrap(); // [54, 64)
    buf.discard(54);
    buf.push(&(10..20).collect::<Vec<u8>>()).unwrap(); // [0, 10)
    assert_eq!(buf.as_slices().1.len(), 10);
    buf
}

#[test]
fn starts_with_no_memory() {
    let buf = RingBuffer::new();
    assert_eq!(buf.len(), 0);
    assert!(buf.is_empty());
    assert_eq!(buf.capacity(), 0);
    assert_eq!(buf.max_capacity(), crate::DEFAULT_MAX_CAPACITY);
    assert_eq!(buf.free(), crate::DEFAULT_MAX_CAPACITY);
    assert_eq!(buf.spare_capacity(), 0);
    assert_eq!(buf.as_slices(), (&[][..], &[][..]));
    assert_eq!(RingBuffer::default().capacity(), 0);
    // `initial` does not allocate up front either.
    assert_eq!(with(4096, 1 << 20).capacity(), 0);
}

#[test]
fn first_write_allocates_a_power_of_two_at_least_the_minimum() {
    let mut buf = RingBuffer::new();
    buf.push(b"x").unwrap();
    assert_eq!(buf.capacity(), MIN_CAPACITY);
    let mut buf = RingBuffer::new();
    buf.push(&[0; 100]).unwrap();
    assert_eq!(buf.capacity(), 128);
    let mut buf = with(1024, 4096);
    buf.push(b"x").unwrap();
    assert_eq!(buf.capacity(), 1024);
    // A maximum below the minimum allocation caps it.
    let mut buf = with(0, 8);
    buf.push(b"x").unwrap();
    assert_eq!(buf.capacity(), 8);
}

#[test]
fn grows_by_powers_of_two_and_keeps_order() {
    let mut buf = RingBuffer::new();
    let mut expect = Vec::new();
    let mut caps = Vec::new();
    for i in 0..50u8 {
        let chunk = vec![i; 7];
        buf.push(&chunk).unwrap();
        expect.extend_from_slice(&chunk);
        caps.push(buf.capacity());
    }
    assert_eq!(contents(&buf), expect);
    caps.dedup();
    assert_eq!(caps, [64, 128, 256, 512]);
}

#[test]
fn growth_makes_wrapped_data_contiguous() {
    let mut buf = wrapped();
    buf.try_reserve(80).unwrap();
    assert_eq!(buf.capacity(), 128);
    assert_eq!(buf.as_slices().0, (0..20).collect::<Vec<u8>>());
    assert!(buf.as_slices().1.is_empty(), "contiguous after growth");
    // Writing on wraps around the new end as usual.
    buf.push(&(20..100).collect::<Vec<u8>>()).unwrap();
    assert_eq!(buf.capacity(), 128);
    assert_eq!(contents(&buf), (0..100).collect::<Vec<u8>>());
}

#[test]
fn push_is_all_or_nothing_at_the_maximum() {
    let mut buf = with(0, 16);
    buf.push(&[1; 10]).unwrap();
    let err = buf.push(&[2; 7]).unwrap_err();
    assert_eq!(
        err,
        CapacityError::WouldExceedMax {
            requested: 7,
            len: 10,
            max: 16
        }
    );
    assert_eq!(contents(&buf), [1; 10]);
    buf.push(&[2; 6]).unwrap();
    assert_eq!(buf.free(), 0);
    assert_eq!(buf.capacity(), 16);
    buf.push(&[]).unwrap();
}

#[test]
fn push_some_takes_what_fits() {
    let mut buf = with(0, 16);
    assert_eq!(buf.push_some(&[1; 10]), 10);
    assert_eq!(buf.push_some(&[2; 10]), 6);
    assert_eq!(buf.push_some(&[3; 10]), 0);
    assert_eq!(buf.push_some(&[]), 0);
    let mut expect = vec![1; 10];
    expect.extend_from_slice(&[2; 6]);
    assert_eq!(contents(&buf), expect);
}

#[test]
fn peek_is_bounded_and_consumes_nothing() {
    let mut buf = wrapped();
    assert_eq!(buf.peek(0), (&[][..], &[][..]));
    let (a, b) = buf.peek(5);
    assert_eq!((a, b), (&[0, 1, 2, 3, 4][..], &[][..]));
    let (a, b) = buf.peek(13);
    assert_eq!(a, (0..10).collect::<Vec<u8>>());
    assert_eq!(b, [10, 11, 12]);
    let (a, b) = buf.peek(1000);
    assert_eq!(a.len() + b.len(), 20);
    assert_eq!(buf.len(), 20);
    buf.clear();
    assert_eq!(buf.peek(3), (&[][..], &[][..]));
}

#[test]
fn io_slices_reports_how_many_are_used() {
    let mut iov = [IoSlice::new(&[]); 2];
    let buf = RingBuffer::new();
    assert_eq!(buf.io_slices(&mut iov), 0);
    let mut buf = RingBuffer::new();
    buf.push(b"abc").unwrap();
    assert_eq!(buf.io_slices(&mut iov), 1);
    assert_eq!(&*iov[0], b"abc");
    let buf = wrapped();
    let mut iov = [IoSlice::new(&[]); 2];
    assert_eq!(buf.io_slices(&mut iov), 2);
    assert_eq!([&*iov[0], &*iov[1]].concat(), (0..20).collect::<Vec<u8>>());
}

#[test]
fn discard_is_clamped_and_drain_releases_memory() {
    let mut buf = RingBuffer::new();
    buf.push(&[1; 100]).unwrap();
    assert_eq!(buf.discard(30), 30);
    assert_eq!(buf.capacity(), 128);
    assert_eq!(buf.discard(1000), 70);
    assert!(buf.is_empty());
    assert_eq!(buf.capacity(), 0);
    assert_eq!(buf.discard(5), 0);
}

#[test]
fn drain_shrinks_to_initial_and_keeps_it() {
    let mut buf = with(256, 4096);
    buf.push(&[1; 1000]).unwrap();
    assert_eq!(buf.capacity(), 1024);
    buf.clear();
    assert_eq!(buf.capacity(), 256);
    buf.push(&[2; 200]).unwrap();
    buf.discard(150);
    buf.discard(50);
    assert_eq!(buf.capacity(), 256);
    // After draining, writing restarts at the front: no wrap for data that fits.
    buf.push(&[3; 256]).unwrap();
    assert!(buf.as_slices().1.is_empty());
}

#[test]
fn pop_into_copies_across_the_wrap() {
    let mut buf = wrapped();
    let mut out = [0; 15];
    assert_eq!(buf.pop_into(&mut out), 15);
    assert_eq!(out.to_vec(), (0..15).collect::<Vec<u8>>());
    let mut out = [0; 15];
    assert_eq!(buf.pop_into(&mut out), 5);
    assert_eq!(out[..5], [15, 16, 17, 18, 19]);
    assert_eq!(buf.pop_into(&mut out), 0);
    assert_eq!(buf.pop_into(&mut []), 0);
}

#[test]
fn try_reserve_guarantees_spare_capacity() {
    let mut buf = with(0, 1024);
    buf.try_reserve(0).unwrap();
    assert_eq!(buf.capacity(), 0);
    buf.try_reserve(100).unwrap();
    assert_eq!(buf.capacity(), 128);
    assert!(buf.spare_capacity() >= 100);
    buf.push(&[0; 100]).unwrap();
    buf.try_reserve(924).unwrap();
    assert_eq!(buf.capacity(), 1024);
    assert_eq!(
        buf.try_reserve(925),
        Err(CapacityError::WouldExceedMax {
            requested: 925,
            len: 100,
            max: 1024
        })
    );
    assert!(buf.try_reserve(usize::MAX).is_err());
    assert_eq!(buf.capacity(), 1024);
}

#[test]
fn shrink_releases_what_the_data_does_not_need() {
    let mut buf = RingBuffer::new();
    buf.push(&[7; 1000]).unwrap();
    buf.discard(990);
    buf.push(&[8; 40]).unwrap(); // 50 bytes, wrapping in a 1024 ring
    assert_eq!(buf.capacity(), 1024);
    buf.shrink();
    assert_eq!(buf.capacity(), MIN_CAPACITY);
    let mut expect = vec![7; 10];
    expect.extend_from_slice(&[8; 40]);
    assert_eq!(contents(&buf), expect);
    assert!(buf.as_slices().1.is_empty());
    // Already minimal: nothing changes.
    buf.shrink();
    assert_eq!(buf.capacity(), MIN_CAPACITY);
    assert_eq!(contents(&buf), expect);
    // Never below `initial`.
    let mut buf = with(512, 4096);
    buf.push(&[1; 2000]).unwrap();
    buf.discard(1990);
    buf.shrink();
    assert_eq!(buf.capacity(), 512);
    assert_eq!(contents(&buf), [1; 10]);
    // An empty buffer with reserved room gives it back.
    let mut buf = RingBuffer::new();
    buf.try_reserve(4000).unwrap();
    buf.shrink();
    assert_eq!(buf.capacity(), 0);
}

#[test]
fn free_slices_then_commit_fills_in_write_order() {
    let mut buf = with(64, 64);
    buf.push(&[1; 40]).unwrap();
    buf.discard(30); // data [30, 40); free [40, 64) + [0, 30)
    let (a, b) = buf.free_slices_mut();
    assert_eq!((a.len(), b.len()), (24, 30));
    a.fill(2);
    b[..6].fill(3);
    buf.commit(30).unwrap();
    let mut expect = vec![1; 10];
    expect.extend_from_slice(&[2; 24]);
    expect.extend_from_slice(&[3; 6]);
    assert_eq!(contents(&buf), expect);
    assert_eq!(buf.spare_capacity(), 24);
}

#[test]
fn free_slices_are_empty_without_room_and_commit_checks() {
    let mut buf = RingBuffer::new();
    let (a, b) = buf.free_slices_mut();
    assert!(a.is_empty() && b.is_empty());
    assert_eq!(
        buf.commit(1),
        Err(CommitError::ExceedsSpareCapacity {
            requested: 1,
            spare: 0
        })
    );
    buf.commit(0).unwrap();
    assert_eq!(buf.capacity(), 0);
}

#[test]
fn commit_without_filling_exposes_zeros_not_garbage() {
    let mut buf = RingBuffer::new();
    buf.try_reserve(10).unwrap();
    buf.commit(10).unwrap();
    assert_eq!(contents(&buf), [0; 10]);
}

#[test]
fn free_io_slices_feed_readv() {
    let mut buf = with(64, 64);
    buf.push(&[1; 40]).unwrap();
    buf.discard(30);
    let mut iov = [IoSliceMut::new(&mut []), IoSliceMut::new(&mut [])];
    assert_eq!(buf.free_io_slices_mut(&mut iov), 2);
    assert_eq!(iov[0].len() + iov[1].len(), 54);
    iov[0].fill(5);
    buf.commit(24).unwrap();
    let mut iov = [IoSliceMut::new(&mut []), IoSliceMut::new(&mut [])];
    assert_eq!(buf.free_io_slices_mut(&mut iov), 1);
    buf.push(&[0; 30]).unwrap();
    let mut iov = [IoSliceMut::new(&mut []), IoSliceMut::new(&mut [])];
    assert_eq!(buf.free_io_slices_mut(&mut iov), 0);
}

#[test]
fn fills_to_exactly_the_maximum_through_wraps() {
    let mut buf = with(0, 256);
    let mut model = std::collections::VecDeque::new();
    let mut next = 0u8;
    for round in 0..40 {
        let n = (round * 37) % 97 + 1;
        let chunk: Vec<u8> = (0..n)
            .map(|_| {
                next = next.wrapping_add(1);
                next
            })
            .collect();
        let took = buf.push_some(&chunk);
        model.extend(&chunk[..took]);
        assert!(buf.capacity() <= 256 && buf.capacity().is_power_of_two());
        let drop = (round * 53) % 120;
        let dropped = buf.discard(drop);
        model.drain(..dropped);
        assert_eq!(contents(&buf), model.iter().copied().collect::<Vec<u8>>());
    }
}

#[test]
fn debug_shows_the_shape_not_the_data() {
    let mut buf = RingBuffer::new();
    buf.push(b"secret").unwrap();
    let text = format!("{buf:?}");
    assert!(text.contains("len: 6") && text.contains("capacity: 64"));
    assert!(!text.contains("secret"));
}

#[test]
fn make_contiguous_rotates_wrapped_data_in_place() {
    let mut buf = wrapped();
    assert_eq!(buf.make_contiguous(), (0..20).collect::<Vec<u8>>());
    assert!(buf.as_slices().1.is_empty());
    assert_eq!(buf.capacity(), 64);
    // Writing on after the rotation keeps the order.
    buf.push(&(20..60).collect::<Vec<u8>>()).unwrap();
    assert_eq!(contents(&buf), (0..60).collect::<Vec<u8>>());
    // Already contiguous (or empty): nothing moves.
    let mut buf = RingBuffer::new();
    assert!(buf.make_contiguous().is_empty());
    buf.push(b"abc").unwrap();
    buf.discard(1);
    assert_eq!(buf.make_contiguous(), b"bc");
}

#[test]
fn small_writes_into_fresh_storage_fill_ahead_within_capacity() {
    let mut buf = with(0, 1 << 16);
    let mut expect = Vec::new();
    for i in 0..600_u32 {
        let n = (i % 17) as usize;
        let chunk: Vec<u8> = (0..n).map(|j| (i as usize + j) as u8).collect();
        buf.push(&chunk).unwrap();
        expect.extend_from_slice(&chunk);
        assert!(buf.capacity() == 0 || buf.capacity().is_power_of_two());
        // The initialized prefix never outgrows the ring.
        assert!(buf.buf.len() <= buf.capacity());
        assert_eq!(contents(&buf), expect);
    }
    // Large writes still append exactly.
    buf.push(&[7; 3000]).unwrap();
    expect.extend_from_slice(&[7; 3000]);
    assert_eq!(contents(&buf), expect);
    // Bytes zero-filled ahead but never written are never readable.
    buf.clear();
    assert_eq!(buf.capacity(), 0);
}

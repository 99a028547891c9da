//! [`bytes::Buf`] and [`bytes::BufMut`] for [`RingBuffer`] (feature `bytes`), so it plugs into
//! codecs written against those traits.
//!
//! - `Buf`: `remaining` is [`len`](RingBuffer::len), `chunk` is the first readable slice,
//!   `chunks_vectored` gives both halves for `writev`.
//! - `BufMut`: `remaining_mut` is [`free`](RingBuffer::free) (room up to the maximum),
//!   `chunk_mut` grows when the spare capacity is exhausted, like `Vec<u8>` does. The chunk is
//!   always initialized memory (zero-filled once per allocation), so `advance_mut` exposes
//!   no uninitialized bytes whatever the caller wrote.

use std::io::IoSlice;

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut};

use crate::{MIN_READ_SPACE, RingBuffer};

/// # Panics
///
/// `advance` and `copy_to_slice` panic when asked for more than
/// [`remaining`](Buf::remaining), as the `Buf` contract asks; use
/// [`RingBuffer::discard`] / [`RingBuffer::pop_into`] for clamping versions.
impl Buf for RingBuffer {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        self.as_slices().0
    }

    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= self.len(),
            "cannot advance past `remaining`: {cnt} > {}",
            self.len()
        );
        self.discard(cnt);
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let (a, b) = self.as_slices();
        let mut used = 0;
        for half in [a, b] {
            if half.is_empty() || used == dst.len() {
                break;
            }
            dst[used] = IoSlice::new(half);
            used += 1;
        }
        used
    }

    fn copy_to_slice(&mut self, dst: &mut [u8]) {
        assert!(
            dst.len() <= self.len(),
            "cannot copy past `remaining`: {} > {}",
            dst.len(),
            self.len()
        );
        self.pop_into(dst);
    }
}

/// # Panics
///
/// `advance_mut` panics when `cnt` exceeds the spare capacity (the length of the last
/// `chunk_mut`), and `put_slice` when the bytes exceed
/// [`remaining_mut`](BufMut::remaining_mut), as the `BufMut` contract asks; use
/// [`RingBuffer::push`] for a typed error instead.
//
// SAFETY: the trait's contract is that `chunk_mut` returns writable memory owned by the
// buffer, at most `remaining_mut` bytes long and non-empty while `remaining_mut > 0`, and that
// `advance_mut(cnt)` exposes exactly the next `cnt` bytes of it. `chunk_mut` returns the first
// slice of `free_slices_mut`, which is initialized memory inside the ring's spare capacity
// (`<= free()`), reserving first when that capacity is 0 and `free() > 0`; `advance_mut` goes
// through `commit`, which checks `cnt` against the spare capacity.
#[allow(unsafe_code)]
unsafe impl BufMut for RingBuffer {
    fn remaining_mut(&self) -> usize {
        self.free()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        if let Err(err) = self.commit(cnt) {
            panic!("cannot advance past the chunk: {err}");
        }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        if self.spare_capacity() == 0 {
            self.reserve_within_max(self.free().min(MIN_READ_SPACE));
        }
        UninitSlice::new(self.free_slices_mut().0)
    }

    fn put_slice(&mut self, src: &[u8]) {
        if let Err(err) = self.push(src) {
            panic!("cannot put past `remaining_mut`: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn small(initial: usize, max: usize) -> RingBuffer {
        RingBuffer::with_config(Config::builder().initial(initial).max(max).build().unwrap())
    }

    #[test]
    fn buf_reads_across_the_wrap() {
        let mut buf = small(64, 64);
        buf.push(&[1; 60]).unwrap();
        buf.discard(58);
        buf.push(&[2, 3, 4, 5, 6]).unwrap(); // [1, 1, 2, 3, 4, 5] + [6]
        assert_eq!(buf.remaining(), 7);
        assert_eq!(buf.chunk(), &[1, 1, 2, 3, 4, 5]);
        let mut iov = [IoSlice::new(&[]); 4];
        assert_eq!(buf.chunks_vectored(&mut iov), 2);
        assert_eq!(&*iov[1], &[6]);
        let mut one = [IoSlice::new(&[]); 1];
        assert_eq!(buf.chunks_vectored(&mut one), 1);
        assert_eq!(buf.get_u16(), 0x0101);
        assert_eq!(buf.get_u32(), 0x0203_0405);
        let mut rest = [0; 1];
        buf.copy_to_slice(&mut rest);
        assert_eq!(rest, [6]);
        assert!(!buf.has_remaining());
        let mut iov = [IoSlice::new(&[]); 2];
        assert_eq!(buf.chunks_vectored(&mut iov), 0);
    }

    #[test]
    #[should_panic(expected = "cannot advance past `remaining`")]
    fn buf_advance_past_remaining_panics() {
        let mut buf = RingBuffer::new();
        buf.push(b"ab").unwrap();
        buf.advance(3);
    }

    #[test]
    fn buf_mut_grows_and_writes() {
        let mut buf = small(0, 1 << 16);
        assert_eq!(buf.remaining_mut(), 1 << 16);
        buf.put_u32(0xdead_beef);
        buf.put_slice(b"xyz");
        buf.put_bytes(b'!', 2);
        assert_eq!(buf.len(), 9);
        assert_eq!(buf.remaining_mut(), (1 << 16) - 9);
        assert_eq!(buf.get_u32(), 0xdead_beef);
        assert_eq!(buf.as_slices().0, b"xyz!!");
    }

    #[test]
    #[allow(unsafe_code)]
    fn buf_mut_chunk_is_never_empty_below_the_maximum() {
        let mut buf = small(0, 128);
        buf.push(&[0; 64]).unwrap(); // capacity 64, no spare
        assert_eq!(buf.spare_capacity(), 0);
        let chunk = buf.chunk_mut();
        assert_eq!(chunk.len(), 64);
        chunk.copy_from_slice(&[9; 64]);
        // SAFETY: the 64 bytes of the chunk were just written.
        unsafe { buf.advance_mut(64) };
        assert_eq!(buf.len(), 128);
        assert_eq!(buf.remaining_mut(), 0);
        assert_eq!(buf.chunk_mut().len(), 0);
    }

    #[test]
    #[should_panic(expected = "cannot put past `remaining_mut`")]
    fn buf_mut_put_past_the_maximum_panics() {
        let mut buf = small(0, 8);
        buf.put_slice(&[0; 9]);
    }

    #[test]
    #[should_panic(expected = "cannot advance past the chunk")]
    #[allow(unsafe_code)]
    fn buf_mut_advance_past_the_chunk_panics() {
        let mut buf = small(0, 8);
        // SAFETY: the call panics before exposing anything (that is what is tested).
        unsafe { buf.advance_mut(1) };
    }
}

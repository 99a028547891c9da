//! Byte copies tuned for the small chunks network protocols move (headers, short frames).
//!
//! `<[u8]>::copy_from_slice` with a length unknown at compile time is a call to the C
//! library's `memmove`, whose call and size dispatch dominate copies of a few bytes. Up to 16
//! bytes, [`copy`] instead uses two fixed-size copies that overlap in the middle (the
//! technique of common `memcpy` implementations for short sizes, e.g. glibc's
//! `memmove-vec-unaligned-erms`), which compile to a pair of plain loads and stores. The
//! `write_then_read/retain/16B` benchmark is where this shows most.

/// Copies `src` into `dst`, which must have the same length.
///
/// # Panics
///
/// If the lengths differ (a bug in the caller, as with `copy_from_slice`).
#[inline(always)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    assert_eq!(dst.len(), n, "copy between slices of different lengths");
    if n > 16 {
        dst.copy_from_slice(src);
    } else if n >= 8 {
        overlapping::<8>(dst, src);
    } else if n >= 4 {
        overlapping::<4>(dst, src);
    } else if n >= 2 {
        overlapping::<2>(dst, src);
    } else if n == 1 {
        dst[0] = src[0];
    }
}

/// Copies `W <= len <= 2 * W` bytes as the first `W` and the last `W` (which may overlap).
#[inline(always)]
fn overlapping<const W: usize>(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    dst[..W].copy_from_slice(&src[..W]);
    dst[n - W..].copy_from_slice(&src[n - W..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_small_length_exactly() {
        let src: Vec<u8> = (1..=40).collect();
        for n in 0..=40 {
            let mut dst = vec![0; n + 2];
            copy(&mut dst[1..n + 1], &src[..n]);
            assert_eq!(dst[0], 0);
            assert_eq!(&dst[1..n + 1], &src[..n], "length {n}");
            assert_eq!(dst[n + 1], 0, "no write past the end at length {n}");
        }
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn rejects_mismatched_lengths() {
        copy(&mut [0; 3], &[1; 4]);
    }
}

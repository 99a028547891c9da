//! Property tests of `loopwire_ringbuf::RingBuffer` against a `VecDeque<u8>` model.
//!
//! Random configs (including maxima that are not powers of two, smaller than the minimum
//! allocation, and non-zero shrink-back capacities) and random sequences of every way bytes
//! go in (`push`, `push_some`, `io::Write`, vectored writes, `free_slices_mut` + `commit`,
//! `read_from` a trickling reader) and out (`pop_into`, `io::Read`, vectored reads, `peek`,
//! `discard`, `write_to` a throttled writer, `clear`), plus `try_reserve`, `shrink`,
//! `make_contiguous` and the `readv`/`writev` slices. After every step:
//!
//! - the contents and length equal the model's, and `free()` is `max - len`;
//! - the capacity is 0 or a power of two, holds the data and never exceeds the maximum;
//! - a step that consumed the last byte left at most the configured shrink-back capacity
//!   allocated (memory is released when drained);
//! - calls that do not fit report exactly what was taken, or fail with the typed error and
//!   change nothing.
//!
//! A second property drives a `BufferPool` with random gets and puts and checks its byte cap
//! and that recycled buffers behave like fresh ones.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};

use loopwire_ringbuf::{
    BufferPool, CapacityError, CommitError, Config, MIN_READ_SPACE, RingBuffer,
};
use proptest::prelude::*;

/// One step applied to both the buffer and the model.
#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>),
    PushSome(Vec<u8>),
    IoWrite(Vec<u8>),
    WriteVectored(Vec<Vec<u8>>),
    /// Write `data` into the free slices (as much as fits), then commit `data.len()` bytes
    /// or the spare capacity, whichever is smaller; also checks that over-committing fails.
    FillCommit(Vec<u8>),
    /// `read_from` a reader that has `data` and hands out at most `step` bytes per call, then
    /// blocks (or reports end of stream).
    ReadFrom {
        data: Vec<u8>,
        step: usize,
        eof: bool,
    },
    PopInto(usize),
    IoReadVectored(usize, usize),
    Peek(usize),
    Discard(usize),
    /// `write_to` a writer that accepts at most `limit` bytes per call.
    WriteTo(usize),
    TryReserve(usize),
    IoSlices,
    MakeContiguous,
    Clear,
    Shrink,
}

fn bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max_len)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => bytes(300).prop_map(Op::Push),
        3 => bytes(300).prop_map(Op::PushSome),
        2 => bytes(100).prop_map(Op::IoWrite),
        1 => prop::collection::vec(bytes(60), 0..4).prop_map(Op::WriteVectored),
        2 => bytes(200).prop_map(Op::FillCommit),
        2 => (bytes(300), 1..400_usize, any::<bool>())
            .prop_map(|(data, step, eof)| Op::ReadFrom { data, step, eof }),
        4 => (0..300_usize).prop_map(Op::PopInto),
        1 => (0..100_usize, 0..100_usize).prop_map(|(a, b)| Op::IoReadVectored(a, b)),
        2 => (0..300_usize).prop_map(Op::Peek),
        4 => (0..300_usize).prop_map(Op::Discard),
        2 => (1..300_usize).prop_map(Op::WriteTo),
        1 => prop_oneof![0..300_usize, Just(usize::MAX)].prop_map(Op::TryReserve),
        1 => Just(Op::IoSlices),
        1 => Just(Op::MakeContiguous),
        1 => Just(Op::Clear),
        1 => Just(Op::Shrink),
    ]
}

/// Valid configs: maxima around the interesting sizes, shrink-back capacities from none up.
fn config() -> impl Strategy<Value = Config> {
    let max = prop_oneof![
        Just(1_usize),
        Just(7),
        Just(64),
        Just(100),
        Just(256),
        Just(1000),
        Just(4096),
        Just(1 << 16),
    ];
    let initial = prop_oneof![Just(0_usize), Just(1), Just(64), Just(128), Just(1024)];
    (initial, max).prop_filter_map("initial above max", |(initial, max)| {
        Config::builder().initial(initial).max(max).build().ok()
    })
}

fn contents(buf: &RingBuffer) -> Vec<u8> {
    let (a, b) = buf.as_slices();
    [a, b].concat()
}

struct Trickle {
    data: Vec<u8>,
    step: usize,
    eof: bool,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data.drain(..n);
        Ok(n)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs {
            let want = buf.len().min(self.step - total);
            let n = match self.read(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) if total == 0 => return Err(e),
                Err(_) => 0,
            };
            total += n;
            if n < buf.len() || total == self.step {
                break;
            }
        }
        Ok(total)
    }
}

struct Throttled {
    data: Vec<u8>,
    limit: usize,
}

impl Write for Throttled {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.limit);
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs {
            let n = buf.len().min(self.limit - total);
            self.data.extend_from_slice(&buf[..n]);
            total += n;
            if total == self.limit {
                break;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Applies `op` to both; returns whether it consumed bytes (for the release check).
fn apply(buf: &mut RingBuffer, model: &mut VecDeque<u8>, op: &Op) -> Result<bool, TestCaseError> {
    let max = buf.max_capacity();
    let before = model.len();
    match op {
        Op::Push(data) => {
            let fits = before + data.len() <= max;
            match buf.push(data) {
                Ok(()) => {
                    prop_assert!(fits);
                    model.extend(data);
                }
                Err(err) => {
                    prop_assert!(!fits);
                    prop_assert_eq!(
                        err,
                        CapacityError::WouldExceedMax {
                            requested: data.len(),
                            len: before,
                            max
                        }
                    );
                }
            }
        }
        Op::PushSome(data) => {
            let n = buf.push_some(data);
            prop_assert_eq!(n, data.len().min(max - before));
            model.extend(&data[..n]);
        }
        Op::IoWrite(data) => {
            let n = buf
                .write(data)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(n, data.len().min(max - before));
            model.extend(&data[..n]);
        }
        Op::WriteVectored(parts) => {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let n = buf
                .write_vectored(&slices)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let all: Vec<u8> = parts.concat();
            prop_assert_eq!(n, all.len().min(max - before));
            model.extend(&all[..n]);
        }
        Op::FillCommit(data) => {
            let spare = buf.capacity() - before;
            let (a, b) = buf.free_slices_mut();
            prop_assert_eq!(a.len() + b.len(), spare);
            let k = data.len().min(spare);
            let in_a = k.min(a.len());
            a[..in_a].copy_from_slice(&data[..in_a]);
            b[..k - in_a].copy_from_slice(&data[in_a..k]);
            prop_assert_eq!(
                buf.commit(spare + 1),
                Err(CommitError::ExceedsSpareCapacity {
                    requested: spare + 1,
                    spare
                })
            );
            buf.commit(k)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            model.extend(&data[..k]);
        }
        Op::ReadFrom { data, step, eof } => {
            let mut reader = Trickle {
                data: data.clone(),
                step: *step,
                eof: *eof,
            };
            let free = max - before;
            match buf.read_from(&mut reader) {
                Ok(n) => {
                    prop_assert!(free > 0);
                    let upper = data.len().min(*step).min(free);
                    let lower = upper.min(MIN_READ_SPACE);
                    prop_assert!(
                        lower <= n && n <= upper,
                        "read {} of {}..={}",
                        n,
                        lower,
                        upper
                    );
                    model.extend(&data[..n]);
                }
                Err(err) if err.kind() == io::ErrorKind::StorageFull => prop_assert_eq!(free, 0),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    prop_assert!(data.is_empty() && !eof);
                }
                Err(err) => return Err(TestCaseError::fail(err.to_string())),
            }
        }
        Op::PopInto(n) => {
            let mut out = vec![0; *n];
            let got = buf.pop_into(&mut out);
            prop_assert_eq!(got, (*n).min(before));
            let expect: Vec<u8> = model.drain(..got).collect();
            prop_assert_eq!(&out[..got], &expect[..]);
            return Ok(got > 0);
        }
        Op::IoReadVectored(x, y) => {
            let (mut a, mut b) = (vec![0; *x], vec![0; *y]);
            let got = buf
                .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, (x + y).min(before));
            let expect: Vec<u8> = model.drain(..got).collect();
            let out = [a, b].concat();
            prop_assert_eq!(&out[..got], &expect[..]);
            return Ok(got > 0);
        }
        Op::Peek(n) => {
            let (a, b) = buf.peek(*n);
            let expect: Vec<u8> = model.iter().take(*n).copied().collect();
            prop_assert_eq!([a, b].concat(), expect);
            prop_assert!(b.is_empty() || !a.is_empty());
        }
        Op::Discard(n) => {
            let got = buf.discard(*n);
            prop_assert_eq!(got, (*n).min(before));
            model.drain(..got);
            return Ok(got > 0);
        }
        Op::WriteTo(limit) => {
            let mut sink = Throttled {
                data: Vec::new(),
                limit: *limit,
            };
            let got = buf
                .write_to(&mut sink)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, (*limit).min(before));
            let expect: Vec<u8> = model.drain(..got).collect();
            prop_assert_eq!(sink.data, expect);
            return Ok(got > 0);
        }
        Op::TryReserve(n) => {
            let fits = n.checked_add(before).is_some_and(|total| total <= max);
            let cap = buf.capacity();
            match buf.try_reserve(*n) {
                Ok(()) => {
                    prop_assert!(fits);
                    prop_assert!(buf.capacity() - before >= *n);
                }
                Err(CapacityError::WouldExceedMax { requested, .. }) => {
                    prop_assert!(!fits);
                    prop_assert_eq!(requested, *n);
                    prop_assert_eq!(buf.capacity(), cap);
                }
                Err(other) => return Err(TestCaseError::fail(other.to_string())),
            }
        }
        Op::IoSlices => {
            let mut iov = [IoSlice::new(&[]); 2];
            let used = buf.io_slices(&mut iov);
            let joined: Vec<u8> = iov[..used].iter().flat_map(|s| s.iter().copied()).collect();
            prop_assert_eq!(&joined, &contents(buf));
            prop_assert!(iov[..used].iter().all(|s| !s.is_empty()));
            let spare = buf.capacity() - before;
            let mut free = [IoSliceMut::new(&mut []), IoSliceMut::new(&mut [])];
            let used = buf.free_io_slices_mut(&mut free);
            prop_assert_eq!(free[..used].iter().map(|s| s.len()).sum::<usize>(), spare);
        }
        Op::MakeContiguous => {
            let cap = buf.capacity();
            let expect: Vec<u8> = model.iter().copied().collect();
            prop_assert_eq!(buf.make_contiguous(), &expect[..]);
            prop_assert!(buf.as_slices().1.is_empty());
            prop_assert_eq!(buf.capacity(), cap);
        }
        Op::Clear => {
            buf.clear();
            model.clear();
            return Ok(before > 0);
        }
        Op::Shrink => {
            let cap = buf.capacity();
            buf.shrink();
            prop_assert!(buf.capacity() <= cap);
            if before == 0 {
                prop_assert!(buf.capacity() <= buf.config().initial());
            }
        }
    }
    Ok(false)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn ring_buffer_matches_vecdeque(config in config(), ops in prop::collection::vec(op(), 1..60)) {
        let mut buf = RingBuffer::with_config(config);
        let mut model = VecDeque::new();
        prop_assert_eq!(buf.capacity(), 0);
        for op in &ops {
            let consumed = apply(&mut buf, &mut model, op)?;
            let cap = buf.capacity();
            prop_assert_eq!(buf.len(), model.len());
            prop_assert_eq!(buf.is_empty(), model.is_empty());
            prop_assert_eq!(contents(&buf), model.iter().copied().collect::<Vec<u8>>());
            prop_assert_eq!(buf.free(), config.max() - model.len());
            prop_assert!(cap == 0 || cap.is_power_of_two(), "capacity {}", cap);
            prop_assert!(cap <= config.max(), "capacity {} above max {}", cap, config.max());
            prop_assert!(cap >= buf.len());
            if consumed && model.is_empty() {
                prop_assert!(
                    cap <= config.initial(),
                    "drained with capacity {} above initial {}", cap, config.initial()
                );
            }
        }
    }

    #[test]
    fn pool_recycles_within_its_cap(
        cap_blocks in 0..4_usize,
        steps in prop::collection::vec((any::<bool>(), bytes(300)), 1..40),
    ) {
        let config = Config::builder().initial(64).max(1024).build().unwrap();
        let max_pooled = cap_blocks * 64;
        let mut pool = BufferPool::new(config, max_pooled);
        let mut live: Vec<RingBuffer> = Vec::new();
        for (get, data) in steps {
            if get || live.is_empty() {
                let mut buf = pool.get();
                prop_assert!(buf.is_empty());
                prop_assert_eq!(buf.config(), config);
                buf.push(&data[..data.len().min(1024)]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(contents(&buf), &data[..data.len().min(1024)]);
                live.push(buf);
            } else {
                let buf = live.swap_remove(data.len() % live.len());
                pool.put(buf);
            }
            prop_assert!(pool.pooled_bytes() <= max_pooled);
            prop_assert_eq!(pool.pooled_bytes(), pool.pooled_buffers() * 64);
        }
    }
}

//! `std::io` integration: moving bytes between a [`RingBuffer`] and a socket (or any
//! [`Read`] / [`Write`]) without an intermediate copy, and the buffer's own `Read` / `Write`
//! implementations.
//!
//! `read_from` and `write_to` use vectored I/O (`readv` / `writev` on sockets) exactly when
//! the free space or the data wraps around the end of the ring, so one call moves everything
//! that is contiguous in the ring's logical order.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};

use crate::{CapacityError, RingBuffer};

/// The least free space [`RingBuffer::read_from`] offers a reader (when the maximum allows):
/// reading a few bytes per system call is what the buffer exists to avoid.
pub const MIN_READ_SPACE: usize = 4096;

impl RingBuffer {
    /// Reads once from `reader` straight into the free space and returns the byte count the
    /// reader reported (`Ok(0)` is the reader's end of stream).
    ///
    /// First grows, if needed, so at least `min(free(), MIN_READ_SPACE)` bytes are spare;
    /// then offers all spare capacity, through
    /// [`read_vectored`](Read::read_vectored) when it wraps. If the buffer is still empty
    /// afterwards (end of stream, `WouldBlock`, any error), it shrinks back to
    /// [`Config::initial`](crate::Config::initial), so a spurious wake-up leaves no memory
    /// behind.
    ///
    /// # Errors
    ///
    /// - The reader's error, unchanged (including [`WouldBlock`](io::ErrorKind::WouldBlock)
    ///   and [`Interrupted`](io::ErrorKind::Interrupted), which the caller retries or not).
    /// - [`StorageFull`](io::ErrorKind::StorageFull), wrapping a [`CapacityError`], when the
    ///   buffer already holds its maximum; the reader is not called. It is not `Ok(0)`, which
    ///   would read as end of stream.
    /// - [`InvalidData`](io::ErrorKind::InvalidData), wrapping a
    ///   [`CommitError`](crate::CommitError), when the reader reports more bytes than it was
    ///   given room for; nothing is committed.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::RingBuffer;
    ///
    /// let mut socket: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
    /// let mut buf = RingBuffer::new();
    /// assert_eq!(buf.read_from(&mut socket)?, 18);
    /// assert_eq!(buf.read_from(&mut socket)?, 0); // end of stream
    /// assert_eq!(buf.len(), 18);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        let free = self.free();
        if free == 0 {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                CapacityError::WouldExceedMax {
                    requested: 1,
                    len: self.len(),
                    max: self.max_capacity(),
                },
            ));
        }
        self.reserve_within_max(free.min(MIN_READ_SPACE));
        let result = {
            let (a, b) = self.free_slices_mut();
            if b.is_empty() {
                reader.read(a)
            } else {
                reader.read_vectored(&mut [IoSliceMut::new(a), IoSliceMut::new(b)])
            }
        };
        let result = result.and_then(|n| {
            self.commit(n)
                .map(|()| n)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        });
        if self.is_empty() {
            // Nothing arrived: give back what the reservation took.
            self.clear();
        }
        result
    }

    /// Writes once from the buffered bytes to `writer`, consumes what it accepted and returns
    /// that count. Uses [`write_vectored`](Write::write_vectored) when the data wraps. An
    /// empty buffer returns `Ok(0)` without calling the writer. A writer that claims more than
    /// it was given is taken to have written everything it was given.
    ///
    /// # Errors
    ///
    /// The writer's error, unchanged; nothing is consumed then.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::RingBuffer;
    ///
    /// let mut buf = RingBuffer::new();
    /// buf.push(b"HTTP/1.1 200 OK\r\n\r\n")?;
    /// let mut socket = Vec::new();
    /// while !buf.is_empty() {
    ///     buf.write_to(&mut socket).unwrap();
    /// }
    /// assert_eq!(socket, b"HTTP/1.1 200 OK\r\n\r\n");
    /// assert_eq!(buf.capacity(), 0); // drained: memory released
    /// # Ok::<(), loopwire_ringbuf::CapacityError>(())
    /// ```
    pub fn write_to<W: Write + ?Sized>(&mut self, writer: &mut W) -> io::Result<usize> {
        if self.is_empty() {
            return Ok(0);
        }
        let written = {
            let (a, b) = self.as_slices();
            if b.is_empty() {
                writer.write(a)?
            } else {
                writer.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])?
            }
        };
        Ok(self.discard(written))
    }
}

/// Copies buffered bytes out and consumes them. `Ok(0)` means the buffer is empty (an
/// in-memory buffer has no end of stream); never fails.
impl Read for RingBuffer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.pop_into(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs {
            let n = self.pop_into(buf);
            total += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(total)
    }
}

/// Appends what fits below the maximum and returns how much that was, like
/// [`push_some`](RingBuffer::push_some).
///
/// When the buffer is full, `write` returns `Ok(0)` for a non-empty input, so
/// [`write_all`](Write::write_all) fails with [`WriteZero`](io::ErrorKind::WriteZero) instead
/// of looping. Use [`push`](RingBuffer::push) for all-or-nothing appends with a typed error.
/// `flush` does nothing.
impl Write for RingBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.push_some(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs {
            let n = self.push_some(buf);
            total += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommitError, Config};

    fn config(initial: usize, max: usize) -> Config {
        Config::builder().initial(initial).max(max).build().unwrap()
    }

    /// A reader that yields `data` at most `step` bytes per call, then `WouldBlock`
    /// or end of stream.
    struct Trickle {
        data: Vec<u8>,
        step: usize,
        eof: bool,
        vectored_calls: usize,
    }

    impl Trickle {
        fn new(data: &[u8], step: usize, eof: bool) -> Self {
            Self {
                data: data.to_vec(),
                step,
                eof,
                vectored_calls: 0,
            }
        }
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
            self.vectored_calls += 1;
            let mut total = 0;
            for buf in bufs {
                let n = self
                    .read(buf)
                    .or_else(|e| if total > 0 { Ok(0) } else { Err(e) })?;
                total += n;
                if n < buf.len() {
                    break;
                }
            }
            Ok(total)
        }
    }

    /// A writer that accepts at most `step` bytes per call.
    struct Sink {
        data: Vec<u8>,
        step: usize,
        vectored_calls: usize,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.vectored_calls += 1;
            let mut total = 0;
            for buf in bufs {
                let n = self.write(&buf[..buf.len().min(self.step - total)])?;
                total += n;
                if total == self.step {
                    break;
                }
            }
            Ok(total)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn contents(buf: &RingBuffer) -> Vec<u8> {
        let (a, b) = buf.as_slices();
        [a, b].concat()
    }

    #[test]
    fn read_from_grows_to_at_least_the_minimum_read_space() {
        let mut buf = RingBuffer::new();
        let mut r = Trickle::new(b"hello", 100, false);
        assert_eq!(buf.read_from(&mut r).unwrap(), 5);
        assert_eq!(buf.capacity(), MIN_READ_SPACE);
        assert_eq!(contents(&buf), b"hello");
    }

    #[test]
    fn read_from_is_bounded_by_max() {
        let mut buf = RingBuffer::with_config(config(0, 64));
        let mut r = Trickle::new(&[7; 100], 1000, false);
        assert_eq!(buf.read_from(&mut r).unwrap(), 64);
        assert_eq!(buf.capacity(), 64);
        let err = buf.read_from(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<CapacityError>());
        assert!(matches!(
            inner,
            Some(CapacityError::WouldExceedMax {
                len: 64,
                max: 64,
                ..
            })
        ));
        // The reader was not touched.
        assert_eq!(r.data.len(), 36);
    }

    #[test]
    fn read_from_uses_vectored_read_when_free_space_wraps() {
        let mut buf = RingBuffer::with_config(config(64, 64));
        buf.push(&[1; 60]).unwrap();
        buf.discard(50); // head = 50, data [50, 60), free [60, 64) + [0, 50)
        let mut r = Trickle::new(&[2; 30], 1000, false);
        assert_eq!(buf.read_from(&mut r).unwrap(), 30);
        assert_eq!(r.vectored_calls, 1);
        let mut expect = vec![1; 10];
        expect.extend_from_slice(&[2; 30]);
        assert_eq!(contents(&buf), expect);
        assert!(!buf.as_slices().1.is_empty(), "data now wraps");
    }

    #[test]
    fn read_from_releases_memory_when_nothing_arrives() {
        let mut buf = RingBuffer::new();
        let mut r = Trickle::new(b"", 10, false);
        let err = buf.read_from(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(buf.capacity(), 0);
        let mut r = Trickle::new(b"", 10, true);
        assert_eq!(buf.read_from(&mut r).unwrap(), 0);
        assert_eq!(buf.capacity(), 0);
    }

    #[test]
    fn read_from_rejects_a_reader_that_overreports() {
        struct Liar;
        impl Read for Liar {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(buf.len() + 1)
            }
        }
        let mut buf = RingBuffer::with_config(config(0, 64));
        let err = buf.read_from(&mut Liar).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.get_ref()
                .is_some_and(|e| e.downcast_ref::<CommitError>().is_some())
        );
        assert!(buf.is_empty());
        assert_eq!(buf.capacity(), 0);
    }

    #[test]
    fn write_to_drains_in_partial_writes_and_releases() {
        let mut buf = RingBuffer::new();
        let data: Vec<u8> = (0..=255).collect();
        buf.push(&data).unwrap();
        let mut sink = Sink {
            data: Vec::new(),
            step: 100,
            vectored_calls: 0,
        };
        assert_eq!(buf.write_to(&mut sink).unwrap(), 100);
        assert_eq!(buf.write_to(&mut sink).unwrap(), 100);
        assert_eq!(buf.write_to(&mut sink).unwrap(), 56);
        assert_eq!(buf.write_to(&mut sink).unwrap(), 0);
        assert_eq!(sink.data, data);
        assert_eq!(buf.capacity(), 0);
    }

    #[test]
    fn write_to_uses_vectored_write_when_data_wraps() {
        let mut buf = RingBuffer::with_config(config(64, 64));
        buf.push(&[1; 60]).unwrap();
        buf.discard(50);
        buf.push(&[2; 20]).unwrap(); // data [50, 64) + [0, 16)
        let mut sink = Sink {
            data: Vec::new(),
            step: 1000,
            vectored_calls: 0,
        };
        assert_eq!(buf.write_to(&mut sink).unwrap(), 30);
        assert_eq!(sink.vectored_calls, 1);
        let mut expect = vec![1; 10];
        expect.extend_from_slice(&[2; 20]);
        assert_eq!(sink.data, expect);
    }

    #[test]
    fn write_to_propagates_errors_and_keeps_data() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut buf = RingBuffer::new();
        buf.push(b"abc").unwrap();
        let err = buf.write_to(&mut Broken).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(contents(&buf), b"abc");
    }

    #[test]
    fn io_write_takes_what_fits_then_write_zero() {
        let mut buf = RingBuffer::with_config(config(0, 8));
        assert_eq!(buf.write(b"12345").unwrap(), 5);
        assert_eq!(buf.write(b"6789").unwrap(), 3);
        assert_eq!(buf.write(b"x").unwrap(), 0);
        assert_eq!(buf.write(b"").unwrap(), 0);
        let err = buf.write_all(b"y").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        assert_eq!(contents(&buf), b"12345678");
        buf.flush().unwrap();
    }

    #[test]
    fn io_write_vectored_stops_at_the_maximum() {
        let mut buf = RingBuffer::with_config(config(0, 8));
        let n = buf
            .write_vectored(&[
                IoSlice::new(b"abc"),
                IoSlice::new(b"defgh"),
                IoSlice::new(b"i"),
            ])
            .unwrap();
        assert_eq!(n, 8);
        assert_eq!(contents(&buf), b"abcdefgh");
    }

    #[test]
    fn io_read_copies_out_and_reports_empty_as_zero() {
        let mut buf = RingBuffer::new();
        buf.write_all(b"hello world").unwrap();
        let mut out = [0; 5];
        buf.read_exact(&mut out).unwrap();
        assert_eq!(&out, b"hello");
        let (mut x, mut y) = ([0; 3], [0; 10]);
        let n = buf
            .read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])
            .unwrap();
        assert_eq!(n, 6);
        assert_eq!(&x, b" wo");
        assert_eq!(&y[..3], b"rld");
        assert_eq!(buf.read(&mut out).unwrap(), 0);
        assert_eq!(buf.capacity(), 0);
    }

    #[test]
    fn io_read_to_end_collects_wrapped_data() {
        let mut buf = RingBuffer::with_config(config(64, 64));
        buf.push(&[1; 60]).unwrap();
        buf.discard(50);
        buf.push(&[2; 20]).unwrap();
        let mut out = Vec::new();
        buf.read_to_end(&mut out).unwrap();
        let mut expect = vec![1; 10];
        expect.extend_from_slice(&[2; 20]);
        assert_eq!(out, expect);
        assert!(buf.is_empty());
    }
}

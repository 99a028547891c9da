//! The outbound path's bookkeeping, apart from sockets: bytes go straight to the socket when
//! nothing is queued, and only what the socket does not take is kept, in order.
//!
//! [`send`] writes after the connection's backlog (never around it); [`drain`] writes the
//! backlog when the socket becomes writable. Both treat `WouldBlock` and `Interrupted` as "try
//! again at the next readiness event". The property suite in `loopwire-verify` drives them
//! against a writer that accepts random partial amounts and checks that exactly the bytes
//! written leave, in order.

#![cfg_attr(not(feature = "internals"), allow(unreachable_pub))]

use std::io;

use loopwire_ringbuf::BufferPool;

use crate::reactor::spill::Spill;

/// Why a send failed; the caller closes the connection.
#[derive(Debug)]
pub enum SendError {
    /// The socket reported an error other than `WouldBlock` / `Interrupted`.
    Io(io::Error),
    /// Queueing what the socket did not take would pass the connection's outbound limit.
    Overflow,
}

/// A writer that can also take a vector the caller gives up (see
/// [`Transport::send_owned`](crate::transport::Transport::send_owned)).
pub trait WriteOwned: io::Write {
    /// Writes `data`: how many bytes were taken. Only when every byte was taken may `*data`
    /// have been swapped for another (empty) vector; otherwise it is untouched.
    ///
    /// # Errors
    /// As [`io::Write::write`].
    fn write_owned(&mut self, data: &mut Vec<u8>) -> io::Result<usize> {
        self.write(data)
    }
}

/// Sends `data` on `io` after whatever `backlog` holds: straight to the socket when nothing is
/// queued, and only the part the socket does not take is copied into the backlog. Nothing is
/// queued on error.
pub fn send(
    backlog: &mut Spill,
    pool: &mut BufferPool,
    io: &mut impl io::Write,
    data: &[u8],
    max: usize,
) -> Result<(), SendError> {
    let mut sent = 0;
    if backlog.is_empty() {
        match io.write(data) {
            Ok(n) => sent = n.min(data.len()),
            Err(e) if is_transient(&e) => {}
            Err(e) => return Err(SendError::Io(e)),
        }
    }
    queue_rest(backlog, pool, &data[sent..], max)
}

/// [`send`] of a vector the caller gives up ([`WriteOwned::write_owned`]): when the writer
/// takes all of it, `data` may come back as another (empty) vector.
pub fn send_owned(
    backlog: &mut Spill,
    pool: &mut BufferPool,
    io: &mut impl WriteOwned,
    data: &mut Vec<u8>,
    max: usize,
) -> Result<(), SendError> {
    let len = data.len();
    let mut sent = 0;
    if backlog.is_empty() {
        match io.write_owned(data) {
            Ok(n) if n >= len => return Ok(()),
            Ok(n) => sent = n,
            Err(e) if is_transient(&e) => {}
            Err(e) => return Err(SendError::Io(e)),
        }
    }
    queue_rest(backlog, pool, &data[sent..], max)
}

/// Queues what the socket did not take behind the backlog, within `max`.
fn queue_rest(
    backlog: &mut Spill,
    pool: &mut BufferPool,
    rest: &[u8],
    max: usize,
) -> Result<(), SendError> {
    if rest.is_empty() || (backlog.len() + rest.len() <= max && backlog.push(pool, rest)) {
        Ok(())
    } else {
        Err(SendError::Overflow)
    }
}

/// Writes what it can of `backlog` to `io` (vectored when the bytes wrap). A drained backlog
/// gives its buffer back to the pool.
pub fn drain(
    backlog: &mut Spill,
    pool: &mut BufferPool,
    io: &mut impl io::Write,
) -> io::Result<()> {
    if backlog.is_empty() {
        return Ok(());
    }
    match backlog.write_to(pool, io) {
        Ok(_) => Ok(()),
        Err(e) if is_transient(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Errors after which the operation is simply retried at the next readiness event.
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopwire_ringbuf::Config;

    fn pool() -> BufferPool {
        BufferPool::new(Config::builder().initial(16).max(64).build().unwrap(), 32)
    }

    /// Takes at most `take` bytes per call, then reports `WouldBlock` once `take` is 0.
    struct Trickle {
        out: Vec<u8>,
        take: usize,
    }

    impl io::Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.take == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.take);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn only_what_the_socket_refuses_is_queued_and_order_holds() {
        let (mut pool, mut backlog) = (pool(), Spill::default());
        let mut io = Trickle {
            out: Vec::new(),
            take: 3,
        };
        send(&mut backlog, &mut pool, &mut io, b"hello", 64).unwrap();
        assert_eq!((io.out.as_slice(), backlog.len()), (&b"hel"[..], 2));
        // With a backlog, new bytes queue behind it without touching the socket.
        send(&mut backlog, &mut pool, &mut io, b"!", 64).unwrap();
        assert_eq!((io.out.len(), backlog.len()), (3, 3));
        io.take = 0;
        drain(&mut backlog, &mut pool, &mut io).unwrap();
        assert_eq!(backlog.len(), 3);
        io.take = 100;
        drain(&mut backlog, &mut pool, &mut io).unwrap();
        assert_eq!(io.out, b"hello!");
        assert!(backlog.is_empty());
    }

    impl WriteOwned for Trickle {}

    /// Takes the whole vector when it may, giving back an empty one.
    struct Taker(Vec<Vec<u8>>);

    impl io::Write for Taker {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl WriteOwned for Taker {
        fn write_owned(&mut self, data: &mut Vec<u8>) -> io::Result<usize> {
            let n = data.len();
            self.0.push(std::mem::take(data));
            Ok(n)
        }
    }

    #[test]
    fn an_owned_send_is_taken_whole_or_its_rest_queued_in_order() {
        let (mut pool, mut backlog) = (pool(), Spill::default());
        let mut taker = Taker(Vec::new());
        let mut data = b"whole".to_vec();
        send_owned(&mut backlog, &mut pool, &mut taker, &mut data, 64).unwrap();
        assert_eq!((taker.0.concat(), data.len()), (b"whole".to_vec(), 0));
        assert!(backlog.is_empty());
        let mut io = Trickle {
            out: Vec::new(),
            take: 2,
        };
        let mut data = b"hello".to_vec();
        send_owned(&mut backlog, &mut pool, &mut io, &mut data, 64).unwrap();
        assert_eq!((io.out.as_slice(), backlog.len()), (&b"he"[..], 3));
        // Behind a backlog the writer is not asked: the bytes queue after it.
        let mut more = b"!".to_vec();
        send_owned(&mut backlog, &mut pool, &mut taker, &mut more, 64).unwrap();
        assert_eq!((taker.0.len(), backlog.len()), (1, 4));
        io.take = 100;
        drain(&mut backlog, &mut pool, &mut io).unwrap();
        assert_eq!(io.out, b"hello!");
    }

    #[test]
    fn backlog_past_the_limit_and_hard_errors_are_reported() {
        let (mut pool, mut backlog) = (pool(), Spill::default());
        let mut io = Trickle {
            out: Vec::new(),
            take: 0,
        };
        assert!(matches!(
            send(&mut backlog, &mut pool, &mut io, &[1; 10], 8),
            Err(SendError::Overflow)
        ));
        assert!(backlog.is_empty(), "nothing queued on overflow");
        struct Broken;
        impl io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(matches!(
            send(&mut backlog, &mut pool, &mut Broken, b"x", 8),
            Err(SendError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe
        ));
    }
}

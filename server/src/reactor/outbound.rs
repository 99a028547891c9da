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
    let rest = &data[sent..];
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

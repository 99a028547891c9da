//! Dropping the io_uring transport: no operation may outlive the memory it names.
//!
//! Closing a ring does not wait for its operations: the kernel cancels them in the background,
//! and a send that was waiting for room in the socket may still copy from its buffer (a
//! receive write into one) after the close returns. Freeing those buffers at that point could
//! put freed, reused memory on the wire. So the transport cancels everything it has in flight
//! (one `IORING_OP_ASYNC_CANCEL` matching any request, kernel 5.19, as old as the buffer rings
//! it already needs) and takes completions until none is outstanding; a send the socket could
//! take at once (a goodbye written just before the engine stopped) completes before the cancel
//! is processed, as entries run in order, and so do the last bytes a closed connection left
//! behind a send in flight (`send_last`), without waiting for room. If the kernel does not
//! answer within
//! [`QUIESCE_WAIT`] the buffers that operations may still name are leaked, never freed.

use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, types};

use super::{UringTransport, waited};
use crate::transport::completion::{Op, ud, ud_parts};

/// How long a dropped transport waits for the kernel to finish or cancel its operations.
const QUIESCE_WAIT: Duration = Duration::from_secs(2);

impl UringTransport {
    /// Cancels every operation in flight and takes completions until none is outstanding;
    /// `false` if that did not happen within [`QUIESCE_WAIT`] (or the ring failed).
    fn quiesce(&mut self) -> bool {
        if self.in_flight == 0 || !self.enabled {
            // Nothing reached the kernel yet: a disabled ring never took its entries.
            return true;
        }
        self.draining = true;
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(ud(Op::Cancel, 0, 0));
        if self.push(cancel).is_err() {
            return false;
        }
        let deadline = Instant::now() + QUIESCE_WAIT;
        while self.in_flight > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let ts = types::Timespec::from(left.min(Duration::from_millis(100)));
            let args = types::SubmitArgs::new().timespec(&ts);
            if let Err(e) = waited(self.ring.submitter().submit_with_args(1, &args)) {
                tracing::warn!(error = %e, "draining the io_uring ring failed");
                return false;
            }
            loop {
                let Some(cqe) = self.ring.completion().next() else {
                    break;
                };
                if !cqueue::more(cqe.flags()) {
                    self.in_flight = self.in_flight.saturating_sub(1);
                }
                let (op, _, _) = ud_parts(cqe.user_data());
                if op == Op::Send as u8 || op == Op::Orphan as u8 {
                    // A closed connection's send: its last bytes may follow (nonblocking).
                    let done = self.book.send_done(cqe.user_data(), cqe.result());
                    if let Some(sqe) = done.sqe {
                        let _ = self.submit_book(sqe);
                    }
                    drop(done.release);
                }
            }
        }
        true
    }
}

impl Drop for UringTransport {
    fn drop(&mut self) {
        if self.quiesce() {
            return;
        }
        tracing::warn!(
            in_flight = self.in_flight,
            "io_uring operations still in flight at drop: their buffers are leaked"
        );
        // Every buffer an operation may still name is never freed: the provided buffers, the
        // sends' buffers and the wake-up read's target.
        self.bufs.leak();
        self.book.leak_sends();
        std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new([0; 8])));
    }
}

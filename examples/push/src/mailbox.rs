//! [`Mailbox`]: where publishers (any thread) leave messages for one session, which its
//! event loop picks up.
//!
//! A publisher appends under the mailbox's mutex and, when the mailbox had no wake pending,
//! calls [`EngineHandle::wake`](loopwire::EngineHandle::wake) once: many publishes between two
//! runs of the session's loop cost one wake. The loop takes messages out in `on_traffic`
//! as far as the session's window and the peer's writability allow. The queue is bounded
//! ([`Config::mailbox`](super::Config::mailbox)) and its buffer is freed whenever it empties,
//! so an idle session's mailbox is an `Arc` around an empty `VecDeque` (no heap buffer).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use loopwire::Bytes;

/// One message as sessions hold it: its id and its whole encoded PUSH frame, shared by every
/// member of the room (a reference count, no copy).
#[derive(Debug, Clone)]
pub struct Message {
    /// The message id, as in the frame.
    pub id: u64,
    /// The encoded PUSH frame.
    pub frame: Bytes,
}

/// What [`Mailbox::offer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued; the caller must wake the session's loop if `wake` is true.
    Queued {
        /// No wake was pending: the caller wakes the session.
        wake: bool,
    },
    /// The mailbox is full: dropped.
    Full,
}

#[derive(Debug, Default)]
struct Pending {
    queue: VecDeque<Message>,
    /// A wake was sent and the loop has not taken messages since.
    wake_pending: bool,
}

/// One session's inbound message queue, shared by publishers and the session's loop.
#[derive(Debug, Default)]
pub struct Mailbox {
    pending: Mutex<Pending>,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic elsewhere cannot leave a `VecDeque` half-updated: keep going.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `msg` unless `cap` messages are already waiting.
    pub fn offer(&self, msg: Message, cap: usize) -> Offer {
        let mut p = self.lock();
        if p.queue.len() >= cap {
            return Offer::Full;
        }
        p.queue.push_back(msg);
        let wake = !p.wake_pending;
        p.wake_pending = true;
        Offer::Queued { wake }
    }

    /// Appends messages that are to be sent first (restored after a reconnect), at most
    /// `cap` in all; returns how many did not fit.
    pub fn restore(&self, msgs: Vec<Message>, cap: usize) -> usize {
        let mut p = self.lock();
        let mut dropped = 0;
        for m in msgs.into_iter().rev() {
            if p.queue.len() < cap {
                p.queue.push_front(m);
            } else {
                dropped += 1;
            }
        }
        dropped
    }

    /// Calls `take` with each waiting message, oldest first, while it returns true (having
    /// sent the message) and messages remain. Clears the pending wake: publishers wake the
    /// loop again for their next message.
    pub fn take_while(&self, mut take: impl FnMut(&Message) -> bool) {
        let mut p = self.lock();
        p.wake_pending = false;
        while let Some(m) = p.queue.front() {
            if !take(m) {
                break;
            }
            p.queue.pop_front();
        }
        if p.queue.is_empty() && p.queue.capacity() > 0 {
            p.queue = VecDeque::new();
        }
    }

    /// Every waiting message, removed.
    pub fn drain(&self) -> Vec<Message> {
        let mut p = self.lock();
        std::mem::take(&mut p.queue).into()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u64) -> Message {
        Message {
            id,
            frame: Bytes::from_static(b"x"),
        }
    }

    #[test]
    fn wakes_once_until_taken_and_bounds_the_queue() {
        let mb = Mailbox::default();
        assert_eq!(mb.offer(msg(1), 2), Offer::Queued { wake: true });
        assert_eq!(mb.offer(msg(2), 2), Offer::Queued { wake: false });
        assert_eq!(mb.offer(msg(3), 2), Offer::Full);
        let mut got = Vec::new();
        mb.take_while(|m| {
            got.push(m.id);
            got.len() < 2
        });
        assert_eq!(got, [1, 2]);
        assert_eq!(mb.len(), 1);
        assert_eq!(mb.offer(msg(4), 2), Offer::Queued { wake: true });
        assert_eq!(mb.restore(vec![msg(8), msg(9)], 3), 1);
        let ids: Vec<u64> = mb.drain().iter().map(|m| m.id).collect();
        assert_eq!(ids, [9, 2, 4]);
        assert!(mb.is_empty());
    }
}

//! [`Mailbox`]: where publishers and the session registry (any thread) leave work for one
//! session, which its event loop picks up: QoS0 frames, the note "the store has new QoS1
//! messages for your user", and a KICK.
//!
//! A publisher appends under the mailbox's mutex and, when the mailbox had no wake pending,
//! wakes the session's loop once ([`EngineHandle::wake`](loopwire::EngineHandle::wake), or
//! one [`wake_many`](loopwire::EngineHandle::wake_many) for a whole fan-out): many pushes
//! between two runs of the session's loop cost one wake. The loop takes the frames out in
//! `on_traffic` as far as the peer's writability allows. The QoS0 queue is bounded
//! ([`Config::mailbox`](super::Config::mailbox)) and its buffer is freed whenever it empties,
//! so an idle session's mailbox holds no heap buffer besides itself. QoS1 messages never
//! wait here: they are in the store, and the session pulls them ([`delivery`](super::delivery)).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use loopwire::Bytes;

/// A user id, shared by its sessions, the registry and the rooms.
pub type UserName = Arc<str>;

/// What [`Mailbox::offer`] and the notes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued; the caller must wake the session's loop if `wake` is true.
    Queued {
        /// No wake was pending: the caller wakes the session.
        wake: bool,
    },
    /// The QoS0 queue is full: dropped.
    Full,
}

/// A KICK the session is to send before it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KickNote {
    /// [`frame::kick`](super::frame::kick) code.
    pub code: u16,
    /// The reason, as the KICK frame carries it.
    pub reason: String,
}

/// What the loop found in the mailbox besides QoS0 frames.
#[derive(Debug, Default)]
pub struct Notes {
    /// New QoS1 messages may be in the store.
    pub store: bool,
    /// The session is kicked.
    pub kick: Option<KickNote>,
    /// Rooms the backend assigned (`true`: join) or withdrew (`false`: leave), in order.
    pub rooms: Vec<(Box<[u8]>, bool)>,
}

#[derive(Debug, Default)]
struct Pending {
    queue: VecDeque<Bytes>,
    /// A wake was sent and the loop has not looked since.
    wake_pending: bool,
    store: bool,
    /// A KICK and room assignments not applied yet, boxed together: almost never set, and
    /// every session has a mailbox (one pointer here instead of a `Vec` and a pointer: the
    /// mailbox's allocation is 96 bytes instead of 128). `take_notes` frees the box.
    rare: Option<Box<Rare>>,
}

/// The seldom-used part of [`Pending`].
#[derive(Debug, Default)]
struct Rare {
    kick: Option<KickNote>,
    rooms: Vec<(Box<[u8]>, bool)>,
}

impl Pending {
    fn wake(&mut self) -> bool {
        !std::mem::replace(&mut self.wake_pending, true)
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

/// One session's inbound queue, shared by publishers and the session's loop.
#[derive(Debug)]
pub struct Mailbox {
    user: UserName,
    pending: Mutex<Pending>,
}

impl Mailbox {
    /// An empty mailbox of a session of `user`.
    pub fn new(user: UserName) -> Self {
        Self {
            user,
            pending: Mutex::default(),
        }
    }

    /// The session's user.
    pub fn user(&self) -> &UserName {
        &self.user
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic elsewhere cannot leave a `VecDeque` half-updated: keep going.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a QoS0 PUSH frame unless `cap` frames are already waiting.
    pub fn offer(&self, frame: Bytes, cap: usize) -> Offer {
        let mut p = self.lock();
        if p.queue.len() >= cap {
            return Offer::Full;
        }
        p.queue.push_back(frame);
        Offer::Queued { wake: p.wake() }
    }

    /// Notes that the store holds new QoS1 messages for the user; true if the caller must
    /// wake the session.
    pub fn notify_store(&self) -> bool {
        let mut p = self.lock();
        p.store = true;
        p.wake()
    }

    /// Asks the session to send KICK and close (the first kick wins); true if the caller
    /// must wake the session.
    pub fn kick(&self, note: KickNote) -> bool {
        let mut p = self.lock();
        let rare = p.rare();
        if rare.kick.is_none() {
            rare.kick = Some(note);
        }
        p.wake()
    }

    /// Asks the session to join (`join`) or leave `room` on its loop (a room assigned or
    /// withdrawn by the backend); true if the caller must wake the session. At most 64
    /// changes wait; beyond, the oldest is dropped (the session re-reads its rooms at its
    /// next login).
    pub fn assign(&self, room: &[u8], join: bool) -> bool {
        let mut p = self.lock();
        let rooms = &mut p.rare().rooms;
        if rooms.len() >= 64 {
            rooms.remove(0);
        }
        rooms.push((room.into(), join));
        p.wake()
    }

    /// Takes the notes and clears the pending wake: publishers wake the loop again for
    /// what they leave next.
    pub fn take_notes(&self) -> Notes {
        let mut p = self.lock();
        p.wake_pending = false;
        let rare = p.rare.take().map(|r| *r).unwrap_or_default();
        Notes {
            store: std::mem::take(&mut p.store),
            kick: rare.kick,
            rooms: rare.rooms,
        }
    }

    /// Calls `take` with each waiting QoS0 frame, oldest first, while it returns true (having
    /// sent the frame) and frames remain.
    pub fn take_while(&self, mut take: impl FnMut(&Bytes) -> bool) {
        let mut p = self.lock();
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

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_once_until_looked_at_and_bounds_the_queue() {
        let mb = Mailbox::new("u".into());
        let f = |b: &'static [u8]| Bytes::from_static(b);
        assert_eq!(mb.offer(f(b"1"), 2), Offer::Queued { wake: true });
        assert_eq!(mb.offer(f(b"2"), 2), Offer::Queued { wake: false });
        assert_eq!(mb.offer(f(b"3"), 2), Offer::Full);
        assert!(!mb.notify_store());
        let notes = mb.take_notes();
        assert!(notes.store && notes.kick.is_none());
        let mut got = Vec::new();
        mb.take_while(|m| {
            got.push(m.clone());
            got.len() < 2
        });
        // The second was looked at, not sent: it stays.
        assert_eq!(got, [f(b"1"), f(b"2")]);
        assert_eq!(mb.len(), 1);
        let note = |code| KickNote {
            code,
            reason: String::new(),
        };
        assert!(mb.kick(note(1)));
        assert!(!mb.kick(note(2)));
        assert_eq!(mb.take_notes().kick, Some(note(1)));
        assert!(!mb.take_notes().store);
    }

    #[test]
    fn rare_notes_are_boxed_and_freed_when_taken() {
        // Every session has a mailbox: 72 bytes, 88 with the Arc's counts.
        assert!(size_of::<Mailbox>() <= 72, "{}", size_of::<Mailbox>());
        let mb = Mailbox::new("u".into());
        assert!(mb.assign(b"r1", true));
        assert!(!mb.assign(b"r2", false));
        let note = KickNote {
            code: 2,
            reason: "bye".into(),
        };
        assert!(!mb.kick(note.clone()));
        let notes = mb.take_notes();
        assert_eq!(notes.kick, Some(note));
        let rooms: Vec<_> = notes.rooms.iter().map(|(r, j)| (&r[..], *j)).collect();
        assert_eq!(rooms, [(&b"r1"[..], true), (&b"r2"[..], false)]);
        assert!(mb.lock().rare.is_none(), "taking the notes frees the box");
        let again = mb.take_notes();
        assert!(again.kick.is_none() && again.rooms.is_empty());
    }
}

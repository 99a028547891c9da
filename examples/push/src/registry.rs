//! [`Registry`]: room name → members (their mailboxes, which name their users), shared by
//! every event loop and every publisher.
//!
//! # Locking, and why
//!
//! 64 shards, each an `RwLock<HashMap<room, Arc<Room>>>`; each room holds its members in its
//! own `Mutex<HashMap<ConnHandle, Arc<Mailbox>>>`.
//!
//! - JOIN and LEAVE take their shard's lock for reading (writing only to create or remove a
//!   room) and the room's mutex for one insert or remove: O(1) work under the locks. Loops
//!   handling joins to different rooms rarely meet (1/64 share a shard, and even then both
//!   only read it).
//! - A push takes the shard's read lock just to clone the room's `Arc`, then holds the
//!   room's mutex while it offers a QoS0 frame to every member (or, QoS1, collects the
//!   members' distinct users). Holding it makes each room's QoS0 messages reach every
//!   member in one order, and the work under it is O(members): about 0.1 µs per member (a
//!   mailbox lock). So a push to a room of 15 000 holds that room for
//!   a millisecond or two: joins and leaves *of that room* wait that long; other rooms do
//!   not notice. Two publishers to the same room take turns.
//! - A member is inserted while its shard is read-locked, and an empty room is removed only
//!   under the shard's write lock after checking it is still empty, so a join can never land
//!   in a room that was just unlinked.
//!
//! Copy-on-write member lists (a push takes a snapshot, no lock held while sending) would
//! make a join O(members): 15 000 joins to one room would copy 10^8 entries. A lock per
//! room with O(1) joins is the better trade for rooms that grow one member at a time.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use loopwire::ConnHandle;

use super::mailbox::Mailbox;

/// Number of shards of the room map.
const SHARDS: usize = 64;

/// A room name.
pub type RoomName = Arc<[u8]>;

/// One room: its members and their mailboxes.
#[derive(Debug, Default)]
pub struct Room {
    members: Mutex<HashMap<ConnHandle, Arc<Mailbox>>>,
}

impl Room {
    /// The members, locked (see the module docs for what holding this means).
    pub fn members(&self) -> MutexGuard<'_, HashMap<ConnHandle, Arc<Mailbox>>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Shard = RwLock<HashMap<RoomName, Arc<Room>>>;

/// Every room of the gateway.
#[derive(Debug)]
pub struct Registry {
    shards: Box<[Shard]>,
    hasher: RandomState,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Registry {
    fn shard(&self, room: &[u8]) -> &Shard {
        let i = self.hasher.hash_one(room) as usize % SHARDS;
        &self.shards[i]
    }

    /// The room, if it has members.
    pub fn room(&self, name: &[u8]) -> Option<Arc<Room>> {
        let shard = self
            .shard(name)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard.get(name).cloned()
    }

    /// Adds `member` (with its mailbox) to room `name`, creating the room; returns the
    /// room's name as stored (shared with the session, which needs it to leave).
    pub fn join(&self, name: &[u8], member: ConnHandle, mailbox: &Arc<Mailbox>) -> RoomName {
        let shard = self.shard(name);
        {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((key, room)) = map.get_key_value(name) {
                room.members().insert(member, Arc::clone(mailbox));
                return Arc::clone(key);
            }
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        let key: RoomName = Arc::from(name);
        let (key, room) = match map.get_key_value(name) {
            Some((k, r)) => (Arc::clone(k), Arc::clone(r)),
            None => {
                let room = Arc::new(Room::default());
                map.insert(Arc::clone(&key), Arc::clone(&room));
                (key, room)
            }
        };
        room.members().insert(member, Arc::clone(mailbox));
        key
    }

    /// Removes `member` from room `name`, and the room once it is empty.
    pub fn leave(&self, name: &[u8], member: ConnHandle) {
        let shard = self.shard(name);
        let now_empty = {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            let Some(room) = map.get(name) else { return };
            let mut members = room.members();
            members.remove(&member);
            members.is_empty()
        };
        if now_empty {
            let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
            if map.get(name).is_some_and(|r| r.members().is_empty()) {
                map.remove(name);
            }
        }
    }

    /// Rooms with members (walks every shard).
    pub fn rooms(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

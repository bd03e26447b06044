//! Invalidation: by group, by key, and of the whole cache.
//!
//! The guarantee: a call that begins after an invalidation returned never receives a value
//! whose fetch began before that return, including fetches that began while the invalidation
//! was running. The invalidation "returns" when its [`Invalidated`](crate::Invalidated)
//! completes or is dropped; all its work is done in the call, so its effect does not depend on
//! that value being awaited, and the removed values are dropped before the call returns.
//!
//! Each kind does three things, in this order:
//!
//! 1. **Fence** (see `engine/fence.rs`): it raises a fence over exactly what it invalidates (the
//!    group's hash, the key's hash, or everything for `clear`), held until it returns. A fetch
//!    reads its stamp, then asks the fences; if one covers its key, it runs *unshared*: its
//!    caller gets the result, but nobody joins it and it is not stored. Fetches of every other
//!    group and key are not affected.
//! 2. **Make the old unreadable.** A group invalidation bumps the group's generation (`gen`)
//!    and `clear` the cache's epoch: a flight whose stamp is older is never joined and never
//!    stored, and a stored value whose `gen` or epoch is older is never read. A key
//!    invalidation is numbered instead
//!    ([`record_key`](crate::engine::fence::Fences::record_key)): a group-wide generation would
//!    also refuse the key's siblings.
//! 3. **Remove** the stored entries. A key invalidation does it under the key's flight entry,
//!    and takes the key's flight out of the map there: later callers cannot join it, its
//!    leader, no longer the map's, does not store, and a leader's store is wholly before this
//!    (and removed) or wholly after (and refused).
//!
//! A fetch *begins* where it asks the fences. Why nothing that began before the return is left
//! behind:
//!
//! - If it read its stamp after step 2, it asked the fences afterwards: all loads and stores
//!   involved are `SeqCst`, so it found the fence raised in step 1, unless it asked after the
//!   fence was lowered, that is, after the invalidation returned.
//! - If it read its stamp before step 2: for a group or `clear`, its stamp is old, so it is
//!   neither joined nor stored. For a key: if it registered its flight before step 3, step 3
//!   takes the flight out of the map; if after, it asks, under the key's flight entry, whether
//!   its key was invalidated since it began ([`key_invalidated_since`]), and runs unshared.
//!
//! [`key_invalidated_since`]: crate::engine::fence::Fences::key_invalidated_since
//!
//! The fence is found by hash, so it also covers a group or key that does not exist yet when
//! the invalidation runs, or that leaves the index and comes back meanwhile.

use std::hash::Hash;
use std::sync::atomic::Ordering::SeqCst;

use crate::cache::invalidated::Invalidated;
use crate::cache::trace;
use crate::cache::Core;
use crate::engine::fence::Target;
use crate::engine::hook::HookPoint;
use crate::engine::probe::KnownHash;
use crate::engine::stats::bump;
use crate::engine::store::Graveyard;
use crate::keys::lookup::{GroupLookup, KeyLookup};

impl<G, K> Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    pub(crate) fn invalidate_group_by<P: ?Sized + GroupLookup<G>>(
        &self,
        probe: &P,
    ) -> Invalidated<usize> {
        let probe = &self.store.hasher.hashed_group(probe);
        let fence = self.fences.raise(Target::Group(probe.group_hash()));
        bump(&self.store.counters.group_invalidations, 1);
        let mut removed = 0;
        // A group that does not exist has nothing stored and nothing in flight.
        if let Some(group) = self.store.groups.pin_existing(probe) {
            // From here on, nothing fetched before is readable or joinable.
            group.gen.fetch_add(1, SeqCst);
            let mut graveyard = Graveyard::new();
            removed = self.store.remove_members(&group, &mut graveyard);
            drop(graveyard);
            self.store.groups.unpin(&group);
        }
        self.finish_invalidation();
        trace::invalidated_group(self.name(), removed);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        Invalidated::new(removed, fence)
    }

    pub(crate) fn invalidate_key_by<P: ?Sized + KeyLookup<G, K>>(
        &self,
        probe: &P,
    ) -> Invalidated<bool> {
        let probe = &self.store.hasher.hashed(probe);
        let fence = self.fences.raise(Target::Key(probe.key_hash()));
        bump(&self.store.counters.key_invalidations, 1);
        self.fences.record_key(probe.key_hash());
        let mut removed = false;
        // A stored entry and a flight in the map both pin their group: without the group, the
        // key has nothing stored and nothing in flight.
        if let Some(group) = self.store.groups.pin_existing(probe) {
            let mut graveyard = Graveyard::new();
            // Under the key's flight entry: the flight running leaves the map (nobody joins it
            // from here on, and its leader, no longer the map's, does not store), and the stored
            // value goes, so that a leader's store is wholly before this (and removed here) or
            // wholly after (and refused). The key's siblings and their flights are untouched.
            let displaced = self.flights.displace(probe, || {
                removed = self.store.remove_key(probe, &mut graveyard);
            });
            if let Some(old) = displaced {
                self.store.groups.unpin(&old.group);
            }
            drop(graveyard);
            self.store.groups.unpin(&group);
        }
        self.finish_invalidation();
        trace::invalidated_key(self.name(), removed);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        Invalidated::new(removed, fence)
    }

    pub(crate) fn clear_all(&self) -> Invalidated<usize> {
        let fence = self.fences.raise(Target::All);
        bump(&self.store.counters.clears, 1);
        self.epoch.fetch_add(1, SeqCst);
        let mut graveyard = Graveyard::new();
        let mut removed = 0;
        for group in self.store.groups.all() {
            removed += self.store.remove_members(&group, &mut graveyard);
        }
        drop(graveyard);
        self.finish_invalidation();
        trace::cleared(self.name(), removed);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        Invalidated::new(removed, fence)
    }

    /// Housekeeping, done in the call, before the fence can be lowered.
    fn finish_invalidation(&self) {
        self.maintain();
    }
}

//! Invalidation: by group, by key, and of the whole cache.
//!
//! The guarantee: a call that begins after an invalidation returned never receives a value
//! whose fetch began before that return, including fetches that began while the invalidation
//! was running.
//!
//! - **Before it**: the invalidation bumps a generation: the group's (`gen`), the group's key
//!   generation (`key_gen`, for one key) or the cache's epoch (for `clear`). A fetch's stamp
//!   records them when it begins; a flight whose stamp is old is never joined and its value
//!   never stored, and a stored value whose `gen` or epoch is old is never read. Then the stored
//!   entries are removed.
//! - **While it runs**: the invalidation raises the cache's `invalidating` count before the
//!   bump, and lowers it when it returns: when its [`Invalidated`](crate::Invalidated) future
//!   completes, or is dropped (the work itself is all done in the call). A fetch reads its stamp, then that count; if it
//!   is raised, the fetch runs *unshared*: its caller gets the result, but nobody joins it and
//!   it is not stored. Otherwise (all loads and stores here are `SeqCst`) the count was read
//!   before it was raised, so the stamp was read before the bump and the fetch is stale; or it
//!   was read after it was lowered, and the fetch began after the invalidation's last step. A
//!   fetch that began while an invalidation ran therefore leaves nothing behind for later calls.
//!
//! The count is per cache, not per group, so it also covers a group that does not exist yet
//! when the invalidation looks for it, or that leaves the index and comes back meanwhile; the
//! price is that fetches of other groups that begin during an invalidation are not cached.
//!
//! Everything runs synchronously in the call, so the effect does not depend on the returned
//! [`Invalidated`](crate::Invalidated) being awaited, and the removed values are dropped before
//! the call returns.

use std::hash::Hash;
use std::sync::atomic::Ordering::SeqCst;

use crate::cache::Inner;
use crate::hook::HookPoint;
use crate::invalidated::{InProgress, Invalidated};
use crate::probe::{GroupLookup, KeyLookup};
use crate::store::Graveyard;
use crate::trace;

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn invalidate_group_by<P: ?Sized + GroupLookup<G>>(
        &self,
        probe: &P,
    ) -> Invalidated<usize> {
        let in_progress = InProgress::start(&self.invalidating);
        let probe = &self.store.hasher.hashed_group(probe);
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
        Invalidated::new(removed, in_progress)
    }

    pub(crate) fn invalidate_key_by<P: ?Sized + KeyLookup<G, K>>(
        &self,
        probe: &P,
    ) -> Invalidated<bool> {
        let in_progress = InProgress::start(&self.invalidating);
        let probe = &self.store.hasher.hashed(probe);
        let mut removed = false;
        // A stored entry and a flight in the map both pin their group: without the group, the
        // key has nothing stored and nothing in flight.
        if let Some(group) = self.store.groups.pin_existing(probe) {
            group.key_gen.fetch_add(1, SeqCst);
            let mut graveyard = Graveyard::new();
            // Removed while the key's flight entry is held, so the leader's store is wholly
            // before (and removed here) or wholly after (and refused) this point.
            removed = self
                .flights
                .with_key_entry(probe, || self.store.remove_key(probe, &mut graveyard));
            drop(graveyard);
            self.store.groups.unpin(&group);
        }
        self.finish_invalidation();
        trace::invalidated_key(self.name(), removed);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        Invalidated::new(removed, in_progress)
    }

    pub(crate) fn clear_all(&self) -> Invalidated<usize> {
        let in_progress = InProgress::start(&self.invalidating);
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
        Invalidated::new(removed, in_progress)
    }

    /// Housekeeping, done in the call, before the count can be lowered.
    fn finish_invalidation(&self) {
        self.maintain();
    }
}

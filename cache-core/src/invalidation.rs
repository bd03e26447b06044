//! Invalidation: by group, by key, and of the whole cache.
//!
//! The guarantee: a call that begins after an invalidation returned never receives a value
//! whose fetch began before that return, including fetches that began while the invalidation
//! was running.
//!
//! - **Before it**: the invalidation bumps the group's generation (or the cache's epoch, or marks
//!   the key's flight). Everything fetched under the old stamp, stored or in flight, can no
//!   longer be read, joined or stored; then the stored entries are removed.
//! - **While it runs**: an invalidation raises its group's `invalidating` count (the cache's
//!   `clearing` count for `clear`) before bumping, and lowers it when done. A fetch reads its
//!   stamp, then that count; if it is raised, the fetch runs *unshared*: its caller gets the
//!   result, but nobody joins it and it is not stored. Otherwise (all loads and stores here are
//!   `SeqCst`) the count was read before it was raised, so the stamp was read before the bump,
//!   and the fetch is stale; or after it was lowered, and the fetch began after the
//!   invalidation. A fetch that began while an invalidation ran therefore leaves nothing
//!   behind for later calls.
//! - The invalidation pins its group while it runs, so the group cannot leave the index and come
//!   back as a fresh instance with a count of zero meanwhile.
//!
//! Everything runs synchronously in the call, so the effect does not depend on the returned
//! [`Invalidated`](crate::Invalidated) being awaited, and the removed values are dropped before
//! the call returns.

use std::hash::Hash;
use std::sync::atomic::Ordering::SeqCst;

use crate::cache::TtlCache;
use crate::hook::HookPoint;
use crate::probe::{GroupLookup, KeyLookup};
use crate::store::Graveyard;
use crate::trace;

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn invalidate_group_by<P: ?Sized + GroupLookup<G>>(&self, probe: &P) -> usize {
        let mut graveyard = Graveyard::new();
        let mut removed = 0;
        // A group that does not exist has nothing stored and nothing in flight; a fetch that
        // creates it now began after this point.
        if let Some(group) = self.store.groups.pin_existing(probe) {
            group.invalidating.fetch_add(1, SeqCst);
            // From here on, nothing fetched before is readable or joinable.
            group.gen.fetch_add(1, SeqCst);
            removed = self.store.remove_members(&group, &mut graveyard);
            // Everything that takes time happens before the count is lowered: a fetch that
            // begins after that is judged fresh, so only instants may separate it from return.
            drop(graveyard);
            self.maintain();
            trace::invalidated_group(self.name(), removed);
            self.hooks.at_sync(HookPoint::InvalidationMidway);
            group.invalidating.fetch_sub(1, SeqCst);
            self.store.groups.unpin(&group);
        } else {
            trace::invalidated_group(self.name(), 0);
        }
        removed
    }

    pub(crate) fn invalidate_key_by<P: ?Sized + KeyLookup<G, K>>(&self, probe: &P) -> bool {
        // A stored entry and a flight in the map both pin their group: without the group, the
        // key has nothing stored and nothing in flight, and a fetch that creates the group now
        // began after this point. Return at once, so that point is this one.
        let Some(group) = self.store.groups.pin_existing(probe) else {
            trace::invalidated_key(self.name(), false);
            return false;
        };
        let mut graveyard = Graveyard::new();
        group.invalidating.fetch_add(1, SeqCst);
        // Removed while the key's flight entry is held, so the leader's store is wholly before
        // (and removed here) or wholly after (and refused) this point.
        let removed = self
            .flights
            .invalidate_key(probe, || self.store.remove_key(probe, &mut graveyard));
        drop(graveyard);
        self.maintain();
        trace::invalidated_key(self.name(), removed);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        group.invalidating.fetch_sub(1, SeqCst);
        self.store.groups.unpin(&group);
        removed
    }

    pub(crate) fn clear_all(&self) -> usize {
        let mut graveyard = Graveyard::new();
        let mut removed = 0;
        self.clearing.fetch_add(1, SeqCst);
        self.epoch.fetch_add(1, SeqCst);
        for group in self.store.groups.all() {
            removed += self.store.remove_members(&group, &mut graveyard);
        }
        drop(graveyard);
        self.maintain();
        trace::cleared(self.name(), removed);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        self.clearing.fetch_sub(1, SeqCst);
        removed
    }
}

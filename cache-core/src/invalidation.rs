//! Invalidation: by group, by key, and of the whole cache, each in two passes.
//!
//! The guarantee: a call that begins after an invalidation returned never receives a value
//! whose fetch began before that return, including fetches that began while the invalidation
//! was running.
//!
//! One pass makes everything fetched so far unreadable and removes it: it bumps the group's
//! generation (or the cache's epoch, or marks the key's flight), so nothing stored or in flight
//! under the old stamp can be read or joined, then removes the stored entries. But a fetch may
//! begin while the pass runs, read the new stamp, and be judged fresh: its value would outlive
//! an invalidation that had not yet returned when it began. So the pass runs twice: the second
//! bump makes those fetches stale too, and the second removal takes out what they stored
//! meanwhile. A fetch that begins after the second bump began after everything this
//! invalidation did, and is fresh in every sense.
//!
//! Everything runs synchronously in the call, so the effect does not depend on the returned
//! [`Invalidated`](crate::Invalidated) being awaited, and the removed values are dropped before
//! the call returns.

use std::hash::Hash;
use std::sync::atomic::Ordering::AcqRel;

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
        let mut removed = self.group_pass(probe);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        removed += self.group_pass(probe);
        trace::invalidated_group(self.name(), removed);
        self.maintain();
        removed
    }

    fn group_pass<P: ?Sized + GroupLookup<G>>(&self, probe: &P) -> usize {
        let mut graveyard = Graveyard::new();
        let mut removed = 0;
        let mut done = None;
        // Loops in case the group emptied, left the index and was created anew meanwhile.
        while let Some(group) = self.store.groups.find(probe) {
            if done
                .as_ref()
                .is_some_and(|d| std::sync::Arc::ptr_eq(d, &group))
            {
                break;
            }
            // From here on, nothing fetched before is readable or joinable.
            group.gen.fetch_add(1, AcqRel);
            removed += self.store.remove_members(&group, &mut graveyard);
            done = Some(group);
        }
        removed
    }

    pub(crate) fn invalidate_key_by<P: ?Sized + KeyLookup<G, K>>(&self, probe: &P) -> bool {
        let mut removed = self.key_pass(probe);
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        removed |= self.key_pass(probe);
        trace::invalidated_key(self.name(), removed);
        self.maintain();
        removed
    }

    fn key_pass<P: ?Sized + KeyLookup<G, K>>(&self, probe: &P) -> bool {
        let mut graveyard = Graveyard::new();
        // Removed while the flight entry is held, so the leader's store is wholly before (and
        // removed here) or wholly after (and refused) this point.
        self.flights
            .invalidate_key(probe, || self.store.remove_key(probe, &mut graveyard))
    }

    pub(crate) fn clear_all(&self) -> usize {
        let mut removed = self.clear_pass();
        self.hooks.at_sync(HookPoint::InvalidationMidway);
        removed += self.clear_pass();
        trace::cleared(self.name(), removed);
        self.maintain();
        removed
    }

    fn clear_pass(&self) -> usize {
        self.epoch.fetch_add(1, AcqRel);
        let mut graveyard = Graveyard::new();
        let mut removed = 0;
        for group in self.store.groups.all() {
            removed += self.store.remove_members(&group, &mut graveyard);
        }
        removed
    }
}

//! The group index: finds a group by its key, creates it on a group's first fetch, and drops it
//! when nothing points at it any more.

use std::hash::Hash;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use scc::hash_index::Entry;
use scc::HashIndex;

use crate::engine::group::{Group, GroupKey, Member};
use crate::engine::probe::{ByGroup, KnownHash, PreHashed, Stored};
use crate::keys::lookup::{GroupLookup, GroupProbe};

pub(crate) struct Groups<G, N> {
    index: HashIndex<GroupKey<G, N>, (), PreHashed>,
}

impl<G, N> Groups<G, N>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    N: Member + Send + Sync + 'static,
{
    pub(crate) fn new() -> Self {
        Self {
            index: HashIndex::with_hasher(PreHashed::default()),
        }
    }

    /// The group of `probe`, pinned, if it exists.
    pub(crate) fn pin_existing<P: ?Sized + GroupLookup<G> + KnownHash>(
        &self,
        probe: &P,
    ) -> Option<Arc<Group<G, N>>> {
        let entry = self.index.get_sync(&ByGroup::new(probe))?;
        let group = Arc::clone(&entry.key().0);
        group.pins.fetch_add(1, Relaxed);
        Some(group)
    }

    /// Finds or creates the group of `probe` and pins it (see [`Group::pins`]).
    pub(crate) fn pin<P: ?Sized + GroupProbe<G> + KnownHash>(&self, probe: &P) -> Arc<Group<G, N>> {
        if let Some(entry) = self.index.get_sync(&ByGroup::new(probe)) {
            let group = Arc::clone(&entry.key().0);
            group.pins.fetch_add(1, Relaxed);
            return group;
        }
        let fresh = Arc::new(Group::new(probe.owned_group(), probe.group_hash()));
        match self.index.entry_sync(GroupKey(Arc::clone(&fresh))) {
            Entry::Occupied(entry) => {
                let group = Arc::clone(&entry.key().0);
                group.pins.fetch_add(1, Relaxed);
                group
            }
            Entry::Vacant(entry) => {
                entry.insert_entry(());
                fresh
            }
        }
    }

    /// Drops one pin; the last one takes the group out of the index.
    pub(crate) fn unpin(&self, group: &Arc<Group<G, N>>) {
        if group.pins.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let probe = Stored::<G, ()> {
            group: &group.key,
            rest: &(),
            key_hash: 0,
            group_hash: group.hash,
            identity: Arc::as_ptr(group).cast(),
        };
        if let Some(entry) = self.index.get_sync(&ByGroup::new(&probe)) {
            // Pins only grow under this lock (or from above zero), so zero here is final.
            if Arc::ptr_eq(&entry.key().0, group) && group.pins.load(Acquire) == 0 {
                entry.remove_entry();
            }
        }
    }

    /// Every group, for clearing the cache.
    pub(crate) fn all(&self) -> Vec<Arc<Group<G, N>>> {
        let guard = scc::Guard::new();
        self.index
            .iter(&guard)
            .map(|(key, ())| Arc::clone(&key.0))
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}

//! The group index: finds a group by its key, creates it on a group's first fetch, and drops it
//! when nothing points at it any more.
//!
//! Built on the erased index (`erased.rs`): it is never read on a hit, and so its hash-table
//! code is compiled once, in this crate, whatever the cache's key types.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use crate::engine::erased::{downcast, downcast_arc, Index, Record};
use crate::engine::group::{Group, Member};
use crate::engine::list::Shared;
use crate::engine::probe::KnownHash;
use crate::keys::lookup::{GroupLookup, GroupProbe};

pub(crate) struct Groups<G, R> {
    index: Index,
    _groups: PhantomData<Arc<Group<G, R>>>,
}

impl<G, R> Record for Group<G, R>
where
    G: Eq + Send + Sync + 'static,
    R: Send + Sync + 'static,
{
    fn record_hash(&self) -> u64 {
        self.hash
    }

    fn same_key(&self, other: &dyn Record) -> bool {
        downcast::<Self>(other).is_some_and(|other| other.key == self.key)
    }
}

impl<G, R> Groups<G, R>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    R: Shared + Send + Sync + 'static,
    R::Target: Member,
{
    pub(crate) fn new() -> Self {
        Self {
            index: Index::new(),
            _groups: PhantomData,
        }
    }

    /// The group of `probe`, pinned, if it exists.
    pub(crate) fn pin_existing<P: ?Sized + GroupLookup<G> + KnownHash>(
        &self,
        probe: &P,
    ) -> Option<Arc<Group<G, R>>> {
        let matches = |record: &dyn Record| {
            downcast::<Group<G, R>>(record).is_some_and(|group| {
                probe.is(std::ptr::from_ref(group).cast()) || probe.group_matches(&group.key)
            })
        };
        let found = self
            .index
            .find(probe.group_hash(), &matches, &Self::pin_record)?;
        Some(downcast_arc(found))
    }

    /// Finds or creates the group of `probe` and pins it (see [`Group::pins`]).
    pub(crate) fn pin<P: ?Sized + GroupProbe<G> + KnownHash>(&self, probe: &P) -> Arc<Group<G, R>> {
        if let Some(group) = self.pin_existing(probe) {
            return group;
        }
        // Created pinned; if another caller created the group meanwhile, that one is pinned
        // (under its bucket lock) and returned instead.
        let fresh: Arc<Group<G, R>> = Arc::new(Group::new(probe.owned_group(), probe.group_hash()));
        downcast_arc(self.index.find_or_insert(fresh, &Self::pin_record))
    }

    /// Pins a group found in the index, under its bucket lock.
    fn pin_record(record: &dyn Record) {
        if let Some(group) = downcast::<Group<G, R>>(record) {
            group.pins.fetch_add(1, Relaxed);
        }
    }

    /// Drops one pin; the last one takes the group out of the index.
    pub(crate) fn unpin(&self, group: &Arc<Group<G, R>>) {
        if group.pins.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let this =
            |record: &dyn Record| std::ptr::addr_eq(std::ptr::from_ref(record), Arc::as_ptr(group));
        // Pins only grow under this lock (or from above zero), so zero here is final.
        self.index
            .remove_if(group.hash, &this, &|_| group.pins.load(Acquire) == 0);
    }

    /// Every group, for clearing the cache.
    pub(crate) fn all(&self) -> Vec<Arc<Group<G, R>>> {
        self.index.all().into_iter().map(downcast_arc).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}

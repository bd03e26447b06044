//! Per-group state: the generation that invalidation bumps, and the member list that makes
//! invalidating a group cost O(group size).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::node::{Node, NO_SLOT};
use crate::probe::StoredGroup;

pub(crate) struct Group<G, K, V> {
    pub(crate) key: G,
    /// Bumped by every invalidation of this group.
    pub(crate) gen: AtomicU64,
    /// Stored nodes plus flights in the flight map that point at this group. The group leaves
    /// the group index only at zero, so a live node's group is always the indexed one, and
    /// invalidating by key always reaches it. Incremented only under the group index's bucket
    /// lock (or from a count already above zero), which makes the zero check under that lock
    /// final.
    pub(crate) pins: AtomicUsize,
    /// The group's stored nodes. Removal is O(1): each node records its slot, and removal
    /// swaps the last member into it.
    members: Mutex<Vec<Arc<Node<G, K, V>>>>,
}

impl<G, K, V> Group<G, K, V> {
    pub(crate) fn new(key: G) -> Self {
        Self {
            key,
            gen: AtomicU64::new(0),
            pins: AtomicUsize::new(1),
            members: Mutex::new(Vec::new()),
        }
    }

    fn members(&self) -> MutexGuard<'_, Vec<Arc<Node<G, K, V>>>> {
        // The lock is never held across user code, so a poisoned lock can only come from an
        // allocation failure mid-push; the Vec is still consistent then.
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add_member(&self, node: &Arc<Node<G, K, V>>) {
        let mut members = self.members();
        node.slot.store(members.len(), Relaxed);
        members.push(Arc::clone(node));
    }

    /// Takes `node` out of the member list if it is there; the returned Arc is dropped by the
    /// caller, outside the lock (dropping it may run the value's destructor).
    pub(crate) fn remove_member(&self, node: &Arc<Node<G, K, V>>) -> Option<Arc<Node<G, K, V>>> {
        let mut members = self.members();
        let slot = node.slot.load(Relaxed);
        if slot == NO_SLOT || !members.get(slot).is_some_and(|m| Arc::ptr_eq(m, node)) {
            return None;
        }
        node.slot.store(NO_SLOT, Relaxed);
        let taken = members.swap_remove(slot);
        if let Some(moved) = members.get(slot) {
            moved.slot.store(slot, Relaxed);
        }
        Some(taken)
    }

    /// Empties the member list, for invalidating the whole group.
    pub(crate) fn take_members(&self) -> Vec<Arc<Node<G, K, V>>> {
        let taken = std::mem::take(&mut *self.members());
        for node in &taken {
            node.slot.store(NO_SLOT, Relaxed);
        }
        taken
    }
}

/// The group index key: the group itself, hashed and compared by its key.
pub(crate) struct GroupKey<G, K, V>(pub(crate) Arc<Group<G, K, V>>);

impl<G: Hash, K, V> Hash for GroupKey<G, K, V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key.hash(state);
    }
}

impl<G: Eq, K, V> PartialEq for GroupKey<G, K, V> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.key == other.0.key
    }
}

impl<G: Eq, K, V> Eq for GroupKey<G, K, V> {}

impl<G, K, V> StoredGroup<G> for GroupKey<G, K, V> {
    #[inline]
    fn group(&self) -> &G {
        &self.0.key
    }
}

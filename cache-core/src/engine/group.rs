//! A group: the generation that invalidation bumps, and the member list that makes
//! invalidating a group cost O(group size).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::engine::list::Shared;

/// Marks a member that is in no group's member list.
pub(crate) const NO_SLOT: usize = usize::MAX;

/// What a group lists: anything that records its own position in the list, so that removing
/// it is O(1).
pub(crate) trait Member {
    fn slot(&self) -> &AtomicUsize;
}

/// A group of members held by `R` references.
pub(crate) struct Group<G, R> {
    pub(crate) key: G,
    /// The group key's hash (see `probe.rs`): what the group index hashes.
    pub(crate) hash: u64,
    /// Bumped by every invalidation of this group.
    pub(crate) gen: AtomicU64,
    /// Stored members plus flights in the flight map that point at this group. The group leaves
    /// the group index only at zero, so a live member's group is always the indexed one, and
    /// invalidating by key always reaches it. Incremented only under the group index's bucket
    /// lock (or from a count already above zero), which makes the zero check under that lock
    /// final.
    pub(crate) pins: AtomicUsize,
    /// The group's stored members. Removal is O(1): each member records its slot, and removal
    /// swaps the last member into it.
    members: Mutex<Vec<R>>,
}

impl<G, R: Shared> Group<G, R>
where
    R::Target: Member,
{
    pub(crate) fn new(key: G, hash: u64) -> Self {
        Self {
            key,
            hash,
            gen: AtomicU64::new(0),
            pins: AtomicUsize::new(1),
            members: Mutex::new(Vec::new()),
        }
    }

    fn members(&self) -> MutexGuard<'_, Vec<R>> {
        // The lock is never held across user code, so a poisoned lock can only come from an
        // allocation failure mid-push; the Vec is still consistent then.
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add_member(&self, member: &R) {
        let mut members = self.members();
        member.slot().store(members.len(), Relaxed);
        members.push(member.clone());
    }

    /// Takes `member` out of the list if it is there; the caller drops the returned reference
    /// outside the lock.
    pub(crate) fn remove_member(&self, member: &R) -> Option<R> {
        let mut members = self.members();
        let slot = member.slot().load(Relaxed);
        if slot == NO_SLOT || !members.get(slot).is_some_and(|m| R::same(m, member)) {
            return None;
        }
        member.slot().store(NO_SLOT, Relaxed);
        let taken = members.swap_remove(slot);
        if let Some(moved) = members.get(slot) {
            moved.slot().store(slot, Relaxed);
        }
        Some(taken)
    }

    /// Empties the member list, for invalidating the whole group.
    pub(crate) fn take_members(&self) -> Vec<R> {
        let taken = std::mem::take(&mut *self.members());
        for member in &taken {
            member.slot().store(NO_SLOT, Relaxed);
        }
        taken
    }
}

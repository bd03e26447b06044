//! Fences: what an invalidation in progress keeps from being shared or stored, and nothing else.
//!
//! An invalidation raises a fence over exactly what it invalidates (one group, one key, or, for
//! `clear`, everything), before it makes anything unreadable, and lowers it when its
//! [`Invalidated`](crate::Invalidated) completes or is dropped. A fetch whose key the fence
//! covers runs *unshared*: its caller gets the result, nobody joins it, it is not stored. Fetches
//! of every other group and key are shared and stored as usual, whatever fences are up.
//!
//! Fences are found by the 64-bit hashes the cache already computes (a group's hash, a key's
//! hash), never by scanning. Two different groups (or keys) with one hash (about one chance in
//! 2^64 for a pair) share their fences: a fence then covers one more group, never one fewer,
//! which costs sharing and never correctness.
//!
//! The miss path pays one load when no fence is up (the usual case): [`Fences::covers`] reads
//! the count of raised fences first, and looks the key up only when it is not zero.
//!
//! Key invalidations are also numbered, with the last few kept ([`Fences::record_key`]): a
//! fetch reads the number where it begins, and when it registers its flight, a little later,
//! [`Fences::key_invalidated_since`] tells whether its own key was invalidated in between
//! (a key invalidation makes nothing stale that a stamp could show; see `cache/invalidation.rs`).
//!
//! Fences shared by several caches (a scope's: see `features/scope.rs`) find a group by
//! [`shared_hash`], the same in every cache, since each cache's own hasher is seeded apart.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};
use std::mem::ManuallyDrop;
use std::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Mutex, PoisonError};

use scc::hash_map::Entry;
use scc::HashMap;

/// The hash by which fences shared by several caches (a scope's) find a group: one fixed seed
/// for every cache, whose own hashers are seeded apart. Computed on a miss only while one of
/// the shared fences is raised.
pub(crate) fn shared_hash<G: Hash + ?Sized>(group: &G) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5c09_e5ca_1e5f_e9ce).hash_one(group)
}

/// What one fence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// Every key of the cache (`clear`).
    All,
    /// Every key of the group with this hash.
    Group(u64),
    /// The key with this hash.
    Key(u64),
}

/// The fences raised on one cache (or one scope), with how many invalidations hold each.
pub(crate) struct Fences {
    /// How many fences are raised, of every kind: the one load a miss pays when it is zero.
    raised: AtomicUsize,
    /// How many `clear`s are in progress.
    all: AtomicUsize,
    /// The group and key fences, each with how many invalidations hold it. Dropped by
    /// `Fences`'s own `Drop`, out of line (see there).
    targets: ManuallyDrop<HashMap<Target, usize, foldhash::fast::FixedState>>,
    /// How many key invalidations have begun.
    key_seq: AtomicU64,
    /// The last [`RECENT_KEYS`] key invalidations: their number and the key's hash.
    recent_keys: Mutex<VecDeque<(u64, u64)>>,
}

/// How many key invalidations [`Fences::key_invalidated_since`] can tell apart: with more than
/// that between a fetch's beginning and its registration (a few hundred nanoseconds, without an
/// `.await` in between, unless its thread is preempted there), the fetch begins again.
const RECENT_KEYS: usize = 128;

/// Whether a key was invalidated since a fetch of it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Since {
    /// No invalidation of the key began since.
    Untouched,
    /// An invalidation of the key began since: the fetch runs unshared.
    Invalidated,
    /// Too many key invalidations began since to tell: the fetch begins again (it has run no
    /// user code yet), rather than be refused for a sibling's invalidation.
    Unknown,
}

impl Fences {
    pub(crate) fn new() -> Self {
        Self {
            raised: AtomicUsize::new(0),
            all: AtomicUsize::new(0),
            targets: ManuallyDrop::new(HashMap::with_hasher(foldhash::fast::FixedState::default())),
            key_seq: AtomicU64::new(0),
            recent_keys: Mutex::new(VecDeque::new()),
        }
    }

    /// The number of key invalidations begun so far: read by a fetch where it begins.
    #[inline]
    pub(crate) fn key_seq(&self) -> u64 {
        self.key_seq.load(SeqCst)
    }

    /// Numbers a key invalidation of the key with hash `key`; called after its fence is raised
    /// and before it takes the key's flight entry.
    pub(crate) fn record_key(&self, key: u64) {
        // Never held across user code: poisoning can only come from an allocation failure.
        let mut recent = self
            .recent_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seq = self.key_seq.load(Relaxed) + 1;
        if recent.len() == RECENT_KEYS {
            recent.pop_front();
        }
        recent.push_back((seq, key));
        // Stored under the lock, after the entry: a reader that sees `seq` and then takes the
        // lock finds the entry.
        self.key_seq.store(seq, SeqCst);
    }

    /// Whether an invalidation of the key with hash `key` began after the fetch that read
    /// `since` from [`key_seq`](Self::key_seq) began.
    #[inline]
    pub(crate) fn key_invalidated_since(&self, since: u64, key: u64) -> Since {
        if self.key_seq.load(SeqCst) == since {
            Since::Untouched
        } else {
            self.key_in_recent(since, key)
        }
    }

    #[cold]
    #[inline(never)]
    fn key_in_recent(&self, since: u64, key: u64) -> Since {
        let recent = self
            .recent_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match recent.front() {
            // Invalidations numbered after `since` were dropped from the list.
            Some(&(oldest, _)) if oldest > since + 1 => Since::Unknown,
            _ if recent.iter().any(|&(seq, hash)| seq > since && hash == key) => Since::Invalidated,
            _ => Since::Untouched,
        }
    }

    /// Raises a fence over `target`, held until the returned [`Raised`] is dropped.
    ///
    /// Everything here is `SeqCst` and done before the invalidation bumps a generation: a fetch
    /// that reads the bumped generation in its stamp, and then checks [`covers`](Self::covers),
    /// finds the fence (the load of `raised` that sees this raise also sees the table entry,
    /// written before it).
    pub(crate) fn raise(self: &Arc<Self>, target: Target) -> Raised {
        match target {
            Target::All => {
                self.all.fetch_add(1, SeqCst);
            }
            _ => {
                self.targets
                    .entry_sync(target)
                    .and_modify(|holders| *holders += 1)
                    .or_insert(1);
            }
        }
        self.raised.fetch_add(1, SeqCst);
        Raised {
            fences: Arc::clone(self),
            target,
        }
    }

    fn lower(&self, target: Target) {
        self.raised.fetch_sub(1, SeqCst);
        match target {
            Target::All => {
                self.all.fetch_sub(1, SeqCst);
            }
            _ => {
                if let Entry::Occupied(mut holders) = self.targets.entry_sync(target) {
                    *holders.get_mut() -= 1;
                    if *holders.get() == 0 {
                        let _ = holders.remove_entry();
                    }
                }
            }
        }
    }

    /// Whether a fence covers the key with hash `key` in the group with hash `group`.
    #[inline]
    pub(crate) fn covers(&self, group: u64, key: u64) -> bool {
        self.raised.load(SeqCst) != 0 && self.covers_raised(group, key)
    }

    /// Whether a fence covers the group whose hash `group` computes (for a scope's fences: the
    /// hash is computed only when a fence is raised).
    #[inline]
    pub(crate) fn covers_group(&self, group: impl FnOnce() -> u64) -> bool {
        self.raised.load(SeqCst) != 0 && (self.all.load(SeqCst) != 0 || self.group_raised(group()))
    }

    /// Whether a fence is raised over the group with hash `group`. Out of line and not generic,
    /// like [`covers_raised`](Self::covers_raised): the map's lookup is compiled once, in this
    /// crate, rather than in every crate whose generic code reaches [`covers_group`].
    #[cold]
    #[inline(never)]
    fn group_raised(&self, group: u64) -> bool {
        self.targets.contains_sync(&Target::Group(group))
    }

    #[cold]
    #[inline(never)]
    fn covers_raised(&self, group: u64, key: u64) -> bool {
        self.all.load(SeqCst) != 0
            || self.targets.contains_sync(&Target::Group(group))
            || self.targets.contains_sync(&Target::Key(key))
    }

    /// How many fences are raised (tests and debugging).
    pub(crate) fn raised(&self) -> usize {
        self.raised.load(SeqCst)
    }
}

impl Drop for Fences {
    /// Out of line and not generic: a cache's fences are dropped by the cache's drop glue,
    /// which is generic over its key and value types and so compiled in every crate that drops
    /// a cache; the map's drop code (scc's bucket arrays) is compiled once, here, instead.
    #[inline(never)]
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: `targets` is dropped once, here, and nothing reads it afterwards: `self` is
        // being dropped, and `Drop::drop` runs once.
        unsafe {
            ManuallyDrop::drop(&mut self.targets);
        }
    }
}

impl std::fmt::Debug for Fences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fences")
            .field("raised", &self.raised())
            .finish_non_exhaustive()
    }
}

/// One raised fence; dropping it lowers the fence.
pub(crate) struct Raised {
    fences: Arc<Fences>,
    target: Target,
}

impl Drop for Raised {
    fn drop(&mut self) {
        self.fences.lower(self.target);
    }
}

#[cfg(test)]
mod tests {
    use super::{Fences, Since, Target};
    use std::sync::Arc;

    #[test]
    fn a_fence_covers_its_target_only_and_until_dropped() {
        let fences = Arc::new(Fences::new());
        assert!(!fences.covers(1, 10));
        let group = fences.raise(Target::Group(1));
        assert!(fences.covers(1, 10), "a key of the group");
        assert!(fences.covers(1, 11), "another key of the group");
        assert!(!fences.covers(2, 20), "another group");
        let key = fences.raise(Target::Key(20));
        assert!(fences.covers(2, 20), "the key");
        assert!(!fences.covers(2, 21), "a sibling of the key");
        drop(group);
        assert!(!fences.covers(1, 10));
        assert!(fences.covers(2, 20));
        drop(key);
        assert_eq!(fences.raised(), 0);
        let all = fences.raise(Target::All);
        assert!(fences.covers(3, 30));
        assert!(fences.covers_group(|| 3));
        drop(all);
        assert!(!fences.covers(3, 30));
    }

    #[test]
    fn a_key_invalidation_is_seen_by_the_fetches_of_its_key_that_began_before_it() {
        let fences = Fences::new();
        let before = fences.key_seq();
        assert_eq!(fences.key_invalidated_since(before, 7), Since::Untouched);
        fences.record_key(7);
        assert_eq!(fences.key_invalidated_since(before, 7), Since::Invalidated);
        assert_eq!(
            fences.key_invalidated_since(before, 8),
            Since::Untouched,
            "a sibling"
        );
        let after = fences.key_seq();
        assert_eq!(
            fences.key_invalidated_since(after, 7),
            Since::Untouched,
            "a fetch that began after"
        );
        for key in 100..100 + super::RECENT_KEYS as u64 {
            fences.record_key(key);
        }
        assert_eq!(
            fences.key_invalidated_since(before, 8),
            Since::Unknown,
            "too many to tell"
        );
        assert_eq!(
            fences.key_invalidated_since(after, 8),
            Since::Untouched,
            "still told apart"
        );
    }

    #[test]
    fn a_fence_held_twice_stays_until_both_are_dropped() {
        let fences = Arc::new(Fences::new());
        let first = fences.raise(Target::Key(5));
        let second = fences.raise(Target::Key(5));
        drop(first);
        assert!(fences.covers(0, 5), "still held by the second");
        drop(second);
        assert!(!fences.covers(0, 5));
        assert_eq!(fences.raised(), 0);
    }
}

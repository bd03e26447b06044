//! A stored value: what the index holds and what a hit reads.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU8, AtomicUsize,
    Ordering::{Acquire, Relaxed},
};
use std::sync::Arc;

use crate::engine::clock::Instant;

use crate::engine::group::{Group, Member};
use crate::engine::lease::Follows;
use crate::engine::probe::{Stored, StoredKey};
use crate::engine::slot::Slot;
use crate::engine::throttle::Throttle;

/// The generation a value was fetched under: the group's generation and the cache's epoch when
/// its fetch began. Invalidating the group (or clearing the cache) moves the current stamp on,
/// which makes every value fetched before it unreadable at once, stored or still in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) gen: u64,
    pub(crate) epoch: u64,
}

/// The most a node's hit counter holds (two bits' worth: see `eviction.rs`).
pub(crate) const MAX_FREQ: u8 = 3;

/// The group type of a node.
pub(crate) type NodeGroup<G, K, V> = Group<G, Node<G, K, V>>;

pub(crate) struct Node<G, K, V> {
    /// The group this key belongs to; it also holds the group key, so a node stores it once per
    /// group rather than once per entry.
    pub(crate) group: Arc<NodeGroup<G, K, V>>,
    pub(crate) rest: K,
    /// The value, taken out when the node leaves the cache. scc's `HashIndex` frees a removed
    /// entry (this node) only once every thread has moved past it, which can take as long as
    /// an idle worker stays idle; the value, often the largest part of an entry and the part
    /// that must not outlive an invalidation, goes at once: the slot (`slot.rs`) lets hits
    /// clone it without a lock and drops it as soon as no hit is cloning it.
    value: Slot<V>,
    pub(crate) expires_at: Instant,
    pub(crate) stamp: Stamp,
    /// Hits since the node entered its eviction queue (or since the main queue last passed it
    /// over), saturating at [`MAX_FREQ`]; see `eviction.rs`.
    pub(crate) freq: AtomicU8,
    /// Whether the node is in the main eviction queue (else the small one).
    pub(crate) in_main: AtomicBool,
    /// The key's hash (see `probe.rs`): what the index hashes, and what the eviction's ghost
    /// list remembers.
    pub(crate) hash: u64,
    /// Set once, by whoever removed the node from the index.
    pub(crate) removed: AtomicBool,
    /// Position in `group.members`; only written under the members lock.
    slot: AtomicUsize,
    /// Position in the expiry order; only written under the eviction lock.
    pub(crate) expiry_slot: AtomicU32,
    /// Position in its eviction queue; only written under the eviction lock.
    pub(crate) queue_slot: AtomicU32,
    /// Whether the key's upstream is left alone after a failure (`throttle.rs`); only read and
    /// written once the value expired, off the hit path.
    pub(crate) throttle: Throttle,
}

impl<G, K, V> Member for Node<G, K, V> {
    fn slot(&self) -> &AtomicUsize {
        &self.slot
    }
}

impl<G, K, V> Node<G, K, V> {
    pub(crate) fn new(
        group: Arc<NodeGroup<G, K, V>>,
        rest: K,
        value: V,
        expires_at: Instant,
        stamp: Stamp,
        hash: u64,
    ) -> Self {
        Self {
            group,
            rest,
            value: Slot::new(value),
            expires_at,
            stamp,
            freq: AtomicU8::new(0),
            in_main: AtomicBool::new(false),
            hash,
            removed: AtomicBool::new(false),
            slot: AtomicUsize::new(crate::engine::group::NO_SLOT),
            expiry_slot: AtomicU32::new(crate::engine::list::NO_SLOT),
            queue_slot: AtomicU32::new(crate::engine::list::NO_SLOT),
            throttle: Throttle::new(),
        }
    }

    /// Takes the value out. The caller drops it outside any lock: dropping it runs the value's
    /// destructor (user code) unless a hit is still cloning it, in which case that hit drops it.
    pub(crate) fn take_value(&self) -> Option<V> {
        self.value.take()
    }

    /// Whether a call starting now may be served this node's value: current, and neither its
    /// deadline nor the lease the cache follows (`lease.rs`) reached (exact; one coarse clock
    /// read for both unless the earlier is near, see `clock.rs`).
    #[inline]
    pub(crate) fn is_live(&self, epoch: u64, lease: &Follows) -> bool {
        self.is_current(epoch) && lease.cap(self.expires_at).not_reached()
    }

    /// Whether the node is live at `now`, a reading the caller already took (the miss path's).
    #[inline]
    pub(crate) fn is_live_at(&self, now: Instant, epoch: u64) -> bool {
        self.is_current(epoch) && now < self.expires_at
    }

    /// Whether no invalidation or clear happened since the value's fetch began.
    #[inline]
    pub(crate) fn is_current(&self, epoch: u64) -> bool {
        self.stamp.epoch == epoch && self.stamp.gen == self.group.gen.load(Acquire)
    }

    /// Whether the node was made unreadable by an invalidation (as opposed to ageing out).
    pub(crate) fn is_stale(&self, epoch: u64) -> bool {
        !self.is_current(epoch)
    }

    /// Records a hit for eviction: a saturating counter. The load first keeps a hot entry's
    /// cache line shared between readers once the counter is full, instead of written on every
    /// hit. Racing hits may count one; that is all a counter of hits needs.
    #[inline]
    pub(crate) fn touch(&self) {
        let freq = self.freq.load(Relaxed);
        if freq < MAX_FREQ {
            self.freq.store(freq + 1, Relaxed);
        }
    }

    pub(crate) fn stored(&self) -> Stored<'_, G, K> {
        Stored {
            group: &self.group.key,
            rest: &self.rest,
            key_hash: self.hash,
            group_hash: self.group.hash,
            identity: std::ptr::from_ref(self).cast(),
        }
    }
}

impl<G, K, V: Clone> Node<G, K, V> {
    /// A clone of the value, unless the node already left the cache.
    #[inline]
    pub(crate) fn value(&self) -> Option<V> {
        self.value.get()
    }
}

/// The index key: the node itself, hashed and compared by its `(group, rest)` content.
pub(crate) struct NodeKey<G, K, V>(pub(crate) Arc<Node<G, K, V>>);

impl<G, K, V> Hash for NodeKey<G, K, V> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl<G: Eq, K: Eq, V> PartialEq for NodeKey<G, K, V> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.rest == other.0.rest && self.0.group.key == other.0.group.key)
    }
}

impl<G: Eq, K: Eq, V> Eq for NodeKey<G, K, V> {}

impl<G, K, V> StoredKey<G, K> for NodeKey<G, K, V> {
    #[inline]
    fn group(&self) -> &G {
        &self.0.group.key
    }
    #[inline]
    fn rest(&self) -> &K {
        &self.0.rest
    }
    #[inline]
    fn identity(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }
}

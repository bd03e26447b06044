//! A stored value: what the index holds and what a hit reads.
//!
//! **Why the value's type is not a parameter of [`Node`].** A real service caches many functions
//! returning as many value types. Were the node generic over the value, every table, queue and
//! list that holds nodes (scc's index, the groups, the eviction queues: most of the runtime)
//! would be compiled again for each value type, in the user's crate: about a second of release
//! build per cached function with a value type of its own (`benches/build_cost.sh` with
//! `VALUES=distinct`). So a node is a header, [`Node<G, K>`], and the value follows it in the
//! same allocation ([`Valued`]); a [`NodeRef`] is a reference-counted pointer to the header, as
//! thin and as cheap as the `Arc` it replaces. Only the typed code of the cache that made the
//! node reads its value ([`NodeRef::value`]: a cast to the type the cache was made with);
//! everything else reaches the value through the node's [`ValueOps`].

#![allow(unsafe_code)]

use std::any::TypeId;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;

use crate::engine::clock::Instant;

use crate::engine::group::{Group, Member};
use crate::engine::lease::Follows;
use crate::engine::list::Shared;
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
pub(crate) type NodeGroup<G, K> = Group<G, NodeRef<G, K>>;

/// A stored entry's header; its value follows it in the same allocation ([`Valued`]).
pub(crate) struct Node<G, K> {
    /// The [`NodeRef`]s to this node: the allocation goes with the last.
    refs: AtomicUsize,
    /// What the value's type does, for code that does not know it.
    ops: &'static ValueOps,
    /// The group this key belongs to; it also holds the group key, so a node stores it once per
    /// group rather than once per entry.
    pub(crate) group: Arc<NodeGroup<G, K>>,
    pub(crate) rest: K,
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

/// A node and its value, in one allocation. `repr(C)` puts the node at offset 0, so a pointer
/// to the whole is a pointer to the node, and back.
#[repr(C)]
struct Valued<G, K, V> {
    node: Node<G, K>,
    /// The value, taken out when the node leaves the cache. scc's `HashIndex` frees a removed
    /// entry (this node) only once every thread has moved past it, which can take as long as
    /// an idle worker stays idle; the value, often the largest part of an entry and the part
    /// that must not outlive an invalidation, goes at once: the slot (`slot.rs`) lets hits
    /// clone it without a lock and drops it as soon as no hit is cloning it.
    value: Slot<V>,
}

/// What a node's value type does, as functions of a pointer to the whole [`Valued`]: one
/// `static` table per node type, which every node of that type points at.
pub(crate) struct ValueOps {
    /// Frees the node and whatever value is still in its slot.
    destroy: unsafe fn(NonNull<()>),
    /// [`Slot::claim`].
    claim: unsafe fn(NonNull<()>) -> bool,
    /// [`Slot::drop_claimed`].
    drop_claimed: unsafe fn(NonNull<()>),
    /// The value's type, which the typed reads check in debug builds.
    value_type: fn() -> TypeId,
}

impl<G, K, V: 'static> Valued<G, K, V> {
    const OPS: ValueOps = ValueOps {
        destroy: Self::destroy,
        claim: Self::claim,
        drop_claimed: Self::drop_claimed,
        value_type: TypeId::of::<V>,
    };

    /// # Safety
    ///
    /// `this` is a node made by [`NodeRef::new`] with this `V`, whose last reference is gone.
    unsafe fn destroy(this: NonNull<()>) {
        // SAFETY: made by `Box::leak` of a `Valued<G, K, V>` (`NodeRef::new`), and no
        // reference is left: this is its only free.
        drop(unsafe { Box::from_raw(this.cast::<Self>().as_ptr()) });
    }

    /// # Safety
    ///
    /// `this` is a live node made by [`NodeRef::new`] with this `V`.
    unsafe fn claim(this: NonNull<()>) -> bool {
        // SAFETY: a live `Valued<G, K, V>` (the caller holds a reference to it).
        unsafe { this.cast::<Self>().as_ref() }.value.claim()
    }

    /// # Safety
    ///
    /// As [`Slot::drop_claimed`], on a live node made by [`NodeRef::new`] with this `V`.
    unsafe fn drop_claimed(this: NonNull<()>) {
        // SAFETY: a live `Valued<G, K, V>`; the caller's claim succeeded, once.
        unsafe { this.cast::<Self>().as_ref().value.drop_claimed() }
    }
}

impl<G, K> Member for Node<G, K> {
    fn slot(&self) -> &AtomicUsize {
        &self.slot
    }
}

impl<G, K> Node<G, K> {
    fn new(
        ops: &'static ValueOps,
        group: Arc<NodeGroup<G, K>>,
        rest: K,
        expires_at: Instant,
        stamp: Stamp,
        hash: u64,
    ) -> Self {
        Self {
            refs: AtomicUsize::new(1),
            ops,
            group,
            rest,
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

/// A counted reference to a node, as `Arc<Node<G, K>>` would be, except that the allocation also
/// holds the value (see the module's documentation).
pub(crate) struct NodeRef<G, K> {
    /// Points at a live `Valued<G, K, V>` made by [`NodeRef::new`], of the `V` its `ops` name;
    /// the pointer has the provenance of the whole allocation.
    ptr: NonNull<Node<G, K>>,
    _owns: PhantomData<Node<G, K>>,
}

// SAFETY: a `NodeRef` shares its node like an `Arc` does: the header's fields are `G`, `K`,
// atomics and `Sync` parts, and the value, `Send + Sync` by `new`'s bound, is cloned through a
// shared reference and dropped on whichever thread removes it or leaves last.
unsafe impl<G: Send + Sync, K: Send + Sync> Send for NodeRef<G, K> {}
// SAFETY: as for `Send`.
unsafe impl<G: Send + Sync, K: Send + Sync> Sync for NodeRef<G, K> {}

impl<G, K> NodeRef<G, K> {
    pub(crate) fn new<V: Send + Sync + 'static>(
        group: Arc<NodeGroup<G, K>>,
        rest: K,
        value: V,
        expires_at: Instant,
        stamp: Stamp,
        hash: u64,
    ) -> Self {
        let node = Node::new(
            &Valued::<G, K, V>::OPS,
            group,
            rest,
            expires_at,
            stamp,
            hash,
        );
        let valued = Box::new(Valued {
            node,
            value: Slot::new(value),
        });
        Self {
            ptr: NonNull::from(Box::leak(valued)).cast(),
            _owns: PhantomData,
        }
    }

    /// Whether `a` and `b` are the same node.
    #[inline]
    pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// The node's address, which identifies it.
    #[inline]
    pub(crate) fn as_ptr(this: &Self) -> *const Node<G, K> {
        this.ptr.as_ptr()
    }

    /// A clone of the value, unless the node already left the cache. `V` is the value type of
    /// the cache that made the node: a cache reads only its own nodes, and a cache of `V` makes
    /// only nodes of `V` (checked in debug builds).
    #[inline]
    pub(crate) fn value<V: Clone + 'static>(&self) -> Option<V> {
        debug_assert!(
            (self.ops.value_type)() == TypeId::of::<V>(),
            "a node read as another value type than its cache's"
        );
        // SAFETY: `ptr` points at a live `Valued<G, K, V>` with the provenance of the whole
        // allocation (`new`), of this `V` (the caller's cache made it, see above); `self` keeps
        // it alive for the borrow.
        let valued = unsafe { self.ptr.cast::<Valued<G, K, V>>().as_ref() };
        valued.value.get()
    }

    /// Takes the value out of the cache's reach. The caller drops what this returns outside any
    /// lock: that runs the value's destructor (user code). `None` if a hit is still cloning the
    /// value (that hit drops it) or another removal took it.
    pub(crate) fn take_value(&self) -> Option<Claimed<G, K>> {
        // SAFETY: `ptr` points at a live node made by `new` with the `V` of its `ops`.
        unsafe { (self.ops.claim)(self.ptr.cast()) }.then(|| Claimed(self.clone()))
    }
}

impl<G, K> Shared for NodeRef<G, K> {
    #[inline]
    fn same(a: &Self, b: &Self) -> bool {
        Self::ptr_eq(a, b)
    }
}

impl<G, K> Clone for NodeRef<G, K> {
    #[inline]
    fn clone(&self) -> Self {
        // As `Arc::clone`: a new reference is made from an existing one, so no ordering is
        // needed; an overflowing count (references leaked in a loop) aborts.
        if self.refs.fetch_add(1, Relaxed) > isize::MAX as usize {
            std::process::abort();
        }
        Self {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<G, K> Drop for NodeRef<G, K> {
    #[inline]
    fn drop(&mut self) {
        // As `Arc`'s drop: the release orders this reference's uses before the free, and the
        // acquire fence orders the free after every other reference's release.
        if self.refs.fetch_sub(1, Release) != 1 {
            return;
        }
        fence(Acquire);
        // Read before the free, so that no reference to the node is alive during it.
        let destroy = self.ops.destroy;
        // SAFETY: the last reference to a node made by `new` with the `V` of its `ops`.
        unsafe { destroy(self.ptr.cast()) }
    }
}

impl<G, K> Deref for NodeRef<G, K> {
    type Target = Node<G, K>;

    #[inline]
    fn deref(&self) -> &Node<G, K> {
        // SAFETY: live while `self` is (`Drop`), and only read through shared references.
        unsafe { self.ptr.as_ref() }
    }
}

/// A value a removal took out of the cache: dropped, in place in its node, when this is.
pub(crate) struct Claimed<G, K>(NodeRef<G, K>);

impl<G, K> Drop for Claimed<G, K> {
    fn drop(&mut self) {
        // SAFETY: the claim of `take_value` succeeded, and this runs once for it; the node is
        // alive (`self.0`) and was made by `new` with the `V` of its `ops`.
        unsafe { (self.0.ops.drop_claimed)(self.0.ptr.cast()) }
    }
}

/// The index key: the node itself, hashed and compared by its `(group, rest)` content.
pub(crate) struct NodeKey<G, K>(pub(crate) NodeRef<G, K>);

impl<G, K> Hash for NodeKey<G, K> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl<G: Eq, K: Eq> PartialEq for NodeKey<G, K> {
    fn eq(&self, other: &Self) -> bool {
        NodeRef::ptr_eq(&self.0, &other.0)
            || (self.0.rest == other.0.rest && self.0.group.key == other.0.group.key)
    }
}

impl<G: Eq, K: Eq> Eq for NodeKey<G, K> {}

impl<G, K> StoredKey<G, K> for NodeKey<G, K> {
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
        NodeRef::as_ptr(&self.0).cast()
    }
}

#[cfg(test)]
mod tests {
    use super::{NodeGroup, NodeRef, Stamp};
    use crate::engine::clock::Instant;
    use crate::engine::counted::{Counted, LIVE, ONE_AT_A_TIME};
    use crate::engine::group::Group;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};

    fn node<V: Send + Sync + 'static>(value: V) -> NodeRef<String, u64> {
        let group: Arc<NodeGroup<String, u64>> = Arc::new(Group::new("user".to_owned(), 1));
        NodeRef::new(
            group,
            7,
            value,
            Instant::far(),
            Stamp { gen: 0, epoch: 0 },
            42,
        )
    }

    #[test]
    fn the_last_reference_frees_the_node_and_its_value_once() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let first = node(Counted::new(1));
        let (second, third) = (first.clone(), first.clone());
        assert!(NodeRef::ptr_eq(&first, &third) && first.rest == 7 && first.hash == 42);
        assert_eq!(second.value::<Counted>().map(|v| v.0), Some(1));
        assert_eq!(LIVE.load(SeqCst), 1, "the clone read was dropped");
        drop((first, second));
        assert_eq!(LIVE.load(SeqCst), 1, "freed while a reference is left");
        drop(third);
        assert_eq!(LIVE.load(SeqCst), 0, "the value outlived its node");
    }

    #[test]
    fn a_claimed_value_goes_with_the_claim_and_is_not_dropped_again() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let node = node(Counted::new(2));
        let claimed = node.take_value().expect("the first removal owns the value");
        assert!(node.take_value().is_none() && node.value::<Counted>().is_none());
        assert_eq!(LIVE.load(SeqCst), 1, "dropped before the claim");
        drop(claimed);
        assert_eq!(LIVE.load(SeqCst), 0, "the claim did not drop the value");
        drop(node);
        assert_eq!(LIVE.load(SeqCst), 0, "dropped twice");
    }

    /// A claim taken while a clone of the node is the only thing keeping it: the claim keeps
    /// the node alive until it drops the value.
    #[test]
    fn a_claim_outlives_the_other_references() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let node = node(Counted::new(3));
        let claimed = node.take_value().expect("owned");
        drop(node);
        assert_eq!(LIVE.load(SeqCst), 1);
        drop(claimed);
        assert_eq!(LIVE.load(SeqCst), 0);
    }

    /// Values of other sizes and alignments than the node's fields: the value sits after the
    /// node in one allocation, and a zero-sized one too.
    #[test]
    fn values_of_any_layout_round_trip() {
        #[derive(Clone, Debug, PartialEq)]
        #[repr(align(64))]
        struct Wide([u8; 100]);
        let wide = node(Wide([9; 100]));
        assert_eq!(wide.value::<Wide>(), Some(Wide([9; 100])));
        let unit = node(());
        assert_eq!(unit.value::<()>(), Some(()));
        let text = node(String::from("folders"));
        assert_eq!(text.value::<String>().as_deref(), Some("folders"));
        drop(text.take_value());
        assert_eq!(text.value::<String>(), None);
    }

    /// Hits on 3 threads clone references and values while the main thread removes fresh nodes
    /// and drops its references: every value is dropped once, and none outlives its removal by
    /// more than the hits racing it.
    #[test]
    fn removals_racing_hits_through_node_refs_leave_nothing_alive() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        const ROUNDS: usize = 3_000;
        let current = Arc::new(Mutex::new(node(Counted::new(0))));
        let round = Arc::new(AtomicUsize::new(0));
        // Every hitter is reading before the first removal.
        let start = Arc::new(std::sync::Barrier::new(4));
        let hitters: Vec<_> = (0..3)
            .map(|_| {
                let (current, round) = (Arc::clone(&current), Arc::clone(&round));
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    let mut hits = 0_u64;
                    start.wait();
                    while round.load(SeqCst) < ROUNDS {
                        let node = current.lock().expect("not poisoned").clone();
                        for _ in 0..4 {
                            hits += u64::from(node.value::<Counted>().is_some());
                        }
                    }
                    hits
                })
            })
            .collect();
        start.wait();
        for n in 1..=ROUNDS {
            let old = std::mem::replace(
                &mut *current.lock().expect("not poisoned"),
                node(Counted::new(n as u64)),
            );
            drop(old.take_value());
            drop(old);
            round.store(n, SeqCst);
            std::thread::yield_now();
            assert!(LIVE.load(SeqCst) <= 1 + 3 + 3, "live {}", LIVE.load(SeqCst));
        }
        let hits: u64 = hitters
            .into_iter()
            .map(|h| h.join().expect("a hitter"))
            .sum();
        drop(current);
        assert_eq!(LIVE.load(SeqCst), 0, "every value dropped once");
        assert!(hits > 0);
    }

    /// A cache reads its nodes as its own value type; reading one as another is a bug of ours,
    /// caught in debug builds before the cast.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "another value type")]
    fn reading_a_node_as_another_type_is_caught_in_debug_builds() {
        let node = node(5_u32);
        let _ = node.value::<u64>();
    }
}

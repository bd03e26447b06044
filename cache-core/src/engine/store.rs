//! The store: stored entries, the capacity bound, eviction and expiry sweeping.
//!
//! - `index` (`scc::HashIndex`, lock-free reads) maps `(group, rest)` to a stored [`Node`]. A hit
//!   is one `peek` by borrowed key, a clock read, two loads of generation counters and a clone of
//!   the value: no lock, no allocation.
//! - `eviction` keeps stored nodes in expiry order and in the S3-FIFO queues (see
//!   `eviction.rs`): sweeping pops expired entries off the front of the expiry order, a bounded
//!   number per operation, and capacity eviction takes them first, then S3-FIFO's choice.
//! - `live` counts stored nodes; a store takes a slot of it before inserting, evicting while the
//!   cache is full, so `len() <= capacity` holds at every moment.
//!
//! Every method here is synchronous and holds an scc entry only for a few instructions, never
//! across an `.await` or user code: a removed node's value is claimed into a [`Graveyard`] that
//! the caller drops once it holds no lock.
//!
//! The store does not know the value's type (see `node.rs`): its code, scc's index included,
//! is compiled once per key type, whatever the value types of the caches that use it.

use std::hash::Hash;
use std::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, SeqCst},
};

use crate::engine::clock::Instant;
use scc::HashIndex;
use smallvec::SmallVec;

use crate::engine::eviction::Eviction;
use crate::engine::groups::Groups;
use crate::engine::hook::{HookPoint, Hooks};
use crate::engine::lease::Follows;
use crate::engine::node::{Claimed, Node, NodeGroup, NodeKey, NodeRef};
use crate::engine::probe::{ByKey, KeyHasher, KnownHash, PreHashed};
use crate::engine::stats::{bump, Counters};
use crate::keys::lookup::KeyLookup;

/// Why a node left the cache, for the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Expired,
    Capacity,
    Invalidated,
}

/// What removals took out of the cache, dropped by the caller once it holds no lock: dropping a
/// value runs its destructor, which is user code.
///
/// A miss that evicts fills it with a handful of references, so they are kept inline: the
/// graveyard allocates only for large removals (a group, a clear).
pub(crate) struct Graveyard<G, K> {
    nodes: SmallVec<[NodeRef<G, K>; 8]>,
    values: SmallVec<[Claimed<G, K>; 2]>,
}

impl<G, K> Graveyard<G, K> {
    pub(crate) fn new() -> Self {
        Self {
            nodes: SmallVec::new(),
            values: SmallVec::new(),
        }
    }
}

pub(crate) struct Store<G, K> {
    index: HashIndex<NodeKey<G, K>, (), PreHashed>,
    /// The cache's key hash function (see `probe.rs`).
    pub(crate) hasher: KeyHasher,
    pub(crate) groups: Groups<G, NodeRef<G, K>>,
    eviction: Eviction<G, K>,
    live: AtomicUsize,
    /// Read by every store; changed by `set_capacity`.
    capacity: AtomicUsize,
    pub(crate) counters: Counters,
    /// The read fence this cache follows once it takes part in a fleet (`lease.rs`).
    pub(crate) lease: Follows,
}

impl<G, K> Store<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            index: HashIndex::with_hasher(PreHashed::default()),
            hasher: KeyHasher::new(),
            groups: Groups::new(),
            eviction: Eviction::new(capacity),
            live: AtomicUsize::new(0),
            capacity: AtomicUsize::new(capacity),
            counters: Counters::new(),
            lease: Follows::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live.load(Relaxed)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Relaxed)
    }

    /// Sets the capacity and evicts down to it. A store running meanwhile reads the new
    /// capacity in `reserve` (or, having read the old one, is followed by this loop, which
    /// reads `live` after it), so the bound holds once this returns.
    pub(crate) fn set_capacity(
        &self,
        capacity: usize,
        now: Instant,
        epoch: u64,
        graveyard: &mut Graveyard<G, K>,
    ) {
        self.capacity.store(capacity, SeqCst);
        self.eviction.lock().resize(capacity);
        while self.live.load(SeqCst) > capacity {
            let picked = self
                .eviction
                .lock()
                .pick_victim(now, epoch, &mut graveyard.nodes);
            let Some(victim) = picked else {
                // Every stored node is being inserted or removed by another call.
                break;
            };
            self.remove(&victim, reason(&victim, now, epoch), graveyard);
            graveyard.nodes.push(victim);
        }
    }

    /// `(entries in the index, groups)`, for tests that check memory is reclaimed.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.index.len(), self.groups.len())
    }

    /// The hit path: a lock-free read by borrowed key.
    #[inline]
    pub(crate) fn lookup<P: ?Sized + KeyLookup<G, K>, V: Clone + 'static>(
        &self,
        probe: &P,
        epoch: u64,
    ) -> Option<V> {
        let hash = self.hasher.key(probe);
        let value = self
            .index
            .peek_with(&ByKey::with_hash(probe, hash), |key, ()| {
                let node = &key.0;
                // The clock is read after the lookup, so that its latency overlaps the lookup's
                // memory accesses; a coarse read unless the deadline is near (see `clock.rs`).
                if node.is_live(epoch, &self.lease) {
                    node.touch();
                    node.value::<V>()
                } else {
                    None
                }
            })
            .flatten()?;
        self.counters.hits.incr();
        Some(value)
    }

    /// The live node of `probe`'s key, if any.
    pub(crate) fn peek_live<P: ?Sized + KeyLookup<G, K> + KnownHash>(
        &self,
        probe: &P,
        epoch: u64,
    ) -> Option<NodeRef<G, K>> {
        self.peek_node(probe, |node| node.is_live(epoch, &self.lease))
    }

    /// The node of `probe`'s key if no invalidation or clear made it unreadable, expired or not,
    /// while the lease the cache follows is valid: what a stale window serves.
    pub(crate) fn peek_current<P: ?Sized + KeyLookup<G, K> + KnownHash>(
        &self,
        probe: &P,
        epoch: u64,
    ) -> Option<NodeRef<G, K>> {
        self.peek_node(probe, |node| {
            node.is_current(epoch) && self.lease.valid_now()
        })
    }

    /// The node of `probe`'s key, if it passes `keep`.
    fn peek_node<P: ?Sized + KeyLookup<G, K> + KnownHash>(
        &self,
        probe: &P,
        keep: impl FnOnce(&Node<G, K>) -> bool,
    ) -> Option<NodeRef<G, K>> {
        self.index
            .peek_with(&ByKey::new(probe), |key, ()| {
                keep(&key.0).then(|| key.0.clone())
            })
            .flatten()
    }

    /// Inserts `node`, replacing the previous node of its key and making room if full. The
    /// caller holds the key's flight entry (so no other store of the key runs) and has checked
    /// that the node's stamp is current; `epoch` is read again afterwards to catch an
    /// invalidation that ran meanwhile.
    pub(crate) fn insert(
        &self,
        node: NodeRef<G, K>,
        now: Instant,
        epoch: &std::sync::atomic::AtomicU64,
        hooks: &Hooks,
        graveyard: &mut Graveyard<G, K>,
    ) {
        // Dropped by the caller, after it let go of the flight entry.
        graveyard.nodes.push(node.clone());
        let at_start = epoch.load(Acquire);
        if let Some(entry) = self.index.get_sync(&ByKey::new(&node.stored())) {
            let old = entry.key().0.clone();
            entry.remove_entry();
            let reason = reason(&old, now, at_start);
            self.release(&old, Some(reason), graveyard);
            graveyard.nodes.push(old);
        }
        if !self.reserve(now, at_start, graveyard) {
            // Every slot is held by an insert still in progress: serve without storing.
            return;
        }
        // The flight's pin keeps the count above zero, so this increment cannot race the
        // group's removal from the index.
        node.group.pins.fetch_add(1, Relaxed);
        // Listed in the group before it becomes visible, so an invalidation that can see it
        // can also find it.
        node.group.add_member(&node);
        let mut reserved = Reserved {
            store: self,
            node: &node,
            inserted: false,
        };
        reserved.inserted = self.index.insert_sync(NodeKey(node.clone()), ()).is_ok();
        if !reserved.inserted {
            // The flight entry serializes stores of a key, so this cannot happen; `reserved`
            // gives everything back if it does.
            return;
        }
        drop(reserved);
        bump(&self.counters.inserts, 1);
        self.eviction.lock().admit(&node);
        hooks.at_sync(HookPoint::AfterInsert);
        // An invalidation that bumped the group after our caller's check has already taken the
        // member list, perhaps before this node joined it: take the node out now.
        if node.is_stale(epoch.load(Acquire)) {
            self.remove(&node, Reason::Invalidated, graveyard);
        }
    }

    /// Takes one slot of capacity, evicting if the cache is full. Returns false if nothing could
    /// be evicted (every slot is held by an insert still in progress).
    fn reserve(&self, now: Instant, epoch: u64, graveyard: &mut Graveyard<G, K>) -> bool {
        loop {
            let live = self.live.load(Relaxed);
            if live < self.capacity.load(Relaxed) {
                if self
                    .live
                    .compare_exchange_weak(live, live + 1, AcqRel, Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            // An expired (or invalidated) node if the oldest is one, else S3-FIFO's choice.
            let picked = self
                .eviction
                .lock()
                .pick_victim(now, epoch, &mut graveyard.nodes);
            let Some(victim) = picked else {
                return false;
            };
            self.remove(&victim, reason(&victim, now, epoch), graveyard);
            graveyard.nodes.push(victim);
        }
    }

    /// Removes `node` from the index if it is still there, and accounts for it.
    pub(crate) fn remove(
        &self,
        node: &NodeRef<G, K>,
        reason: Reason,
        graveyard: &mut Graveyard<G, K>,
    ) -> bool {
        let Some(entry) = self.index.get_sync(&ByKey::new(&node.stored())) else {
            return false;
        };
        if !NodeRef::ptr_eq(&entry.key().0, node) {
            return false;
        }
        entry.remove_entry();
        self.release(node, Some(reason), graveyard);
        true
    }

    /// Removes the entry of `probe`'s key, whatever node it holds.
    pub(crate) fn remove_key<P: ?Sized + KeyLookup<G, K> + KnownHash>(
        &self,
        probe: &P,
        graveyard: &mut Graveyard<G, K>,
    ) -> bool {
        let Some(entry) = self.index.get_sync(&ByKey::new(probe)) else {
            return false;
        };
        let node = entry.key().0.clone();
        entry.remove_entry();
        self.release(&node, Some(Reason::Invalidated), graveyard);
        graveyard.nodes.push(node);
        true
    }

    /// Removes every stored member of `group`.
    pub(crate) fn remove_members(
        &self,
        group: &NodeGroup<G, K>,
        graveyard: &mut Graveyard<G, K>,
    ) -> usize {
        let mut removed = 0;
        for node in group.take_members() {
            if self.remove(&node, Reason::Invalidated, graveyard) {
                removed += 1;
            }
            graveyard.nodes.push(node);
        }
        removed
    }

    /// Bookkeeping for a node that left the index (or never made it in): once per node.
    fn release(
        &self,
        node: &NodeRef<G, K>,
        reason: Option<Reason>,
        graveyard: &mut Graveyard<G, K>,
    ) {
        if node.removed.swap(true, AcqRel) {
            return;
        }
        self.live.fetch_sub(1, AcqRel);
        if let Some(value) = node.take_value() {
            graveyard.values.push(value);
        }
        if let Some(member) = node.group.remove_member(node) {
            graveyard.nodes.push(member);
        }
        self.eviction.lock().unlink(node, &mut graveyard.nodes);
        self.groups.unpin(&node.group);
        match reason {
            Some(Reason::Expired) => bump(&self.counters.evicted_expired, 1),
            Some(Reason::Capacity) => bump(&self.counters.evicted_capacity, 1),
            Some(Reason::Invalidated) => bump(&self.counters.invalidated, 1),
            None => {}
        }
    }

    /// Removes up to `budget` expired or invalidated entries from the front of the store order.
    pub(crate) fn sweep(
        &self,
        now: Instant,
        epoch: u64,
        budget: usize,
        graveyard: &mut Graveyard<G, K>,
    ) -> usize {
        let mut removed = 0;
        while removed < budget {
            let dead = self
                .eviction
                .lock()
                .pop_dead(now, epoch, &mut graveyard.nodes);
            let Some(node) = dead else {
                break;
            };
            if self.remove(&node, reason(&node, now, epoch), graveyard) {
                removed += 1;
            }
            graveyard.nodes.push(node);
        }
        removed
    }

    /// Removes every expired or invalidated entry: those at the front of the store order, and,
    /// for a while after the TTL was lowered, those behind entries stored with the longer one.
    pub(crate) fn purge(&self, now: Instant, epoch: u64, graveyard: &mut Graveyard<G, K>) -> usize {
        let mut removed = self.sweep(now, epoch, usize::MAX, graveyard);
        let behind = self.eviction.lock().dead_behind(now, epoch);
        for node in behind {
            if self.remove(&node, reason(&node, now, epoch), graveyard) {
                removed += 1;
            }
            graveyard.nodes.push(node);
        }
        removed
    }

    /// The TTL was lowered at `now` from `old`: see [`purge`](Self::purge).
    pub(crate) fn ttl_lowered(&self, now: Instant, old: std::time::Duration) {
        if let Some(until) = now.checked_add(old) {
            self.eviction.lock().ttl_lowered(until);
        }
    }

    /// Empties the store order, for dropping the cache: nodes point at their group and groups
    /// list their nodes, a cycle to break.
    pub(crate) fn drain(&mut self) {
        for group in self.groups.all() {
            drop(group.take_members());
        }
        drop(self.eviction.lock().drain());
    }
}

fn reason<G, K>(node: &Node<G, K>, now: Instant, epoch: u64) -> Reason {
    if node.is_stale(epoch) {
        Reason::Invalidated
    } else if now >= node.expires_at {
        Reason::Expired
    } else {
        Reason::Capacity
    }
}

/// A slot of capacity reserved for a node not in the index yet: given back, with the node's
/// group pin and member entry, unless the insert finished (only a panic in a key's `Hash` or
/// `Eq` can stop it in between: nothing here awaits).
struct Reserved<'s, G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    store: &'s Store<G, K>,
    node: &'s NodeRef<G, K>,
    inserted: bool,
}

impl<G, K> Drop for Reserved<'_, G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if !self.inserted {
            let mut graveyard = Graveyard::new();
            self.store.release(self.node, None, &mut graveyard);
        }
    }
}

//! Which entries leave when the cache is full: expired ones first, then S3-FIFO.
//!
//! Two orders are kept, under one lock, for the stored nodes:
//!
//! - the **expiry order**: store order, never reordered. With one TTL per cache it is expiry
//!   order, so the expired (and the invalidated) entries are at its front: sweeping pops them
//!   there without reading any entry, and eviction takes them before any live entry.
//! - the **eviction queues** (S3-FIFO: Yang et al., "FIFO queues are all you need for cache
//!   eviction", SOSP 2023): a small probationary FIFO where new keys enter (3 % of the
//!   capacity here), a main FIFO, and a ghost list of the hashes of keys recently evicted from
//!   the small queue (as many as half the capacity).
//!
//! A hit only bumps a 2-bit saturating counter on the node (no lock, no allocation, and no
//! write once the counter is full). Everything else happens on the miss path:
//!
//! - A key evicted from the small queue without a hit since it entered is remembered as a
//!   ghost; a key read while in the small queue moves to the main queue; a key whose ghost is
//!   found when it is stored again enters the main queue directly. One-off keys (scans,
//!   one-off folders) thus leave quickly from the small queue, while keys read again stay.
//! - The main queue is a CLOCK with a credit per node, kept here (not on the node): a pass
//!   over the node at the front adds its hits since the last pass to its credit (at most 4),
//!   and if that is above zero the node goes back to the end with one less (so it keeps at
//!   most 3), its hit counter restarting from zero; else it is evicted. A node read in every
//!   round stays; one that stops being read leaves after as many rounds as it has credit.
//! - **Shift detection**: a node with full credit was read at least as often as the queue goes
//!   round, so in a steady workload few such nodes are found unread by a pass. When the share
//!   of them that are (a moving average over the last eighth to quarter of the capacity's
//!   worth of such passes) goes above one half, the popular keys changed: while it stays
//!   there, a pass evicts an unread node whatever its credit, so yesterday's favourites leave
//!   within a round instead of four.
//!   (A shorter memory for every node would do the same after a change, but costs the steady
//!   workloads the moderately popular keys that had one unlucky round.)
//!
//! The parameters (3 % small queue, ghosts for half the capacity, credit up to 3, the shift
//! threshold and window) were chosen on the replayed traces (`benches/examples/miss_ratio.rs`,
//! BENCHMARKS.md). The lock is held for O(1) link edits per step, amortized: every pass over a
//! node in the main queue is paid for by a hit it had since it entered.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::engine::clock::Instant;
use foldhash::fast::FixedState;

use crate::engine::list::{Bin, Link, List};
use crate::engine::node::{Node, NodeRef};

/// A node's slot in the expiry order.
pub(crate) struct ExpiryLink;
/// A node's slot in its eviction queue (small or main: see `Node::in_main`).
pub(crate) struct QueueLink;

impl<G, K> Link<Node<G, K>> for ExpiryLink {
    fn slot(node: &Node<G, K>) -> &AtomicU32 {
        &node.expiry_slot
    }
}

impl<G, K> Link<Node<G, K>> for QueueLink {
    fn slot(node: &Node<G, K>) -> &AtomicU32 {
        &node.queue_slot
    }
}

/// Hashes of keys recently evicted from the small queue, oldest first, at most `limit`.
struct Ghosts {
    set: HashSet<u64, FixedState>,
    order: VecDeque<u64>,
    limit: usize,
}

impl Ghosts {
    fn remember(&mut self, hash: u64) {
        if self.set.insert(hash) {
            self.order.push_back(hash);
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.order.len() > self.limit {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Whether `hash` was a ghost; it is one no longer.
    fn recall(&mut self, hash: u64) -> bool {
        // Its place in `order` stays until it comes round; `remember` skips it then.
        self.set.remove(&hash)
    }
}

/// The most credit a main-queue node keeps from one pass of the queue to the next.
const MAX_CREDIT: u8 = 3;

pub(crate) struct Queues<G, K> {
    expiry: List<NodeRef<G, K>, ExpiryLink>,
    small: List<NodeRef<G, K>, QueueLink>,
    main: List<NodeRef<G, K>, QueueLink>,
    /// The credit of each node in the main queue, by the node's slot in the expiry order (which
    /// does not move while the node is stored): what its hits earned it up to the last pass.
    /// Kept here rather than in the node's hit counter, which restarts from zero at each pass,
    /// so that a pass can tell a node read since the last pass from one that was not.
    credit: Vec<u8>,
    idle: IdleShare,
    ghosts: Ghosts,
    small_target: usize,
    /// Set when the TTL was lowered: until then, nodes stored before the change may expire after
    /// nodes stored behind them, and the expiry order is not sorted by expiry.
    unsorted_until: Option<Instant>,
}

/// How many of the main queue's full-credit nodes were found unread by their last pass: a
/// moving average over the last eighth to quarter of the capacity in such passes (a power of
/// two), in 1/2^24ths.
///
/// A node with full credit was read at least as often as the queue goes round, so in a steady
/// workload few of them go a whole round unread. When most of them do, the popular keys have
/// changed; while that lasts, a pass evicts an unread node whatever its credit, instead of
/// keeping yesterday's favourites for several more rounds.
struct IdleShare {
    share: u32,
    /// The weight of the newest pass is 1/2^`shift`.
    shift: u32,
}

impl IdleShare {
    const ONE: u32 = 1 << 24;

    fn new(capacity: usize) -> Self {
        // A window of a fraction of the capacity, so that a shift shows within a fraction of
        // a round of the main queue at any capacity (a fixed window of 512 passes was never
        // filled with idle passes in caches of a few hundred entries).
        Self {
            share: 0,
            shift: Self::shift_for(capacity),
        }
    }

    fn shift_for(capacity: usize) -> u32 {
        (capacity / 4).max(8).ilog2().min(20)
    }

    fn observe(&mut self, idle: bool) {
        if idle {
            self.share += (Self::ONE - self.share) >> self.shift;
        } else {
            self.share -= self.share >> self.shift;
        }
    }

    /// Whether most full-credit nodes went unread: the popular keys are changing.
    fn shifting(&self) -> bool {
        self.share > Self::ONE / 2
    }
}

/// The queues behind their lock. Held for link edits only: never across an `.await` or user
/// code (nodes taken out are dropped by the callers).
pub(crate) struct Eviction<G, K> {
    queues: Mutex<Queues<G, K>>,
}

impl<G, K> Eviction<G, K> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queues: Mutex::new(Queues {
                expiry: List::new(),
                small: List::new(),
                main: List::new(),
                credit: Vec::new(),
                idle: IdleShare::new(capacity),
                ghosts: Ghosts {
                    set: HashSet::with_hasher(FixedState::default()),
                    order: VecDeque::new(),
                    limit: ghost_limit(capacity),
                },
                small_target: small_target(capacity),
                unsorted_until: None,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Queues<G, K>> {
        // Only link edits happen under the lock; a poisoned lock (allocation failure while
        // growing) leaves the links consistent.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Half the capacity: a longer memory helps when popularity shifts (the reshuffled trace), a
/// shorter one when it is stable (the Zipf traces).
fn ghost_limit(capacity: usize) -> usize {
    capacity / 2
}

/// 3 %, not the paper's 10 %: chosen on the replayed traces (`benches/examples/miss_ratio.rs`),
/// where it cut the misses on every Zipf trace by 1 to 3 % and was no worse on the others.
fn small_target(capacity: usize) -> usize {
    // 3 % of any capacity, `usize::MAX` ("no bound") included, without overflowing.
    (capacity / 100 * 3 + capacity % 100 * 3 / 100).max(1)
}

impl<G, K> Queues<G, K> {
    /// Sizes what depends on the capacity for a new one (`set_capacity`). The queues keep their
    /// nodes: the store evicts down to the new capacity after this.
    pub(crate) fn resize(&mut self, capacity: usize) {
        self.idle.shift = IdleShare::shift_for(capacity);
        self.ghosts.limit = ghost_limit(capacity);
        self.ghosts.trim();
        self.small_target = small_target(capacity);
    }

    /// Adds a node just stored: at the end of the expiry order, and in the main queue if its
    /// key was evicted recently without a second chance, else in the small queue.
    pub(crate) fn admit(&mut self, node: &NodeRef<G, K>) {
        self.expiry.push_back(node.clone());
        if self.ghosts.recall(node.hash) {
            self.push_main(node.clone(), 0);
        } else {
            self.small.push_back(node.clone());
        }
    }

    /// The TTL was lowered: nodes stored until now expire by `until`, possibly after nodes
    /// stored after them.
    pub(crate) fn ttl_lowered(&mut self, until: Instant) {
        self.unsorted_until = Some(self.unsorted_until.map_or(until, |u| u.max(until)));
    }

    /// Every dead node behind a live one in the expiry order, which [`pop_dead`](Self::pop_dead)
    /// does not reach: some only while the order is unsorted (after the TTL was lowered),
    /// else none. Left in the lists; the caller removes them.
    pub(crate) fn dead_behind(&mut self, now: Instant, epoch: u64) -> Vec<NodeRef<G, K>> {
        match self.unsorted_until {
            Some(until) if now < until => self
                .expiry
                .iter()
                .filter(|node| !node.is_live_at(now, epoch))
                .cloned()
                .collect(),
            _ => {
                self.unsorted_until = None;
                Vec::new()
            }
        }
    }

    /// Takes `node` out of every list it is in; the caller drops what is returned.
    pub(crate) fn unlink(&mut self, node: &NodeRef<G, K>, out: &mut impl Bin<NodeRef<G, K>>) {
        out.put(self.expiry.unlink(node));
        let queue = if node.in_main.load(Relaxed) {
            &mut self.main
        } else {
            &mut self.small
        };
        out.put(queue.unlink(node));
    }

    /// The oldest node, if it is dead (expired or invalidated), taken out of every list.
    pub(crate) fn pop_dead(
        &mut self,
        now: Instant,
        epoch: u64,
        out: &mut impl Bin<NodeRef<G, K>>,
    ) -> Option<NodeRef<G, K>> {
        if self.expiry.front()?.is_live_at(now, epoch) {
            return None;
        }
        let node = self.expiry.pop_front()?;
        let queue = if node.in_main.load(Relaxed) {
            &mut self.main
        } else {
            &mut self.small
        };
        out.put(queue.unlink(&node));
        Some(node)
    }

    /// Chooses a node to evict and takes it out of every list: a dead one if the oldest is
    /// dead, else by S3-FIFO.
    pub(crate) fn pick_victim(
        &mut self,
        now: Instant,
        epoch: u64,
        out: &mut impl Bin<NodeRef<G, K>>,
    ) -> Option<NodeRef<G, K>> {
        if let Some(dead) = self.pop_dead(now, epoch, out) {
            return Some(dead);
        }
        loop {
            let from_small = self.small.len() >= self.small_target || self.main.len() == 0;
            if from_small {
                let node = self.small.pop_front()?;
                if node.freq.load(Relaxed) > 0 && node.is_live_at(now, epoch) {
                    // Read while on probation: keep it, in the main queue.
                    node.freq.store(0, Relaxed);
                    self.push_main(node, 0);
                    continue;
                }
                self.ghosts.remember(node.hash);
                out.put(self.expiry.unlink(&node));
                return Some(node);
            }
            let node = self.main.pop_front()?;
            if node.is_live_at(now, epoch) {
                let hits = node.freq.load(Relaxed);
                let credit = self.credit[Self::credit_slot(&node)];
                if credit == MAX_CREDIT {
                    self.idle.observe(hits == 0);
                }
                let score = if hits == 0 && self.idle.shifting() {
                    0
                } else {
                    (credit + hits).min(MAX_CREDIT + 1)
                };
                if score > 0 {
                    if hits > 0 {
                        node.freq.store(0, Relaxed);
                    }
                    self.push_main(node, score - 1);
                    continue;
                }
            }
            out.put(self.expiry.unlink(&node));
            return Some(node);
        }
    }

    /// Where `node`'s credit is kept: its slot in the expiry order.
    fn credit_slot(node: &Node<G, K>) -> usize {
        node.expiry_slot.load(Relaxed) as usize
    }

    /// Appends `node` to the main queue with `credit`.
    fn push_main(&mut self, node: NodeRef<G, K>, credit: u8) {
        let slot = Self::credit_slot(&node);
        debug_assert_ne!(
            slot,
            crate::engine::list::NO_SLOT as usize,
            "a queued node is in the expiry order"
        );
        if slot >= self.credit.len() {
            self.credit.resize(slot + 1, 0);
        }
        self.credit[slot] = credit;
        node.in_main.store(true, Relaxed);
        self.main.push_back(node);
    }

    /// Empties every list, for dropping the cache; the caller drops the nodes.
    pub(crate) fn drain(&mut self) -> Vec<NodeRef<G, K>> {
        let mut all = self.expiry.drain();
        all.extend(self.small.drain());
        all.extend(self.main.drain());
        self.credit.clear();
        all
    }
}

//! The store order: stored nodes from oldest to newest, as an index-linked list in a `Vec`.
//!
//! With one TTL per cache, store order is expiry order, so the expired entries are always at the
//! front: sweeping pops them there and capacity eviction looks there first. Each node records its
//! slot, so a node leaving the cache (invalidated, replaced, evicted) is unlinked in O(1) and no
//! dead entry ever needs compacting away.

use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::node::{Node, NO_ORDER};

struct Slot<G, K, V> {
    prev: u32,
    next: u32,
    /// `None` while the slot is on the free list.
    node: Option<Arc<Node<G, K, V>>>,
}

pub(crate) struct List<G, K, V> {
    slots: Vec<Slot<G, K, V>>,
    head: u32,
    tail: u32,
    /// First slot of the free list, linked through `next`.
    free: u32,
}

/// The list behind a mutex. The lock is held for O(1) link edits, or for a scan of at most a
/// few entries; never across an `.await` or user code (nodes taken out are dropped by callers).
pub(crate) struct StoreOrder<G, K, V> {
    list: Mutex<List<G, K, V>>,
}

impl<G, K, V> StoreOrder<G, K, V> {
    pub(crate) fn new() -> Self {
        Self {
            list: Mutex::new(List {
                slots: Vec::new(),
                head: NO_ORDER,
                tail: NO_ORDER,
                free: NO_ORDER,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, List<G, K, V>> {
        // Only link edits happen under the lock; a poisoned lock (allocation failure while
        // growing) leaves the links consistent.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<G, K, V> List<G, K, V> {
    fn slot(&mut self, node: Arc<Node<G, K, V>>) -> u32 {
        if self.free == NO_ORDER {
            let index = u32::try_from(self.slots.len()).expect("capacity is below u32::MAX");
            self.slots.push(Slot {
                prev: NO_ORDER,
                next: NO_ORDER,
                node: Some(node),
            });
            index
        } else {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            self.free = slot.next;
            slot.node = Some(node);
            index
        }
    }

    /// Appends `node` (newest), unless it already left the cache.
    pub(crate) fn push_back(&mut self, node: &Arc<Node<G, K, V>>) {
        if node.removed.load(Acquire) {
            return;
        }
        let index = self.slot(Arc::clone(node));
        let tail = self.tail;
        self.slots[index as usize].prev = tail;
        self.slots[index as usize].next = NO_ORDER;
        match tail {
            NO_ORDER => self.head = index,
            tail => self.slots[tail as usize].next = index,
        }
        self.tail = index;
        node.order.store(index, Relaxed);
    }

    /// Unlinks `node` if it is in the list; the caller drops the returned `Arc`.
    pub(crate) fn unlink(&mut self, node: &Arc<Node<G, K, V>>) -> Option<Arc<Node<G, K, V>>> {
        let index = node.order.load(Relaxed);
        let slot = self.slots.get(index as usize)?;
        if !slot.node.as_ref().is_some_and(|n| Arc::ptr_eq(n, node)) {
            return None;
        }
        self.take(index)
    }

    fn take(&mut self, index: u32) -> Option<Arc<Node<G, K, V>>> {
        let slot = &mut self.slots[index as usize];
        let node = slot.node.take()?;
        let (prev, next) = (slot.prev, slot.next);
        slot.next = self.free;
        self.free = index;
        match prev {
            NO_ORDER => self.head = next,
            prev => self.slots[prev as usize].next = next,
        }
        match next {
            NO_ORDER => self.tail = prev,
            next => self.slots[next as usize].prev = prev,
        }
        node.order.store(NO_ORDER, Relaxed);
        Some(node)
    }

    /// The oldest node.
    pub(crate) fn front(&self) -> Option<&Arc<Node<G, K, V>>> {
        self.slots.get(self.head as usize)?.node.as_ref()
    }

    pub(crate) fn pop_front(&mut self) -> Option<Arc<Node<G, K, V>>> {
        match self.head {
            NO_ORDER => None,
            head => self.take(head),
        }
    }

    /// The `n` oldest nodes with their slots, oldest first.
    pub(crate) fn oldest(&self, n: usize) -> impl Iterator<Item = (u32, &Arc<Node<G, K, V>>)> {
        let mut index = self.head;
        std::iter::from_fn(move || {
            let slot = self.slots.get(index as usize)?;
            let current = index;
            index = slot.next;
            slot.node.as_ref().map(|node| (current, node))
        })
        .take(n)
    }

    /// Unlinks the node in slot `index`.
    pub(crate) fn remove(&mut self, index: u32) -> Option<Arc<Node<G, K, V>>> {
        self.take(index)
    }

    /// Empties the list, for dropping the cache; the caller drops the nodes.
    pub(crate) fn drain(&mut self) -> Vec<Arc<Node<G, K, V>>> {
        self.head = NO_ORDER;
        self.tail = NO_ORDER;
        self.free = NO_ORDER;
        self.slots.drain(..).filter_map(|s| s.node).collect()
    }
}

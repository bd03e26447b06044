//! An index-linked list in a `Vec`: O(1) push, pop and unlink of a member that records its own
//! slot, and no dead entry ever needs compacting away. Used for the expiry order and the
//! eviction queues (see `eviction.rs`); one member can be in several lists, each recording its
//! slot in its own field, chosen by a [`Link`].

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// A counted shared reference, as lists and groups hold their members (a node's
/// [`NodeRef`](crate::engine::node::NodeRef)).
pub(crate) trait Shared: Clone + Deref {
    /// Whether `a` and `b` point at the same member.
    fn same(a: &Self, b: &Self) -> bool;
}

/// Where references taken out of a list go, to be dropped by the caller once it holds no lock.
pub(crate) trait Bin<T> {
    /// Keeps `item`, if any.
    fn put(&mut self, item: Option<T>);
}

impl<T, const N: usize> Bin<T> for smallvec::SmallVec<[T; N]>
where
    [T; N]: smallvec::Array<Item = T>,
{
    #[inline]
    fn put(&mut self, item: Option<T>) {
        if let Some(item) = item {
            self.push(item);
        }
    }
}

/// Marks a member that is in no list of a given [`Link`].
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// Which field of a member holds its slot in one kind of list.
pub(crate) trait Link<N: ?Sized> {
    fn slot(member: &N) -> &AtomicU32;
}

struct Slot<R> {
    prev: u32,
    next: u32,
    /// `None` while the slot is on the free list.
    member: Option<R>,
}

/// A list of members held by `R` references.
pub(crate) struct List<R, L> {
    slots: Vec<Slot<R>>,
    head: u32,
    tail: u32,
    /// First slot of the free list, linked through `next`.
    free: u32,
    len: usize,
    _link: PhantomData<fn() -> L>,
}

impl<R: Shared, L: Link<R::Target>> List<R, L> {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            head: NO_SLOT,
            tail: NO_SLOT,
            free: NO_SLOT,
            len: 0,
            _link: PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A slot for a new member: off the free list, or a new one.
    fn free_slot(&mut self) -> u32 {
        if self.free == NO_SLOT {
            let index = u32::try_from(self.slots.len()).expect("capacity is below u32::MAX");
            self.slots.push(Slot {
                prev: NO_SLOT,
                next: NO_SLOT,
                member: None,
            });
            index
        } else {
            let index = self.free;
            self.free = self.slots[index as usize].next;
            index
        }
    }

    /// Appends `member` (newest).
    pub(crate) fn push_back(&mut self, member: R) {
        let index = self.free_slot();
        L::slot(&member).store(index, Relaxed);
        let tail = self.tail;
        let slot = &mut self.slots[index as usize];
        slot.prev = tail;
        slot.next = NO_SLOT;
        slot.member = Some(member);
        match tail {
            NO_SLOT => self.head = index,
            tail => self.slots[tail as usize].next = index,
        }
        self.tail = index;
        self.len += 1;
    }

    /// Unlinks `member` if it is in this list; the caller drops the returned reference.
    pub(crate) fn unlink(&mut self, member: &R) -> Option<R> {
        let index = L::slot(member).load(Relaxed);
        let slot = self.slots.get(index as usize)?;
        if !slot.member.as_ref().is_some_and(|m| R::same(m, member)) {
            return None;
        }
        self.take(index)
    }

    fn take(&mut self, index: u32) -> Option<R> {
        let slot = &mut self.slots[index as usize];
        let member = slot.member.take()?;
        let (prev, next) = (slot.prev, slot.next);
        slot.next = self.free;
        self.free = index;
        match prev {
            NO_SLOT => self.head = next,
            prev => self.slots[prev as usize].next = next,
        }
        match next {
            NO_SLOT => self.tail = prev,
            next => self.slots[next as usize].prev = prev,
        }
        L::slot(&member).store(NO_SLOT, Relaxed);
        self.len -= 1;
        Some(member)
    }

    /// The oldest member.
    pub(crate) fn front(&self) -> Option<&R> {
        self.slots.get(self.head as usize)?.member.as_ref()
    }

    pub(crate) fn pop_front(&mut self) -> Option<R> {
        match self.head {
            NO_SLOT => None,
            head => self.take(head),
        }
    }

    /// The members, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &R> {
        let mut at = self.head;
        std::iter::from_fn(move || {
            let slot = self.slots.get(at as usize)?;
            at = slot.next;
            slot.member.as_ref()
        })
    }

    /// Empties the list, for dropping the cache; the caller drops the members.
    pub(crate) fn drain(&mut self) -> Vec<R> {
        self.head = NO_SLOT;
        self.tail = NO_SLOT;
        self.free = NO_SLOT;
        self.len = 0;
        self.slots.drain(..).filter_map(|s| s.member).collect()
    }
}

//! A node's value slot: cloned by hits without a lock, taken out by the call that removes the
//! node, and dropped when that call returns (or, if a hit is cloning it at that moment, when
//! that hit finishes cloning).
//!
//! Why not leave the value to the index: scc's `HashIndex` frees a removed entry only once every
//! thread has moved past it, which can take as long as an idle thread stays idle. The memory
//! promise (live values at most the capacity plus a small constant, whatever idle threads do; a
//! removed value dropped when the removing call returns) needs the value to go at once, so the
//! node holds it in a slot of its own.
//!
//! **The protocol.** One word, `state`: a count of hits inside the slot (in units of
//! [`READER`]), [`TAKEN`] once a removal took the slot, and [`EMPTY`] once the value is gone.
//!
//! - A hit adds [`READER`]; if [`TAKEN`] was clear, it clones the value in place; then it takes
//!   its [`READER`] back.
//! - A removal sets [`TAKEN`]. If no hit was inside, it also sets [`EMPTY`] in the same
//!   compare-exchange and owns the value from then on: it drops it in place once it holds no
//!   lock ([`Slot::claim`], [`Slot::drop_claimed`]). If hits were inside, the
//!   value stays for them, and the hit that brings the count to zero with [`TAKEN`] set claims
//!   it (a compare-exchange from exactly [`TAKEN`] to `TAKEN | EMPTY`, so one claimer wins even
//!   when more hits come and go meanwhile) and drops it.
//! - Every operation on `state` is a read-modify-write, so they have one order. A hit whose add
//!   comes before the removal's exchange is counted by it (the removal leaves the value); one
//!   whose add comes after sees [`TAKEN`] and never touches the value. Dropping is ordered after
//!   every clone: each hit leaves with a release, and the one who drops acquires.
//!
//! A hit costs two locked instructions on the node's own cache line and no thread-local state
//! (the `arc-swap` slot this replaces cost about 55 instructions: a thread-local debt list,
//! and an `Arc` around the value, one more allocation per stored value and one more dependent
//! load per hit).
//!
//! The protocol is model-checked with loom (`RUSTFLAGS="--cfg ttl_cached_loom"
//! LOOM_MAX_PREEMPTIONS=3 cargo test -p cache-core --lib engine::slot`, with a target directory
//! of its own; under a second. Unbounded, the three-thread model ran past 6 minutes) and
//! stressed on real threads by the tests at the end of this file.

#![allow(unsafe_code)]

use std::mem::ManuallyDrop;

use self::sync::{
    AtomicUsize, Cell,
    Ordering::{Acquire, Relaxed, Release},
};

/// Set once a removal took the slot: no hit clones the value from then on.
const TAKEN: usize = 1;
/// Set once the value is gone (moved out by the removal, or dropped by the last hit).
const EMPTY: usize = 2;
/// One hit inside the slot.
const READER: usize = 4;

pub(crate) struct Slot<V> {
    state: AtomicUsize,
    value: Cell<ManuallyDrop<V>>,
}

// SAFETY: hits on several threads clone the value through a shared reference (`V: Sync`), and
// the value is moved out or dropped on whichever thread removes it or leaves last (`V: Send`).
unsafe impl<V: Send + Sync> Sync for Slot<V> {}
// SAFETY: the slot owns its value, which may be dropped on another thread (`V: Send`).
unsafe impl<V: Send> Send for Slot<V> {}

impl<V> Slot<V> {
    pub(crate) fn new(value: V) -> Self {
        Self {
            state: AtomicUsize::new(0),
            value: Cell::new(ManuallyDrop::new(value)),
        }
    }

    /// A clone of the value, unless a removal took it. `V::clone` runs with the slot held: a
    /// removal meanwhile leaves the value to this call, which drops it once it has cloned it.
    #[inline]
    pub(crate) fn get(&self) -> Option<V>
    where
        V: Clone,
    {
        let before = self.state.fetch_add(READER, Acquire);
        // Leaves on every path, a panicking `V::clone` included.
        let _inside = Inside(self);
        if before & TAKEN != 0 {
            return None;
        }
        // SAFETY: this call's `READER` was added before any removal's exchange (`TAKEN` was
        // clear), so the removal saw it and left the value in place, and nobody drops the value
        // while the count is above zero: the reference lives until `_inside` leaves.
        Some(self.value.with(|value| unsafe { V::clone(&**value) }))
    }

    /// Takes the value out of the cache's reach: the first call returns it (the caller drops
    /// it), unless hits are cloning it, in which case the last of them drops it and this returns
    /// `None`. Later calls return `None`.
    #[cfg(any(test, ttl_cached_loom))]
    pub(crate) fn take(&self) -> Option<V> {
        self.claim().then(|| {
            // SAFETY: a successful claim makes this call the value's only owner; it moves it
            // out once, here. The claim's acquire orders it after every earlier hit's release.
            self.value
                .with_mut(|value| unsafe { ManuallyDrop::take(&mut *value) })
        })
    }

    /// Takes the value out of the cache's reach, leaving it in place: `true` if this call now
    /// owns it and must drop it with [`drop_claimed`](Self::drop_claimed) (no hit was inside);
    /// `false` if hits are cloning it (the last of them drops it) or a removal came first.
    pub(crate) fn claim(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            if state & TAKEN != 0 {
                return false;
            }
            let alone = state < READER;
            let next = if alone {
                state | TAKEN | EMPTY
            } else {
                state | TAKEN
            };
            // `EMPTY` tells later hits (through `TAKEN`) and `Drop` that the slot no longer owns
            // the value: the claimer does. The acquire orders its drop after every earlier
            // hit's release.
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) => return alone,
                Err(actual) => state = actual,
            }
        }
    }

    /// Drops the value a successful [`claim`](Self::claim) handed to the caller.
    ///
    /// # Safety
    ///
    /// The caller's `claim` returned `true`, and this is its only call for that claim.
    pub(crate) unsafe fn drop_claimed(&self) {
        // SAFETY: the caller owns the value (its claim succeeded: no hit was inside, none will
        // read it, `Drop` will not drop it), and drops it once.
        self.value
            .with_mut(|value| unsafe { ManuallyDrop::drop(&mut *value) });
    }

    /// A hit leaves; the last one out after a removal drops the value.
    #[inline]
    fn leave(&self) {
        let before = self.state.fetch_sub(READER, Release);
        if before == TAKEN | READER {
            self.drop_left_value();
        }
    }

    /// The value a removal left to the hits inside, dropped by the hit that brought their count
    /// to zero, unless another hit entered meanwhile (it will leave, and try again).
    #[cold]
    #[inline(never)]
    fn drop_left_value(&self) {
        if self
            .state
            .compare_exchange(TAKEN, TAKEN | EMPTY, Acquire, Relaxed)
            .is_ok()
        {
            // SAFETY: no hit is inside (count zero), none will read the value (`TAKEN`), and the
            // exchange to `EMPTY` succeeds once: this is its only drop. The acquire orders it
            // after every hit's clone (each left with a release).
            self.value
                .with_mut(|value| unsafe { ManuallyDrop::drop(&mut *value) });
        }
    }
}

/// A hit inside the slot, leaving when dropped.
struct Inside<'a, V>(&'a Slot<V>);

impl<V> Drop for Inside<'_, V> {
    #[inline]
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl<V> Drop for Slot<V> {
    fn drop(&mut self) {
        // No hit is inside (`&mut self`), so the value is either still here or `EMPTY`.
        if self.state.load(Acquire) & EMPTY == 0 {
            // SAFETY: not moved out nor dropped (`EMPTY` clear), and never again: the slot goes.
            self.value
                .with_mut(|value| unsafe { ManuallyDrop::drop(&mut *value) });
        }
    }
}

#[cfg(not(ttl_cached_loom))]
mod sync {
    pub(super) use std::sync::atomic::{AtomicUsize, Ordering};

    /// `std::cell::UnsafeCell` with loom's closure API, so the slot reads the same under both.
    pub(super) struct Cell<T>(std::cell::UnsafeCell<T>);

    impl<T> Cell<T> {
        pub(super) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        #[inline(always)]
        pub(super) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        #[inline(always)]
        pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(ttl_cached_loom)]
mod sync {
    pub(super) use loom::cell::UnsafeCell as Cell;
    pub(super) use loom::sync::atomic::{AtomicUsize, Ordering};
}

#[cfg(all(test, ttl_cached_loom))]
mod loom_tests {
    use super::Slot;
    use loom::sync::atomic::{AtomicIsize, Ordering::SeqCst};
    use loom::sync::Arc;
    use loom::thread;

    /// A value that counts its live copies.
    struct Counted(Arc<AtomicIsize>);

    impl Clone for Counted {
        fn clone(&self) -> Self {
            self.0.fetch_add(1, SeqCst);
            Self(Arc::clone(&self.0))
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_sub(1, SeqCst);
        }
    }

    /// Two hits race one removal: each hit clones or sees nothing; once the removal and every
    /// hit returned (their clones dropped), no copy is alive, while the slot itself still is.
    #[test]
    fn a_removal_racing_two_hits_leaves_nothing_alive() {
        loom::model(|| {
            let live = Arc::new(AtomicIsize::new(1));
            let slot = Arc::new(Slot::new(Counted(Arc::clone(&live))));
            let hits: Vec<_> = (0..2)
                .map(|_| {
                    let slot = Arc::clone(&slot);
                    thread::spawn(move || drop(slot.get()))
                })
                .collect();
            drop(slot.take());
            for hit in hits {
                hit.join().expect("a hit");
            }
            assert_eq!(live.load(SeqCst), 0, "a removed value outlived the calls");
            assert!(slot.get().is_none() && slot.take().is_none());
        });
    }

    /// A hit racing a removal, then the slot dropped: the value is dropped exactly once.
    #[test]
    fn the_value_is_dropped_once() {
        loom::model(|| {
            let live = Arc::new(AtomicIsize::new(1));
            let slot = Arc::new(Slot::new(Counted(Arc::clone(&live))));
            let hit = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.get().is_some())
            };
            let taken = slot.take();
            let cloned = hit.join().expect("a hit");
            drop(taken);
            assert_eq!(live.load(SeqCst), 0);
            drop(slot);
            assert_eq!(live.load(SeqCst), 0, "dropped twice");
            let _ = cloned;
        });
    }
}

#[cfg(all(test, not(ttl_cached_loom)))]
mod tests {
    use super::Slot;
    use crate::engine::counted::{Counted, LIVE, ONE_AT_A_TIME};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    #[test]
    fn get_clones_take_moves_out_once_and_drop_drops_what_is_left() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let slot = Slot::new(Counted::new(7));
        assert_eq!(slot.get().map(|v| v.0), Some(7));
        assert_eq!(LIVE.load(SeqCst), 1);
        let taken = slot.take().expect("the first take moves the value out");
        assert!(slot.take().is_none() && slot.get().is_none());
        drop(taken);
        assert_eq!(LIVE.load(SeqCst), 0);
        drop(slot);
        assert_eq!(LIVE.load(SeqCst), 0, "dropped twice");
        drop(Slot::new(Counted::new(8)));
        assert_eq!(LIVE.load(SeqCst), 0, "a slot never taken drops its value");
    }

    /// A panicking `clone` still leaves the slot: the removal after it moves the value out.
    #[test]
    fn a_panicking_clone_leaves_the_slot() {
        #[derive(Debug)]
        struct Bad;
        impl Clone for Bad {
            fn clone(&self) -> Self {
                panic!("clone refused")
            }
        }
        let slot = Slot::new(Bad);
        let hit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| slot.get()));
        assert!(hit.is_err());
        assert!(slot.take().is_some(), "the panicking hit left");
    }

    /// Hits on 3 threads race removals of fresh slots: every removed value is gone once the
    /// removal and the hits racing it returned.
    #[test]
    fn removals_racing_hits_leave_nothing_alive() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        const ROUNDS: usize = 4_000;
        let current = Arc::new(std::sync::RwLock::new(Arc::new(Slot::new(Counted::new(0)))));
        let round = Arc::new(AtomicUsize::new(0));
        let hits = Arc::new(AtomicUsize::new(0));
        let hitters: Vec<_> = (0..3)
            .map(|_| {
                let (current, round, hits) = (current.clone(), round.clone(), hits.clone());
                std::thread::spawn(move || {
                    while round.load(SeqCst) < ROUNDS {
                        let slot = Arc::clone(&current.read().expect("not poisoned"));
                        for _ in 0..8 {
                            if let Some(v) = slot.get() {
                                assert!(v.0 <= ROUNDS as u64);
                                hits.fetch_add(1, SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        for n in 1..=ROUNDS {
            let old = std::mem::replace(
                &mut *current.write().expect("not poisoned"),
                Arc::new(Slot::new(Counted::new(n as u64))),
            );
            // Hits may still hold `old`: its value must go when they leave, not when the
            // last `Arc` of the slot does.
            drop(old.take());
            round.store(n, SeqCst);
            std::thread::yield_now();
            // `old`'s value is dropped, or a hit cloning it is about to drop it: at most the
            // current value, the hitters' clones, and one value left to a hit per hitter.
            assert!(LIVE.load(SeqCst) <= 1 + 3 + 3, "live {}", LIVE.load(SeqCst));
        }
        for h in hitters {
            h.join().expect("a hitter");
        }
        drop(current);
        assert_eq!(LIVE.load(SeqCst), 0, "every value dropped once");
        assert!(hits.load(SeqCst) > 0);
    }
}

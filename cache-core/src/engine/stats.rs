//! A cache's counters, read into the public [`CacheStats`](crate::CacheStats) snapshot by
//! `snapshot.rs`.
//!
//! Every counter but `hits` sits on a slow path (a fetch, an eviction, an invalidation) and is a
//! plain relaxed atomic. `hits` is bumped on every hit, from every thread: one shared atomic there
//! would make the hottest path of the cache bounce a cache line between cores, so it is striped
//! over cache-line-padded cells chosen by a per-thread index and summed when read.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Threads that get a cell of their own; later threads share one more, atomically.
const OWNED_STRIPES: usize = 32;

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// A counter bumped from many threads at once. Each of the first [`OWNED_STRIPES`] threads of
/// the process owns a cache-line-padded cell: as its only writer it bumps it with a plain load
/// and store, no locked instruction (half the cost of a hit otherwise goes to the `lock xadd`).
/// Threads beyond those share one extra cell, bumped atomically.
pub(crate) struct StripedCounter {
    cells: [Padded; OWNED_STRIPES + 1],
}

impl StripedCounter {
    pub(crate) fn new() -> Self {
        Self {
            cells: std::array::from_fn(|_| Padded::default()),
        }
    }

    #[inline]
    pub(crate) fn incr(&self) {
        // One compare on the hit path: a thread without a cell yet, or without one of its own,
        // has an index past the owned cells.
        let own = STRIPE.with(Cell::get);
        if own < OWNED_STRIPES {
            // The only writer of this cell: no update can be lost between the two.
            let cell = &self.cells[own].0;
            cell.store(cell.load(Relaxed) + 1, Relaxed);
        } else {
            self.incr_unowned();
        }
    }

    #[cold]
    #[inline(never)]
    fn incr_unowned(&self) {
        match stripe() {
            Some(own) => {
                let cell = &self.cells[own].0;
                cell.store(cell.load(Relaxed) + 1, Relaxed);
            }
            None => {
                self.cells[OWNED_STRIPES].0.fetch_add(1, Relaxed);
            }
        }
    }

    pub(crate) fn sum(&self) -> u64 {
        self.cells.iter().map(|c| c.0.load(Relaxed)).sum()
    }
}

/// This thread's own cell, if it got one. A cell has one writer at a time: a thread holds its
/// cell until it exits, then hands it back for a later thread (so a process that keeps
/// replacing threads, a blocking pool or a benchmark harness, still gives each live thread a
/// cell of its own).
#[inline]
fn stripe() -> Option<usize> {
    STRIPE.with(|s| {
        let mut i = s.get();
        if i == UNASSIGNED {
            i = claim_stripe();
            s.set(i);
        }
        (i != SHARED).then_some(i)
    })
}

thread_local! {
    /// This thread's cell, [`UNASSIGNED`] or [`SHARED`].
    static STRIPE: Cell<usize> = const { Cell::new(UNASSIGNED) };
}

const UNASSIGNED: usize = usize::MAX;
const SHARED: usize = usize::MAX - 1;

/// Cells handed back by threads that exited.
static FREE_STRIPES: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// A cell for this thread: one handed back, else a new one, else [`SHARED`]. Registers the
/// hand-back for when the thread exits.
#[cold]
fn claim_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    /// Hands the thread's cell back when the thread's locals are destroyed.
    struct Release(usize);
    impl Drop for Release {
        fn drop(&mut self) {
            // Whatever this thread still bumps while exiting goes to the shared cell: the
            // cell is about to have a new owner.
            let _ = STRIPE.try_with(|s| s.set(SHARED));
            // A poisoned lock only means a thread panicked while pushing; the list is valid.
            FREE_STRIPES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.0);
        }
    }
    thread_local! {
        static RELEASE: std::cell::RefCell<Option<Release>> = const { std::cell::RefCell::new(None) };
    }
    let reused = FREE_STRIPES.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let i = reused.unwrap_or_else(|| NEXT.fetch_add(1, Relaxed));
    if i >= OWNED_STRIPES {
        return SHARED;
    }
    // During thread exit (a destructor that hits a cache) the hand-back cannot be registered:
    // return the cell at once and count on the shared cell.
    if RELEASE
        .try_with(|r| *r.borrow_mut() = Some(Release(i)))
        .is_err()
    {
        FREE_STRIPES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(i);
        return SHARED;
    }
    i
}

/// All counters of one cache.
pub(crate) struct Counters {
    pub(crate) hits: StripedCounter,
    pub(crate) misses: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) inserts: AtomicU64,
    pub(crate) evicted_expired: AtomicU64,
    pub(crate) evicted_capacity: AtomicU64,
    pub(crate) invalidated: AtomicU64,
    pub(crate) stale_served: AtomicU64,
    pub(crate) refreshes_started: AtomicU64,
    pub(crate) refreshes_failed: AtomicU64,
    pub(crate) refreshes_in_flight: AtomicU64,
    pub(crate) stale_on_error: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) retry_hints: AtomicU64,
    pub(crate) revoked: AtomicU64,
    pub(crate) group_invalidations: AtomicU64,
    pub(crate) key_invalidations: AtomicU64,
    pub(crate) clears: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) soft_timeouts: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            hits: StripedCounter::new(),
            misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evicted_expired: AtomicU64::new(0),
            evicted_capacity: AtomicU64::new(0),
            invalidated: AtomicU64::new(0),
            stale_served: AtomicU64::new(0),
            refreshes_started: AtomicU64::new(0),
            refreshes_failed: AtomicU64::new(0),
            refreshes_in_flight: AtomicU64::new(0),
            stale_on_error: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            retry_hints: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
            group_invalidations: AtomicU64::new(0),
            key_invalidations: AtomicU64::new(0),
            clears: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            soft_timeouts: AtomicU64::new(0),
        }
    }
}

/// Bumps a slow-path counter.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    if by > 0 {
        counter.fetch_add(by, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::{stripe, StripedCounter, OWNED_STRIPES};

    #[test]
    fn threads_that_exit_hand_their_cell_to_later_threads() {
        // Far more threads than cells, one after another: each still gets a cell of its own.
        for n in 0..OWNED_STRIPES * 3 {
            let own = std::thread::spawn(stripe).join().unwrap();
            assert!(own.is_some(), "thread {n} got no cell of its own");
        }
    }

    #[test]
    fn no_bump_is_lost_while_cells_change_hands() {
        let counter = StripedCounter::new();
        for _ in 0..10 {
            std::thread::scope(|s| {
                for _ in 0..8 {
                    s.spawn(|| {
                        for _ in 0..10_000 {
                            counter.incr();
                        }
                    });
                }
            });
        }
        assert_eq!(counter.sum(), 10 * 8 * 10_000);
    }
}

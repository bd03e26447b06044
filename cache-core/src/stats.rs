//! Counters behind [`CacheStats`].
//!
//! Every counter but `hits` sits on a slow path (a fetch, an eviction, an invalidation) and is a
//! plain relaxed atomic. `hits` is bumped on every hit, from every thread: one shared atomic there
//! would make the hottest path of the cache bounce a cache line between cores, so it is striped
//! over cache-line-padded cells chosen by a per-thread index and summed when read.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A point-in-time snapshot of a cache's counters.
///
/// Counters only grow; take two snapshots and subtract to measure an interval. Under concurrent
/// use the fields are read one after another, so a snapshot is not atomic as a whole.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::{CacheStats, TtlCache};
/// use std::time::Duration;
///
/// let cache: TtlCache<String, u32, u64> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// cache.get_with("user-1", &7, || async { 42 }).await; // miss: runs the fetch
/// cache.get_with("user-1", &7, || async { 0 }).await; // hit
///
/// let stats: CacheStats = cache.stats();
/// assert_eq!((stats.hits, stats.misses, stats.inserts), (1, 1, 1));
/// assert_eq!(stats.hit_ratio(), 0.5);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CacheStats {
    /// Calls answered from a live cached entry.
    pub hits: u64,
    /// Calls that ran the fetch themselves (the leader of a flight), refreshes included.
    pub misses: u64,
    /// Calls that waited for another caller's fetch and received its value.
    pub coalesced: u64,
    /// Values stored in the cache.
    pub inserts: u64,
    /// Entries removed because their TTL had passed.
    pub evicted_expired: u64,
    /// Live entries removed to stay within the capacity.
    pub evicted_capacity: u64,
    /// Entries removed by `invalidate`, `invalidate_group` or `clear`, or by a refresh of
    /// their key (which replaces them).
    pub invalidated: u64,
    /// Calls answered with an expired value inside the stale-while-revalidate window
    /// ([`CacheBuilder::stale_while_revalidate`](crate::CacheBuilder::stale_while_revalidate)).
    pub stale_served: u64,
    /// Background refreshes started by a call served stale.
    pub refreshes_started: u64,
    /// Background refreshes that ended in an `Err` or a panic (nothing was stored).
    pub refreshes_failed: u64,
    /// Background refreshes running when the snapshot was taken: a gauge, not a counter
    /// ([`since`](Self::since) keeps the later value).
    pub refreshes_in_flight: u64,
    /// Fetches whose `Err` or panic was papered over with the expired value inside the
    /// stale-if-error window ([`CacheBuilder::stale_if_error`](crate::CacheBuilder::stale_if_error)):
    /// the callers received the stale value, and nothing was stored.
    pub stale_on_error: u64,
}

impl CacheStats {
    /// The counts between an earlier snapshot and this one (`self - earlier`); see also the
    /// `-` operator.
    ///
    /// ```
    /// use cache_core::CacheStats;
    /// let before = CacheStats { hits: 10, misses: 2, ..Default::default() };
    /// let after = CacheStats { hits: 15, misses: 3, ..Default::default() };
    /// assert_eq!(after.since(&before), CacheStats { hits: 5, misses: 1, ..Default::default() });
    /// assert_eq!(after - before, after.since(&before));
    /// ```
    #[must_use]
    pub fn since(&self, earlier: &CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits.saturating_sub(earlier.hits),
            misses: self.misses.saturating_sub(earlier.misses),
            coalesced: self.coalesced.saturating_sub(earlier.coalesced),
            inserts: self.inserts.saturating_sub(earlier.inserts),
            evicted_expired: self.evicted_expired.saturating_sub(earlier.evicted_expired),
            evicted_capacity: self
                .evicted_capacity
                .saturating_sub(earlier.evicted_capacity),
            invalidated: self.invalidated.saturating_sub(earlier.invalidated),
            stale_served: self.stale_served.saturating_sub(earlier.stale_served),
            refreshes_started: self
                .refreshes_started
                .saturating_sub(earlier.refreshes_started),
            refreshes_failed: self
                .refreshes_failed
                .saturating_sub(earlier.refreshes_failed),
            refreshes_in_flight: self.refreshes_in_flight,
            stale_on_error: self.stale_on_error.saturating_sub(earlier.stale_on_error),
        }
    }

    /// Calls answered without a fetch of their own, `(hits + coalesced) / calls`: the share of
    /// calls that did not reach the upstream. `0.0` before the first call.
    ///
    /// ```
    /// let stats = cache_core::CacheStats { hits: 2, coalesced: 1, misses: 1, ..Default::default() };
    /// assert_eq!(stats.served_without_fetch_ratio(), 0.75);
    /// ```
    #[must_use]
    pub fn served_without_fetch_ratio(&self) -> f64 {
        let calls = self.hits + self.misses + self.coalesced;
        if calls == 0 {
            0.0
        } else {
            // Precision loss only past 2^53 calls, far beyond any snapshot worth a ratio.
            #[allow(clippy::cast_precision_loss)]
            let ratio = (self.hits + self.coalesced) as f64 / calls as f64;
            ratio
        }
    }

    /// `hits / (hits + misses + coalesced)`: calls answered from a stored entry. Coalesced calls
    /// (answered by another caller's fetch) count as calls but not as hits; see
    /// [`served_without_fetch_ratio`](Self::served_without_fetch_ratio) for the share of calls
    /// that did not reach the upstream. `0.0` before the first call.
    ///
    /// ```
    /// let stats = cache_core::CacheStats { hits: 3, misses: 1, ..Default::default() };
    /// assert_eq!(stats.hit_ratio(), 0.75);
    /// ```
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        let calls = self.hits + self.misses + self.coalesced;
        if calls == 0 {
            0.0
        } else {
            // Precision loss only past 2^53 calls, far beyond any snapshot worth a ratio.
            #[allow(clippy::cast_precision_loss)]
            let ratio = self.hits as f64 / calls as f64;
            ratio
        }
    }
}

/// `later - earlier`, counter by counter (saturating); the same as [`CacheStats::since`].
///
/// ```
/// use cache_core::CacheStats;
/// let delta = CacheStats { hits: 5, ..Default::default() } - CacheStats { hits: 2, ..Default::default() };
/// assert_eq!(delta.hits, 3);
/// ```
impl std::ops::Sub for CacheStats {
    type Output = CacheStats;
    fn sub(self, earlier: CacheStats) -> CacheStats {
        self.since(&earlier)
    }
}

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
        match stripe() {
            Some(own) => {
                // The only writer of this cell: no update can be lost between the two.
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
        }
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.sum(),
            misses: self.misses.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            inserts: self.inserts.load(Relaxed),
            evicted_expired: self.evicted_expired.load(Relaxed),
            evicted_capacity: self.evicted_capacity.load(Relaxed),
            invalidated: self.invalidated.load(Relaxed),
            stale_served: self.stale_served.load(Relaxed),
            refreshes_started: self.refreshes_started.load(Relaxed),
            refreshes_failed: self.refreshes_failed.load(Relaxed),
            refreshes_in_flight: self.refreshes_in_flight.load(Relaxed),
            stale_on_error: self.stale_on_error.load(Relaxed),
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

//! Which caches exist (feature `metrics`), for the metrics' `report` (`metrics/mod.rs`) to read: every `#[ttl_cached]` function's
//! cache once it is made (its handle is a `static`, never dropped), and every
//! [`TtlCache`](crate::TtlCache) and [`FlatCache`](crate::FlatCache) built (held weakly: a
//! dropped cache leaves the registry as it is dropped, its counters kept under its name).
//!
//! Enrolling happens when a cache is made, never on a hit or a miss. Kept here, beside the
//! cache, so that the caches and the api enroll with a layer below them (a cache's handle
//! enrolls as a [`Source`] it implements) and the metrics, above, only read.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::{Core, Inner};
use crate::engine::snapshot::CacheStats;

/// What a report reads from one cache.
pub(crate) trait Source: Send + Sync {
    fn name(&self) -> &str;
    fn stats(&self) -> CacheStats;
    /// Entries stored.
    fn entries(&self) -> usize;
    /// Upstream fetches running (one per flight).
    fn fetches_in_flight(&self) -> usize;
    /// What its shared tier did, if it has one (in the order of `tier::TIER_EVENTS`).
    #[cfg(feature = "redis-tier")]
    fn tier_counts(&self) -> Option<crate::cache::tier::TierCounts>;
}

enum Enrolled {
    /// A `#[ttl_cached]` function's cache: its handle lives as long as the process.
    Function(&'static dyn Source),
    /// A built cache, and its name: when it is dropped, its counters are kept under that
    /// name ([`retire`]), so that the name's counters do not go back.
    Built {
        cache: Weak<dyn Source>,
        name: String,
    },
}

/// What the dropped caches of one name counted.
#[derive(Default)]
struct Retired {
    stats: CacheStats,
    #[cfg(feature = "redis-tier")]
    tier: Option<crate::cache::tier::TierCounts>,
}

/// The sum of two tiers' counts, either absent.
#[cfg(feature = "redis-tier")]
fn add_tier(
    a: Option<crate::cache::tier::TierCounts>,
    b: Option<crate::cache::tier::TierCounts>,
) -> Option<crate::cache::tier::TierCounts> {
    match (a, b) {
        (Some(a), Some(b)) => Some(std::array::from_fn(|i| a[i] + b[i])),
        (a, b) => a.or(b),
    }
}

#[derive(Default)]
struct Registry {
    caches: Vec<Enrolled>,
    /// The counters of the dropped caches, by name, as they were when dropped.
    retired: BTreeMap<String, Retired>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    // Poisoned only by a panic while pushing or folding plain values: the registry is valid.
    let mut guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Registry::default))
}

/// A `#[ttl_cached]` function's cache was made.
pub(crate) fn enroll_function(handle: &'static dyn Source) {
    with_registry(|r| r.caches.push(Enrolled::Function(handle)));
}

/// A cache was built.
pub(crate) fn enroll_built<S: Source + 'static>(cache: &Arc<S>) {
    let name = cache.name().to_owned();
    let cache: Weak<dyn Source> = Arc::downgrade(cache) as Weak<S>;
    with_registry(|r| {
        r.caches.push(Enrolled::Built { cache, name });
    });
}

/// A built cache at `address` is being dropped, with these counters: it leaves the registry,
/// and its counters stay under its name. Nothing for a cache that was not enrolled.
fn retire(
    address: usize,
    stats: CacheStats,
    #[cfg(feature = "redis-tier")] tier: Option<crate::cache::tier::TierCounts>,
) {
    with_registry(|r| {
        let found = r.caches.iter().position(|enrolled| match enrolled {
            Enrolled::Built { cache, .. } => cache.as_ptr().cast::<()>() as usize == address,
            Enrolled::Function(_) => false,
        });
        let Some(found) = found else { return };
        if let Enrolled::Built { name, .. } = r.caches.swap_remove(found) {
            // Nothing runs any more: only the counters are kept.
            let stats = CacheStats {
                refreshes_in_flight: 0,
                ..stats
            };
            let kept = r.retired.entry(name).or_default();
            kept.stats = kept.stats + stats;
            #[cfg(feature = "redis-tier")]
            {
                kept.tier = add_tier(kept.tier, tier);
            }
        }
    });
}

/// What one name reports: the sum over the live caches of that name (a name is one cache,
/// unless a program builds several `TtlCache`s under one name), plus the counters the dropped
/// ones had when they were dropped.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub(crate) stats: CacheStats,
    pub(crate) entries: usize,
    pub(crate) fetches_in_flight: usize,
    /// The shared tier's counts, where any cache of the name has one.
    #[cfg(feature = "redis-tier")]
    pub(crate) tier: Option<crate::cache::tier::TierCounts>,
}

/// Every name's reading, in name order. Read under the registry's lock: reading a cache's
/// counters and sizes runs no user code and takes no other lock of this crate.
pub(crate) fn read() -> BTreeMap<String, Reading> {
    with_registry(|r| {
        let mut readings: BTreeMap<String, Reading> = BTreeMap::new();
        for enrolled in &r.caches {
            let (name, stats, entries, in_flight) = match enrolled {
                Enrolled::Function(handle) => (
                    handle.name().to_owned(),
                    handle.stats(),
                    handle.entries(),
                    handle.fetches_in_flight(),
                ),
                Enrolled::Built { cache, name } => match cache.upgrade() {
                    Some(cache) => (
                        name.clone(),
                        cache.stats(),
                        cache.entries(),
                        cache.fetches_in_flight(),
                    ),
                    // Being dropped: `retire` is about to take it out.
                    None => continue,
                },
            };
            #[cfg(feature = "redis-tier")]
            let tier = match enrolled {
                Enrolled::Function(handle) => handle.tier_counts(),
                Enrolled::Built { cache, .. } => cache.upgrade().and_then(|c| c.tier_counts()),
            };
            let reading = readings.entry(name).or_default();
            reading.stats = reading.stats + stats;
            reading.entries += entries;
            reading.fetches_in_flight += in_flight;
            #[cfg(feature = "redis-tier")]
            {
                reading.tier = add_tier(reading.tier, tier);
            }
        }
        for (name, retired) in &r.retired {
            let reading = readings.entry(name.clone()).or_default();
            reading.stats = reading.stats + retired.stats;
            #[cfg(feature = "redis-tier")]
            {
                reading.tier = add_tier(reading.tier, retired.tier);
            }
        }
        readings
    })
}

impl<G, K, V> Source for Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        Core::name(self)
    }
    fn stats(&self) -> CacheStats {
        CacheStats::of(&self.store.counters)
    }
    fn entries(&self) -> usize {
        self.len()
    }
    fn fetches_in_flight(&self) -> usize {
        self.flights.len()
    }
    #[cfg(feature = "redis-tier")]
    fn tier_counts(&self) -> Option<crate::cache::tier::TierCounts> {
        Some(self.tier.get()?.counters.counts())
    }
}

/// A built cache leaves the registry as it is dropped (its last `Arc` gone), its counters kept
/// under its name: called by `Inner`'s `Drop`. A `#[ttl_cached]` function's cache is never
/// dropped.
pub(crate) fn dropped<G, K, V>(cache: &Inner<G, K, V>)
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    retire(
        std::ptr::from_ref(cache).cast::<()>() as usize,
        CacheStats::of(&cache.store.counters),
        #[cfg(feature = "redis-tier")]
        cache.tier.get().map(|tier| tier.counters.counts()),
    );
}

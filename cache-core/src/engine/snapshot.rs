//! [`CacheStats`]: the public snapshot of a cache's counters (`stats.rs`), beside them so that
//! every layer may read one.

use std::sync::atomic::Ordering::Relaxed;

use crate::engine::stats::Counters;

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
    /// Calls answered with the expired value without calling the upstream, because a fetch of
    /// their key had just failed: the fail-safe throttle
    /// ([`CacheBuilder::fail_safe_throttle`](crate::CacheBuilder::fail_safe_throttle)), an
    /// error's retry hint, or a failed background refresh's back-off.
    pub throttled: u64,
    /// Failed fetches whose retry hint ([`ErrorClass::RetryAfter`](crate::ErrorClass::RetryAfter),
    /// [`RetryAfter`](crate::RetryAfter)) made the upstream be left alone for longer than the
    /// throttle.
    pub retry_hints: u64,
    /// Failed fetches whose error revoked ([`ErrorClass::Revoke`](crate::ErrorClass::Revoke)):
    /// each invalidated its key's group.
    pub revoked: u64,
    /// Group invalidations made (`invalidate_group`, `invalidate_<fn>`, a scope's, and those
    /// another replica made, applied here), whether or not they removed anything.
    pub group_invalidations: u64,
    /// Key invalidations made (`invalidate`, `invalidate_<fn>_key`, and those another replica
    /// made, applied here), whether or not they removed anything.
    pub key_invalidations: u64,
    /// Clears made (`clear`, and those another replica made or a backplane gap caused).
    pub clears: u64,
    /// Fetches dropped past the fetch timeout
    /// ([`CacheBuilder::fetch_timeout`](crate::CacheBuilder::fetch_timeout), `timeout = ".."`):
    /// their callers got [`FetchTimedOut`](crate::FetchTimedOut) (or the expired value).
    pub timeouts: u64,
    /// Callers answered with the expired value past the soft timeout
    /// ([`CacheBuilder::soft_timeout`](crate::CacheBuilder::soft_timeout), `soft_timeout = ".."`)
    /// while their fetch went on in the background.
    pub soft_timeouts: u64,
}

impl CacheStats {
    /// The counters of a cache, read one after another.
    pub(crate) fn of(counters: &Counters) -> Self {
        Self {
            hits: counters.hits.sum(),
            misses: counters.misses.load(Relaxed),
            coalesced: counters.coalesced.load(Relaxed),
            inserts: counters.inserts.load(Relaxed),
            evicted_expired: counters.evicted_expired.load(Relaxed),
            evicted_capacity: counters.evicted_capacity.load(Relaxed),
            invalidated: counters.invalidated.load(Relaxed),
            stale_served: counters.stale_served.load(Relaxed),
            refreshes_started: counters.refreshes_started.load(Relaxed),
            refreshes_failed: counters.refreshes_failed.load(Relaxed),
            refreshes_in_flight: counters.refreshes_in_flight.load(Relaxed),
            stale_on_error: counters.stale_on_error.load(Relaxed),
            throttled: counters.throttled.load(Relaxed),
            retry_hints: counters.retry_hints.load(Relaxed),
            revoked: counters.revoked.load(Relaxed),
            group_invalidations: counters.group_invalidations.load(Relaxed),
            key_invalidations: counters.key_invalidations.load(Relaxed),
            clears: counters.clears.load(Relaxed),
            timeouts: counters.timeouts.load(Relaxed),
            soft_timeouts: counters.soft_timeouts.load(Relaxed),
        }
    }

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
            throttled: self.throttled.saturating_sub(earlier.throttled),
            retry_hints: self.retry_hints.saturating_sub(earlier.retry_hints),
            revoked: self.revoked.saturating_sub(earlier.revoked),
            group_invalidations: self
                .group_invalidations
                .saturating_sub(earlier.group_invalidations),
            key_invalidations: self
                .key_invalidations
                .saturating_sub(earlier.key_invalidations),
            clears: self.clears.saturating_sub(earlier.clears),
            timeouts: self.timeouts.saturating_sub(earlier.timeouts),
            soft_timeouts: self.soft_timeouts.saturating_sub(earlier.soft_timeouts),
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

/// Counter by counter (the `refreshes_in_flight` gauges add up too): what two caches, or one
/// cache and what an earlier one of its name counted, counted together.
///
/// ```
/// use cache_core::CacheStats;
/// let a = CacheStats { hits: 2, misses: 1, ..CacheStats::default() };
/// let b = CacheStats { hits: 3, ..CacheStats::default() };
/// assert_eq!((a + b).hits, 5);
/// assert_eq!((a + b).misses, 1);
/// ```
impl std::ops::Add for CacheStats {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            hits: self.hits + other.hits,
            misses: self.misses + other.misses,
            coalesced: self.coalesced + other.coalesced,
            inserts: self.inserts + other.inserts,
            evicted_expired: self.evicted_expired + other.evicted_expired,
            evicted_capacity: self.evicted_capacity + other.evicted_capacity,
            invalidated: self.invalidated + other.invalidated,
            stale_served: self.stale_served + other.stale_served,
            refreshes_started: self.refreshes_started + other.refreshes_started,
            refreshes_failed: self.refreshes_failed + other.refreshes_failed,
            refreshes_in_flight: self.refreshes_in_flight + other.refreshes_in_flight,
            stale_on_error: self.stale_on_error + other.stale_on_error,
            throttled: self.throttled + other.throttled,
            retry_hints: self.retry_hints + other.retry_hints,
            revoked: self.revoked + other.revoked,
            group_invalidations: self.group_invalidations + other.group_invalidations,
            key_invalidations: self.key_invalidations + other.key_invalidations,
            clears: self.clears + other.clears,
            timeouts: self.timeouts + other.timeouts,
            soft_timeouts: self.soft_timeouts + other.soft_timeouts,
        }
    }
}

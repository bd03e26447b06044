//! [`TtlCache`]'s configuration and counters: read at any time, and the TTL and capacity
//! changed at run time.

use std::hash::Hash;
use std::time::Duration;

use super::TtlCache;
use crate::api::builder::BuildError;
use crate::engine::snapshot::CacheStats;

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The number of stored entries (expired ones included until they are removed, and so
    /// entries kept for a stale window after their TTL). Never above
    /// [`capacity`](Self::capacity).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no entry is stored.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the counters; see [`CacheStats`].
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.stats(), cache_core::CacheStats::default());
    /// ```
    pub fn stats(&self) -> CacheStats {
        CacheStats::of(&self.inner.store.counters)
    }

    /// The name given at build time.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).name("acl").build().unwrap();
    /// assert_eq!(cache.name(), "acl");
    /// ```
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// How long a value stays fresh after it was stored.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(9)).build().unwrap();
    /// assert_eq!(cache.ttl(), Duration::from_secs(9));
    /// ```
    pub fn ttl(&self) -> Duration {
        self.inner.ttl()
    }

    /// Changes the TTL of the values stored from now on; values already stored keep the expiry
    /// they were stored with. Meant for configuration read at start-up, but safe at any time.
    /// A TTL above about 584 years is kept as 584 years.
    ///
    /// Lowering it has a cost for as long as the old TTL: values stored before may then expire
    /// after values stored later, so [`purge_expired`](Self::purge_expired) looks at every
    /// entry instead of the oldest ones only (an expired entry is never served either way).
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroTtl`] for a zero TTL, which would make a cache that stores nothing; the
    /// TTL is then left as it was.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::{BuildError, TtlCache};
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("u", &1, || async { 1 }).await; // stored for 60 s
    /// cache.set_ttl(Duration::from_millis(50)).unwrap();
    /// cache.get_with("u", &2, || async { 2 }).await; // stored for 50 ms
    ///
    /// tokio::time::sleep(Duration::from_millis(60)).await;
    /// assert_eq!(cache.get("u", &1), Some(1));
    /// assert_eq!(cache.get("u", &2), None);
    /// assert_eq!(cache.set_ttl(Duration::ZERO), Err(BuildError::ZeroTtl));
    /// assert_eq!(cache.ttl(), Duration::from_millis(50));
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: Duration) -> Result<(), BuildError> {
        if ttl.is_zero() {
            return Err(BuildError::ZeroTtl);
        }
        self.inner.set_ttl(ttl);
        Ok(())
    }

    /// The most entries stored at once.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.capacity(), cache_core::DEFAULT_CAPACITY);
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Changes the most entries stored at once. Raised, it lets later stores keep more entries.
    /// Lowered below the number stored, it evicts down to the new capacity before it returns
    /// (expired and invalidated entries first, then by the usual eviction order), and drops the
    /// evicted values, so that `len() <= capacity()` holds when it returns; stores running
    /// meanwhile already respect the new bound. Meant for configuration read at start-up, but
    /// safe at any time.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`] for a zero capacity, which would make a cache that stores
    /// nothing; the capacity is then left as it was.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::{BuildError, TtlCache};
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).capacity(100).build().unwrap();
    /// for n in 0..10 {
    ///     cache.get_with("u", &n, || async move { u64::from(n) }).await;
    /// }
    /// cache.set_capacity(4).unwrap();
    /// assert_eq!(cache.len(), 4); // evicted down at once
    /// assert_eq!(cache.stats().evicted_capacity, 6);
    /// assert_eq!(cache.set_capacity(0), Err(BuildError::ZeroCapacity));
    /// assert_eq!(cache.capacity(), 4);
    /// # }
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), BuildError> {
        if capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        self.inner.set_capacity(capacity);
        Ok(())
    }

    /// The stale-while-revalidate window given at build time (zero if none).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.stale_while_revalidate(), Duration::ZERO);
    /// ```
    pub fn stale_while_revalidate(&self) -> Duration {
        self.inner.stale.revalidate
    }

    /// The stale-if-error window given at build time (zero if none).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.stale_if_error(), Duration::ZERO);
    /// ```
    pub fn stale_if_error(&self) -> Duration {
        self.inner.stale.if_error
    }

    /// The TTL jitter given at build time (`0.0` if none); see
    /// [`CacheBuilder::jitter`](crate::CacheBuilder::jitter).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.jitter(), 0.0);
    /// ```
    pub fn jitter(&self) -> f64 {
        self.inner.jitter.fraction()
    }

    /// Sizes of the internal maps `(entries, groups, flights)`, for tests that check memory is
    /// reclaimed. Not part of the API.
    #[doc(hidden)]
    pub fn __internal_sizes(&self) -> (usize, usize, usize) {
        self.inner.internal_sizes()
    }
}

//! [`FlatCache`]: a [`TtlCache`] whose keys have one part and no group, with moka's verbs.

use std::fmt;
use std::future::Future;
use std::hash::Hash;

use scc::Equivalent;

use crate::api::builder::{BuildError, CacheBuilder};
use crate::api::ttl_cache::TtlCache;
use crate::cache::invalidated::Invalidated;
use crate::engine::snapshot::CacheStats;
use crate::keys::borrowed::ToKey;

/// A cache keyed by one part `K`, with no group: a [`TtlCache<(), K, V>`](TtlCache) whose verbs
/// take the key alone, as moka's do. Every guarantee of [`TtlCache`] holds (single-flight
/// fetches, invalidation that wins over fetches in flight, exact TTL, bounded capacity), and
/// cloning is as cheap: clones share one cache.
///
/// The settings and the rarer verbs are on the [`TtlCache`] it wraps, through
/// [`as_ttl_cache`](Self::as_ttl_cache).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::FlatCache;
/// use std::time::Duration;
///
/// let tokens: FlatCache<String, String> =
///     FlatCache::builder().ttl(Duration::from_secs(300)).build_flat().unwrap();
/// let token = tokens.get_with("alice", || async { "token-1".to_string() }).await;
/// assert_eq!(token, "token-1");
/// assert_eq!(tokens.get("alice").as_deref(), Some("token-1"));
/// assert!(tokens.invalidate("alice").await);
/// assert_eq!(tokens.get("alice"), None);
/// # }
/// ```
pub struct FlatCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: TtlCache<(), K, V>,
}

impl<K, V> CacheBuilder<(), K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Builds a [`FlatCache`]. Errors as [`build`](CacheBuilder::build).
    ///
    /// # Errors
    ///
    /// [`BuildError::MissingTtl`], [`BuildError::ZeroTtl`] or [`BuildError::ZeroCapacity`].
    ///
    /// ```
    /// use cache_core::{BuildError, FlatCache};
    /// use std::time::Duration;
    ///
    /// let cache: FlatCache<u64, String> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).capacity(1_000).build_flat().unwrap();
    /// assert_eq!(cache.as_ttl_cache().capacity(), 1_000);
    /// let no_ttl = FlatCache::<u64, String>::builder().build_flat();
    /// assert_eq!(no_ttl.unwrap_err(), BuildError::MissingTtl);
    /// ```
    pub fn build_flat(self) -> Result<FlatCache<K, V>, BuildError> {
        self.build().map(FlatCache::from)
    }
}

impl<K, V> FlatCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Starts configuring a cache; finish with [`build_flat`](CacheBuilder::build_flat).
    ///
    /// ```
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(30)).build_flat().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn builder() -> CacheBuilder<(), K, V> {
        TtlCache::builder()
    }

    /// The cached value, or the value of `fetch`, stored for the TTL; see
    /// [`TtlCache::get_with`]. The key is borrowed (`&str` for `String`): a hit builds no key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// assert_eq!(cache.get_with("a", || async { 1 }).await, 1);
    /// assert_eq!(cache.get_with("a", || async { 2 }).await, 1); // a hit
    /// # }
    /// ```
    pub async fn get_with<Q, F, Fut>(&self, key: &Q, fetch: F) -> V
    where
        Q: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        self.cache.get_with(&(), key, fetch).await
    }

    /// The cached value, or the `Ok` value of `fetch`; an `Err` is returned to this caller and
    /// not stored; see [`TtlCache::try_get_with`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// let failed: Result<u64, &str> = cache.try_get_with("a", || async { Err("429") }).await;
    /// assert_eq!(failed, Err("429"));
    /// assert_eq!(cache.try_get_with("a", || async { Ok::<_, &str>(3) }).await, Ok(3));
    /// # }
    /// ```
    pub async fn try_get_with<Q, F, Fut, E>(&self, key: &Q, fetch: F) -> Result<V, E>
    where
        Q: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.cache.try_get_with(&(), key, fetch).await
    }

    /// The cached value, if any, without fetching; see [`TtlCache::get`].
    ///
    /// ```
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// assert_eq!(cache.get("a"), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        self.cache.get(&(), key)
    }

    /// Stores `value` under `key`, replacing what was there; see [`TtlCache::insert`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// cache.insert("a", 1).await;
    /// cache.insert("a", 2).await;
    /// assert_eq!(cache.get("a"), Some(2));
    /// # }
    /// ```
    pub async fn insert<Q>(&self, key: &Q, value: V)
    where
        Q: ?Sized + Hash + Equivalent<K> + ToKey<K>,
    {
        self.cache.insert(&(), key, value).await;
    }

    /// Runs `fetch` now, without reading the cache or joining a fetch that began before, and
    /// stores its value; see [`TtlCache::refresh`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// cache.get_with("a", || async { 1 }).await;
    /// assert_eq!(cache.refresh("a", || async { 2 }).await, 2);
    /// assert_eq!(cache.get("a"), Some(2));
    /// # }
    /// ```
    pub async fn refresh<Q, F, Fut>(&self, key: &Q, fetch: F) -> V
    where
        Q: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        self.cache.refresh(&(), key, fetch).await
    }

    /// Removes `key`'s entry and makes its fetch in flight unreadable and unstorable; see
    /// [`TtlCache::invalidate`]. The work is done in the call; `.await` yields whether an entry
    /// was removed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<String, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// cache.insert("a", 1).await;
    /// assert!(cache.invalidate("a").await);
    /// assert!(!cache.invalidate("a").await);
    /// # }
    /// ```
    pub fn invalidate<Q>(&self, key: &Q) -> Invalidated<bool>
    where
        Q: ?Sized + Hash + Equivalent<K> + ToKey<K>,
    {
        self.cache.invalidate(&(), key)
    }

    /// Removes every entry, race-free as [`TtlCache::clear`] (moka's `invalidate_all`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<u32, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// cache.insert(&1, 1).await;
    /// cache.insert(&2, 2).await;
    /// assert_eq!(cache.clear().await, 2);
    /// # }
    /// ```
    pub fn clear(&self) -> Invalidated<usize> {
        self.cache.clear()
    }

    /// The number of stored entries (expired ones count until they are swept).
    ///
    /// ```
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<u32, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no entry is stored.
    ///
    /// ```
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<u32, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Counters since the cache was built; see [`CacheStats`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<u32, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// cache.get_with(&1, || async { 1 }).await;
    /// cache.get_with(&1, || async { 1 }).await;
    /// assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
    /// # }
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The [`TtlCache`] underneath (group `()`), for the settings (`set_ttl`, `set_capacity`),
    /// `purge_expired`, and the verbs with no one-part form here (`try_get_with_shared`,
    /// `try_refresh`).
    ///
    /// ```
    /// # use cache_core::FlatCache;
    /// # use std::time::Duration;
    /// let cache: FlatCache<u32, u64> =
    ///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
    /// cache.as_ttl_cache().set_ttl(Duration::from_secs(5)).unwrap();
    /// assert_eq!(cache.as_ttl_cache().ttl(), Duration::from_secs(5));
    /// ```
    pub fn as_ttl_cache(&self) -> &TtlCache<(), K, V> {
        &self.cache
    }
}

/// Wraps a cache whose group is `()`.
///
/// ```
/// # use cache_core::{FlatCache, TtlCache};
/// # use std::time::Duration;
/// let grouped: TtlCache<(), String, u64> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// let flat = FlatCache::from(grouped.clone());
/// assert_eq!(flat.as_ttl_cache().name(), grouped.name());
/// ```
impl<K, V> From<TtlCache<(), K, V>> for FlatCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn from(cache: TtlCache<(), K, V>) -> Self {
        Self { cache }
    }
}

/// Another handle to the same cache, as [`TtlCache`]'s `Clone`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use cache_core::FlatCache;
/// # use std::time::Duration;
/// let cache: FlatCache<u32, u64> =
///     FlatCache::builder().ttl(Duration::from_secs(60)).build_flat().unwrap();
/// cache.clone().insert(&1, 10).await;
/// assert_eq!(cache.get(&1), Some(10));
/// # }
/// ```
impl<K, V> Clone for FlatCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
        }
    }
}

impl<K, V> fmt::Debug for FlatCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FlatCache").field(&self.cache).finish()
    }
}

//! [`TtlCache`]: the public cache type, a cheap handle on one cache's state, and its verbs.
//!
//! The verbs are split by what they do: this file has the type, its construction and the
//! get-or-fetch verbs; `refresh.rs` fetches or writes one key anew (`refresh`, `try_refresh`,
//! `insert`); `invalidation.rs` evicts (`invalidate_group`, `invalidate`, `clear`,
//! `purge_expired`); `stale.rs` serves stale while revalidating; `settings.rs` reads and
//! changes the configuration and the counters. Each verb is a thin call into the cache's
//! state ([`Inner`], `cache/`), which does the work.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use scc::Equivalent;

use crate::api::builder::{BuildError, CacheBuilder};
use crate::cache::Inner;
use crate::engine::policy::{Classified, Plain, TryRetry, TryShared};
use crate::keys::borrowed::ToKey;
use crate::keys::lookup::Pair;

mod invalidation;
mod refresh;
mod settings;
mod stale;

/// A concurrent, async, TTL-bounded cache keyed by a *group* part `G` and a *rest* part `K`,
/// with single-flight fetches and O(group) invalidation.
///
/// - **Get-or-fetch**: [`get_with`](Self::get_with), [`try_get_with`](Self::try_get_with) and
///   [`try_get_with_shared`](Self::try_get_with_shared) return a clone of the cached value or run
///   the fetch; concurrent misses for one key share one fetch. [`refresh`](Self::refresh) and
///   [`try_refresh`](Self::try_refresh) fetch one key anew.
/// - **Invalidation**: [`invalidate_group`](Self::invalidate_group),
///   [`invalidate`](Self::invalidate), [`clear`](Self::clear). A call that begins after one of
///   these returned never receives a value whose fetch began before it.
/// - **Bounds**: entries expire exactly `ttl` after they were stored (on tokio's clock with the
///   `test-util` feature, so tests can pause time); at most `capacity` entries are stored,
///   expired entries leaving first.
/// - **A shared handle**: cloning a `TtlCache` is cheap (one reference count) and every clone
///   is the same cache, so it can sit in an axum `State` or be moved into tasks without an
///   `Arc` of your own. The entries are dropped with the last clone.
///
/// For keys without a group, use [`FlatCache`](crate::FlatCache), the same cache with one-part
/// verbs (`get_with(key, fetch)`, `insert(key, value)`, `invalidate(key)`).
///
/// Keys are structured values, compared part by part, never joined into strings: group
/// `("a:b", "c")` and group `("a", "b:c")` are different groups. Lookups take borrowed forms
/// (`&str` for `String`), so a hit builds no owned key; for a tuple part such as a
/// `(String, String)` group, pass [`Borrowed`](crate::Borrowed)`((user, provider))` (a tuple of
/// `&str`, up to four parts) or a reference to the owned tuple.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::TtlCache;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// // group = (user, provider), rest = folder id
/// let cache: TtlCache<(String, String), String, Arc<Vec<String>>> = TtlCache::builder()
///     .ttl(Duration::from_secs(60))
///     .capacity(10_000)
///     .build()
///     .unwrap();
///
/// let group = ("u1".to_string(), "drive".to_string());
/// let listing = cache
///     .get_with(&group, "root", || async { Arc::new(vec!["docs".to_string()]) })
///     .await;
/// assert_eq!(listing[0], "docs");
///
/// // Credentials changed: drop everything cached for (u1, drive).
/// assert_eq!(cache.invalidate_group(&group).await, 1);
/// assert!(cache.get(&group, "root").is_none());
/// # }
/// ```
pub struct TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) inner: Arc<Inner<G, K, V>>,
}

impl<G, K, V> CacheBuilder<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Builds the cache.
    ///
    /// # Errors
    ///
    /// [`BuildError::MissingTtl`] if no TTL was set, [`BuildError::ZeroTtl`] for a zero TTL and
    /// [`BuildError::ZeroCapacity`] for a zero capacity: each would make a cache that silently
    /// stores nothing.
    ///
    /// ```
    /// use cache_core::{BuildError, TtlCache};
    /// use std::time::Duration;
    ///
    /// let zero = TtlCache::<u32, u32, u32>::builder().ttl(Duration::ZERO).build();
    /// assert_eq!(zero.unwrap_err(), BuildError::ZeroTtl);
    /// let missing = TtlCache::<u32, u32, u32>::builder().build();
    /// assert_eq!(missing.unwrap_err(), BuildError::MissingTtl);
    /// ```
    pub fn build(self) -> Result<TtlCache<G, K, V>, BuildError> {
        let inner = Arc::new(self.build_inner()?);
        #[cfg(feature = "metrics")]
        crate::cache::census::enroll_built(&inner);
        Ok(TtlCache { inner })
    }

    /// The cache's state alone: a `#[ttl_cached]` function's handle owns it directly, so a hit
    /// through the macro follows no `Arc`.
    pub(crate) fn build_inner(self) -> Result<Inner<G, K, V>, BuildError> {
        let (config, _tier) = self.config_and_tier()?;
        let inner = Inner::new(config);
        #[cfg(feature = "redis-tier")]
        if let Some(tier) = _tier {
            let _ = inner.tier.set(tier);
        }
        Ok(inner)
    }
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Starts configuring a cache; see [`CacheBuilder`].
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u64, String> =
    ///     TtlCache::builder().ttl(Duration::from_secs(30)).build().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn builder() -> CacheBuilder<G, K, V> {
        CacheBuilder::default()
    }

    /// Returns the value for `(group, key)`, running `fetch` on a miss and storing its result.
    ///
    /// Concurrent calls for the same key while `fetch` runs wait for it and receive a clone of
    /// its value. If the caller running `fetch` is cancelled, or `fetch` panics (the panic
    /// reaches that caller only), a waiting caller runs `fetch` in its place.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, String> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// let v = cache.get_with("alice", &1, || async { "profile".to_string() }).await;
    /// assert_eq!(v, "profile");
    /// # }
    /// ```
    pub async fn get_with<QG, QK, F, Fut>(&self, group: &QG, key: &QK, fetch: F) -> V
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let probe = Pair { group, rest: key };
        if let Some(value) = self.inner.lookup(&probe) {
            return value;
        }
        self.inner.miss(&probe, &Plain::<V>::NEW, fetch).await
    }

    /// Like [`get_with`](Self::get_with) for a fallible fetch: `Ok` values are stored, an `Err`
    /// is returned to the caller that ran the fetch and never stored. Callers that were waiting
    /// on a failed fetch retry it, one at a time; use
    /// [`try_get_with_shared`](Self::try_get_with_shared) to hand them the error instead.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// let err = cache.try_get_with("u", &1, || async { Err::<u64, _>("rate limited") }).await;
    /// assert_eq!(err, Err("rate limited"));
    /// assert!(cache.is_empty()); // errors are never stored
    /// # }
    /// ```
    pub async fn try_get_with<QG, QK, F, Fut, E>(
        &self,
        group: &QG,
        key: &QK,
        fetch: F,
    ) -> Result<V, E>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let probe = Pair { group, rest: key };
        if let Some(value) = self.inner.lookup(&probe) {
            return Ok(value);
        }
        self.inner.miss(&probe, &TryRetry::<V, E>::NEW, fetch).await
    }

    /// Like [`try_get_with`](Self::try_get_with), but the callers waiting on a fetch that fails
    /// receive a clone of its error (it is still not stored), so a stampede against a failing
    /// upstream makes one call, not one per waiter.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returned, to its caller and to the callers that waited on it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// let r = cache.try_get_with_shared("u", &1, || async { Ok::<_, String>(7) }).await;
    /// assert_eq!(r, Ok(7));
    /// # }
    /// ```
    pub async fn try_get_with_shared<QG, QK, F, Fut, E>(
        &self,
        group: &QG,
        key: &QK,
        fetch: F,
    ) -> Result<V, E>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Clone + Send + Sync + 'static,
    {
        let probe = Pair { group, rest: key };
        if let Some(value) = self.inner.lookup(&probe) {
            return Ok(value);
        }
        // Past the hit: the classifier's handle is cloned on a miss only.
        let policy = Classified {
            policy: TryShared::<V, E>::NEW,
            classify: self.inner.classify.clone(),
            timeout_error: self.inner.timeout_error.clone(),
        };
        self.inner.miss(&probe, &policy, fetch).await
    }

    /// Returns a clone of the live value for `(group, key)`, without fetching. Never blocks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.get("u", &1), None);
    /// cache.get_with("u", &1, || async { 5 }).await;
    /// assert_eq!(cache.get("u", &1), Some(5));
    /// # }
    /// ```
    #[inline]
    pub fn get<QG, QK>(&self, group: &QG, key: &QK) -> Option<V>
    where
        QG: ?Sized + Hash + Equivalent<G>,
        QK: ?Sized + Hash + Equivalent<K>,
    {
        self.inner.lookup(&Pair { group, rest: key })
    }
}

/// Another handle to the same cache: cheap (one reference count), and every clone sees and
/// changes the same entries, flights and settings.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use cache_core::TtlCache;
/// # use std::time::Duration;
/// let cache: TtlCache<String, u32, u64> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// let for_the_task = cache.clone();
/// tokio::spawn(async move { for_the_task.get_with("u", &1, || async { 7 }).await })
///     .await
///     .unwrap();
/// assert_eq!(cache.get("u", &1), Some(7));
/// # }
/// ```
impl<G, K, V> Clone for TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<G, K, V> fmt::Debug for TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("name", &self.name())
            .field("ttl", &self.ttl())
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

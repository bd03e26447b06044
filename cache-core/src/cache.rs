//! [`TtlCache`]: the runtime every `#[ttl_cached]` function stands on, and its public verbs.
//!
//! # How it fits together
//!
//! - [`store`](crate::store) holds the entries: a lock-free index, the capacity bound, eviction
//!   and expiry sweeping.
//! - [`groups`](crate::groups) maps a group key to its [`Group`](crate::group): a generation
//!   counter and the list of its stored nodes. Invalidating a group bumps the generation, which
//!   makes every value of the group that was stored or is being fetched unreadable at once, and
//!   removes the listed nodes: O(group size), whatever the cache size.
//! - [`flight`](crate::flight) is single-flight: one fetch per cold key. A flight records the
//!   stamp (group generation, cache epoch) its fetch began under; nobody joins a flight with an
//!   old stamp and its result is never stored, so a fetch that began before an invalidation can
//!   neither be served to a later call nor written back over newer state. A key invalidation
//!   takes the key's flight out of the flight map instead, leaving its siblings' alone.
//! - [`fetch`](crate::fetch) is the miss path that ties them together, and
//!   [`invalidation`](crate::invalidation) the protocol that makes the invalidation guarantee
//!   hold for fetches that began while an invalidation ran, with the [`fence`](crate::fence)s
//!   that cover exactly what each invalidation invalidates.
//!
//! Lock order, to stay deadlock-free: a flight entry may be held while touching the index, the
//! group index and the plain mutexes; an index entry is never held while taking a flight entry,
//! and the plain mutexes are innermost. Every lock is held for a synchronous section only, never
//! across an `.await` or user code (the fetch, a value's `Clone` or `Drop`), which is what makes
//! the synchronous scc calls safe on a single-threaded runtime.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::borrowed::ToKey;
use crate::builder::{BuildError, CacheBuilder};
use crate::fence::Fences;
use crate::hook::Hooks;
use crate::invalidated::Invalidated;
use crate::policy::{Plain, TryRetry, TryShared};
use crate::probe::{GroupOnly, KeyLookup, Pair};
use crate::stats::CacheStats;
use crate::store::{Graveyard, Store};
use scc::Equivalent;

/// How many expired entries one miss or invalidation removes from the front of the store order,
/// at most.
const SWEEP_BUDGET: usize = 8;

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
/// - **Bounds**: entries expire `ttl` after they were stored, on tokio's clock (so tests can
///   pause time); at most `capacity` entries are stored, expired entries leaving first.
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

/// What every clone of one [`TtlCache`] shares: the entries, the flights and the settings.
pub(crate) struct Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) store: Store<G, K, V>,
    pub(crate) flights: crate::flight::Flights<G, K, V>,
    /// Bumped by every `clear`.
    pub(crate) epoch: AtomicU64,
    /// The fences of the invalidations (of a group, a key, or everything) in progress. A fetch
    /// whose key one covers runs unshared: see `invalidation.rs`.
    pub(crate) fences: Arc<Fences>,
    /// The scope this cache joined (a `#[ttl_cached]` function's `scope = ...`): its
    /// invalidations in progress fence this cache's fetches of their group too. See `scope.rs`.
    pub(crate) scope: std::sync::OnceLock<&'static crate::ScopeCore>,
    /// The TTL in nanoseconds (saturating at about 584 years), read once per store: a setting
    /// changed at run time applies to the values stored after it.
    ttl_nanos: AtomicU64,
    /// The stale windows, fixed at build time: see `stale.rs`.
    pub(crate) stale: crate::stale::Windows,
    /// TTL jitter, fixed at build time: see `jitter.rs`.
    pub(crate) jitter: crate::jitter::Jitter,
    name: Cow<'static, str>,
    pub(crate) hooks: Hooks,
    /// How this cache takes part in the Redis backplane, once it does.
    #[cfg(feature = "redis")]
    pub(crate) link: std::sync::OnceLock<crate::backplane::Link>,
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
        Ok(TtlCache {
            inner: Arc::new(self.build_inner()?),
        })
    }

    /// The cache's state alone: a `#[ttl_cached]` function's handle owns it directly, so a hit
    /// through the macro follows no `Arc`.
    pub(crate) fn build_inner(self) -> Result<Inner<G, K, V>, BuildError> {
        let config = self.config()?;
        Ok(Inner {
            store: Store::new(config.capacity),
            flights: crate::flight::Flights::new(),
            epoch: AtomicU64::new(0),
            fences: Arc::new(Fences::new()),
            scope: std::sync::OnceLock::new(),
            ttl_nanos: AtomicU64::new(ttl_nanos(config.ttl)),
            stale: config.stale,
            jitter: config.jitter,
            name: config.name,
            hooks: config.hooks,
            #[cfg(feature = "redis")]
            link: std::sync::OnceLock::new(),
        })
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
        self.inner
            .run(&Pair { group, rest: key }, &Plain::<V>::NEW, fetch)
            .await
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
        self.inner
            .run(&Pair { group, rest: key }, &TryRetry::<V, E>::NEW, fetch)
            .await
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
        self.inner
            .run(&Pair { group, rest: key }, &TryShared::<V, E>::NEW, fetch)
            .await
    }

    /// Runs `fetch` now for `(group, key)`, stores its value (unless an invalidation of the key
    /// ran meanwhile, as for any fetch) and returns it: for a user who asks to see the latest
    /// data of one entry.
    ///
    /// It does not read the cache and does not wait for a fetch of the key that began before
    /// it; that fetch's value goes to the callers already waiting for it, and is not stored.
    /// From the call on, the key's stored value is gone: callers that arrive while `fetch` runs
    /// wait for it and receive its value, and none receives a value fetched before the call.
    /// (The entry removed counts as [`invalidated`](CacheStats::invalidated), and the refresh
    /// as a miss.) If the caller is cancelled, or `fetch` panics, a waiting caller takes over,
    /// as with [`get_with`](Self::get_with).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, String> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { "old listing".to_string() }).await;
    ///
    /// // The user pressed "refresh" on folder 1:
    /// let fresh = cache.refresh("alice", &1, || async { "new listing".to_string() }).await;
    /// assert_eq!(fresh, "new listing");
    /// assert_eq!(cache.get("alice", &1).as_deref(), Some("new listing"));
    /// # }
    /// ```
    pub async fn refresh<QG, QK, F, Fut>(&self, group: &QG, key: &QK, fetch: F) -> V
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let lead = self.inner.lead_refresh(&Pair { group, rest: key });
        self.publish_replaced(group, key);
        let value = fetch().await;
        lead.finish(value, &Plain::<V>::NEW).await
    }

    /// [`refresh`](Self::refresh) for a fallible fetch: an `Ok` value is stored, an `Err` is
    /// returned and not stored (the key then has no value: the old one was removed when the
    /// refresh began), and the callers that were waiting for it retry, as with
    /// [`try_get_with`](Self::try_get_with).
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
    /// let fresh = cache.try_refresh("alice", &1, || async { Ok::<_, String>(7) }).await;
    /// assert_eq!(fresh, Ok(7));
    /// let failed = cache.try_refresh("alice", &1, || async { Err::<u64, _>("offline") }).await;
    /// assert_eq!(failed, Err("offline"));
    /// assert_eq!(cache.get("alice", &1), None);
    /// # }
    /// ```
    pub async fn try_refresh<QG, QK, F, Fut, E>(
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
        let lead = self.inner.lead_refresh(&Pair { group, rest: key });
        self.publish_replaced(group, key);
        let outcome = fetch().await;
        lead.finish(outcome, &TryRetry::<V, E>::NEW).await
    }

    /// Stores `value` under `(group, key)`, replacing what was there, as
    /// [`refresh`](Self::refresh) does with a value already in hand: a fetch of that key in
    /// flight when it is called is not stored afterwards (its callers still get its value), and
    /// callers that arrive later get `value`. It counts as no miss: nothing was fetched.
    ///
    /// Like any entry, the inserted one may be gone by the next [`get`](Self::get): it expires
    /// after the TTL, it may be evicted for capacity, and it is not stored at all when an
    /// invalidation of this key, of its group or of the whole cache is running (or its
    /// [`Invalidated`] is held) at that moment, the same rule that keeps a fetch racing an
    /// invalidation out of the cache. Invalidations of other groups and keys do not affect it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, String> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// // A write-through: the upload handler already has the new listing.
    /// cache.insert("alice", &1, "listing after upload".to_string()).await;
    /// let listing = cache.get_with("alice", &1, || async { unreachable!("a hit") }).await;
    /// assert_eq!(listing, "listing after upload");
    /// # }
    /// ```
    pub async fn insert<QG, QK>(&self, group: &QG, key: &QK, value: V)
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
    {
        let lead = self.inner.lead_insert(&Pair { group, rest: key });
        self.publish_replaced(group, key);
        lead.finish(value, &Plain::<V>::NEW).await;
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
    pub fn get<QG, QK>(&self, group: &QG, key: &QK) -> Option<V>
    where
        QG: ?Sized + Hash + Equivalent<G>,
        QK: ?Sized + Hash + Equivalent<K>,
    {
        self.inner.lookup(&Pair { group, rest: key })
    }

    /// Removes every entry of `group`. Fetches of the group that are still running, or that
    /// begin before this call returns, are not stored and not joined by later calls.
    ///
    /// The invalidation is done when this call returns; the returned [`Invalidated`] yields how
    /// many entries it removed, and dropping it unawaited invalidates all the same. The removed
    /// values are dropped before it returns (or, if a concurrent hit is cloning one, right after
    /// that clone). Costs O(entries in the group), however large the cache is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// for folder in 0..3 {
    ///     cache.get_with("alice", &folder, || async { 1 }).await;
    /// }
    /// cache.get_with("bob", &0, || async { 2 }).await;
    /// assert_eq!(cache.invalidate_group("alice").await, 3);
    /// assert_eq!(cache.len(), 1);
    /// # }
    /// ```
    pub fn invalidate_group<QG>(&self, group: &QG) -> Invalidated<usize>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
    {
        let invalidated = self.inner.invalidate_group_by(&GroupOnly(group));
        // After the local eviction: the other replicas' (see `backplane`).
        #[cfg(feature = "redis")]
        let invalidated = invalidated.delivering(
            self.inner
                .backplane()
                .and_then(|l| l.publish_group(&group.to_key())),
        );
        invalidated
    }

    /// Removes the entry for `(group, key)`, if any; the returned [`Invalidated`] yields whether
    /// there was one. A fetch of that key still running, or beginning before this call returns,
    /// is not stored and not joined by later calls. Done when this call returns, like
    /// [`invalidate_group`](Self::invalidate_group).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// assert!(cache.invalidate("alice", &1).await);
    /// assert!(!cache.invalidate("alice", &1).await);
    /// # }
    /// ```
    pub fn invalidate<QG, QK>(&self, group: &QG, key: &QK) -> Invalidated<bool>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
    {
        let invalidated = self.inner.invalidate_key_by(&Pair { group, rest: key });
        #[cfg(feature = "redis")]
        let invalidated = invalidated.delivering(
            self.inner
                .backplane()
                .and_then(|l| l.publish_key(&group.to_key(), &key.to_key())),
        );
        invalidated
    }

    /// Removes every entry; the returned [`Invalidated`] yields how many. Fetches still running,
    /// or beginning before this call returns, are not stored and not joined by later calls.
    /// Done when this call returns, like [`invalidate_group`](Self::invalidate_group).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// assert_eq!(cache.clear().await, 1);
    /// assert!(cache.is_empty());
    /// # }
    /// ```
    pub fn clear(&self) -> Invalidated<usize> {
        let invalidated = self.inner.clear_all();
        #[cfg(feature = "redis")]
        let invalidated =
            invalidated.delivering(self.inner.backplane().and_then(|l| l.publish_clear()));
        invalidated
    }

    /// Removes every expired entry now and returns how many were removed. With a stale window
    /// ([`CacheBuilder::stale_while_revalidate`], [`CacheBuilder::stale_if_error`]), an entry
    /// counts as expired once the longer window after its TTL has passed too: until then it may
    /// still be served stale.
    ///
    /// Not needed for correctness or to bound memory: expired entries count against the
    /// capacity and are the first evicted, every miss and invalidation removes a few, and an
    /// expired entry is never served. Useful to free their values in a quiet period, or before
    /// reading [`len`](Self::len). The removed values are dropped before it returns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// tokio::time::advance(Duration::from_secs(61)).await;
    /// assert_eq!(cache.purge_expired().await, 1);
    /// assert!(cache.is_empty());
    /// # }
    /// ```
    pub async fn purge_expired(&self) -> usize {
        self.inner.purge_expired().await
    }

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
        self.inner.stats()
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
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use cache_core::{BuildError, TtlCache};
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("u", &1, || async { 1 }).await; // stored for 60 s
    /// cache.set_ttl(Duration::from_secs(5)).unwrap();
    /// cache.get_with("u", &2, || async { 2 }).await; // stored for 5 s
    ///
    /// tokio::time::advance(Duration::from_secs(6)).await;
    /// assert_eq!(cache.get("u", &1), Some(1));
    /// assert_eq!(cache.get("u", &2), None);
    /// assert_eq!(cache.set_ttl(Duration::ZERO), Err(BuildError::ZeroTtl));
    /// assert_eq!(cache.ttl(), Duration::from_secs(5));
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: Duration) -> Result<(), BuildError> {
        self.inner.set_ttl(ttl)
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
        self.inner.set_capacity(capacity)
    }

    /// Sizes of the internal maps `(entries, groups, flights)`, for tests that check memory is
    /// reclaimed. Not part of the API.
    #[doc(hidden)]
    pub fn __internal_sizes(&self) -> (usize, usize, usize) {
        self.inner.internal_sizes()
    }
}

/// The verbs' work, on the state every clone shares.
impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A hit, or `None`: no fetch, no flight.
    #[inline]
    pub(crate) fn lookup<P>(&self, probe: &P) -> Option<V>
    where
        P: ?Sized + KeyLookup<G, K>,
    {
        self.store.lookup(probe, self.current_epoch())
    }

    pub(crate) async fn purge_expired(&self) -> usize {
        let mut graveyard = Graveyard::new();
        // Inside a window that reaches back past the clock's origin, nothing has aged out.
        let Some(now) = self.stale.retained_after(Instant::now()) else {
            return 0;
        };
        self.store.purge(now, self.current_epoch(), &mut graveyard)
    }

    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    pub(crate) fn stats(&self) -> CacheStats {
        self.store.counters.snapshot()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn ttl(&self) -> Duration {
        Duration::from_nanos(self.ttl_nanos.load(Relaxed))
    }

    pub(crate) fn set_ttl(&self, ttl: Duration) -> Result<(), BuildError> {
        if ttl.is_zero() {
            return Err(BuildError::ZeroTtl);
        }
        let old = Duration::from_nanos(self.ttl_nanos.swap(ttl_nanos(ttl), Relaxed));
        if ttl < old {
            // Values stored from now on may expire before values stored earlier.
            self.store.ttl_lowered(Instant::now(), old);
        }
        Ok(())
    }

    pub(crate) fn capacity(&self) -> usize {
        self.store.capacity()
    }

    pub(crate) fn set_capacity(&self, capacity: usize) -> Result<(), BuildError> {
        if capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        let mut graveyard = Graveyard::new();
        self.store.set_capacity(
            capacity,
            Instant::now(),
            self.current_epoch(),
            &mut graveyard,
        );
        drop(graveyard);
        Ok(())
    }

    pub(crate) fn internal_sizes(&self) -> (usize, usize, usize) {
        let (entries, groups) = self.store.sizes();
        (entries, groups, self.flights.len())
    }

    pub(crate) fn current_epoch(&self) -> u64 {
        self.epoch.load(SeqCst)
    }

    /// Bounded housekeeping after each miss and invalidation: a few expired entries off the
    /// front of the store order.
    pub(crate) fn maintain(&self) {
        self.maintain_at(Instant::now());
    }

    /// [`maintain`](Self::maintain) with the caller's clock reading.
    pub(crate) fn maintain_at(&self, now: Instant) {
        let mut graveyard = Graveyard::new();
        // Entries inside a stale window are kept: the sweep sees them as of the window's start.
        if let Some(now) = self.stale.retained_after(now) {
            self.store
                .sweep(now, self.current_epoch(), SWEEP_BUDGET, &mut graveyard);
        }
    }
}

/// `ttl` in nanoseconds, saturating: about 584 years at most.
fn ttl_nanos(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX)
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// After `refresh`, `try_refresh` or `insert` removed the key's value here: the other
    /// replicas drop it too and fetch it anew (see `backplane`). Nothing without the `redis`
    /// feature.
    #[inline]
    fn publish_replaced<QG, QK>(&self, group: &QG, key: &QK)
    where
        QG: ?Sized + ToKey<G>,
        QK: ?Sized + ToKey<K>,
    {
        #[cfg(feature = "redis")]
        drop(
            self.inner
                .backplane()
                .and_then(|l| l.publish_key(&group.to_key(), &key.to_key())),
        );
        #[cfg(not(feature = "redis"))]
        let _ = (group, key);
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

impl<G, K, V> Drop for Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        self.store.drain();
    }
}

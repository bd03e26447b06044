//! [`CacheHandle`]: the `'static` cache behind one `#[ttl_cached]` function.
//!
//! The macro cannot name the cache's key and value types: a key part such as `<self.account_id>`
//! has whatever type that field has, and a return type such as `anyhow::Result<T>` hides its
//! `Ok` type behind an alias. So the handle is declared without them, as a `static` in the
//! generated `<fn>_cache()` function, and the typed [`TtlCache`] inside is created on first
//! use, with the types the compiler inferred at the call site.

use std::any::Any;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;
use std::{borrow::Cow, fmt};

use crate::cache::TtlCache;
use crate::invalidated::Invalidated;
use crate::probe::GroupOnly;
use crate::stats::CacheStats;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the handle needs from a cache whose types it does not know.
trait ErasedCache: Any + Send + Sync {
    fn len(&self) -> usize;
    fn stats(&self) -> CacheStats;
    fn clear(&self) -> Invalidated<usize>;
    fn purge_expired(&self) -> BoxFuture<'_, usize>;
    fn invalidate_group(&self, group: &(dyn Any + Send + Sync)) -> Invalidated<usize>;
}

impl<G, K, V> ErasedCache for TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn len(&self) -> usize {
        TtlCache::len(self)
    }
    fn stats(&self) -> CacheStats {
        TtlCache::stats(self)
    }
    fn clear(&self) -> Invalidated<usize> {
        self.clear_all()
    }
    fn purge_expired(&self) -> BoxFuture<'_, usize> {
        Box::pin(TtlCache::purge_expired(self))
    }
    fn invalidate_group(&self, group: &(dyn Any + Send + Sync)) -> Invalidated<usize> {
        let Some(group) = group.downcast_ref::<G>() else {
            type_mismatch(self.name())
        };
        self.invalidate_group_by(&GroupOnly(group))
    }
}

#[cold]
#[track_caller]
fn type_mismatch(name: &str) -> ! {
    panic!(
        "cache `{name}` was used with two different key or value types; \
         this is a bug in cache-core's #[ttl_cached] expansion, please report it"
    )
}

/// The cache of one `#[ttl_cached]` function, as returned by its generated `<fn>_cache()`.
///
/// The cache is created on the function's first call; before that the handle reports an empty
/// cache. One handle serves every caller of the function (every instance, for a method).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::ttl_cached;
///
/// #[ttl_cached(ttl = 60)]
/// async fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// assert_eq!(square(4).await, 16);
/// assert_eq!(square(4).await, 16);
/// let cache: &'static cache_core::CacheHandle = square_cache();
/// assert_eq!(cache.len(), 1);
/// assert_eq!((cache.stats().misses, cache.stats().hits), (1, 1));
/// cache.clear().await;
/// assert!(cache.is_empty());
/// # }
/// ```
pub struct CacheHandle {
    name: &'static str,
    ttl: Duration,
    capacity: usize,
    cell: OnceLock<Box<dyn ErasedCache>>,
}

impl fmt::Debug for CacheHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheHandle")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl CacheHandle {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(name: &'static str, ttl: Duration, capacity: usize) -> Self {
        Self {
            name,
            ttl,
            capacity,
            cell: OnceLock::new(),
        }
    }

    /// The typed cache, created on first use. `#[ttl_cached]` instantiates it with the same
    /// types at every use of one handle.
    #[inline]
    pub(crate) fn typed<G, K, V>(&self) -> &TtlCache<G, K, V>
    where
        G: Hash + Eq + Clone + Send + Sync + 'static,
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let erased = self.cell.get_or_init(|| {
            let cache = TtlCache::<G, K, V>::builder()
                .ttl(self.ttl)
                .capacity(self.capacity)
                .name(Cow::Borrowed(self.name))
                .build()
                // The macro rejects a zero ttl or capacity at compile time.
                .unwrap_or_else(|e| panic!("cache `{}`: {e}", self.name));
            Box::new(cache)
        });
        let any: &dyn Any = &**erased;
        match any.downcast_ref() {
            Some(cache) => cache,
            None => type_mismatch(self.name),
        }
    }

    /// Invalidates the group whose owned key is `group` (the cache's `G`, erased).
    pub(crate) fn invalidate_group_erased(
        &self,
        group: &(dyn Any + Send + Sync),
    ) -> Invalidated<usize> {
        match self.cell.get() {
            Some(cache) => cache.invalidate_group(group),
            None => Invalidated::done(0),
        }
    }

    /// The number of stored entries.
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.cell.get().map_or(0, |c| c.len())
    }

    /// Whether no entry is stored.
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert!(double_cache().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the counters; see [`CacheStats`].
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().stats().hits, 0);
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.cell
            .get()
            .map_or_else(CacheStats::default, |c| c.stats())
    }

    /// Removes every entry; the returned [`Invalidated`] yields how many. Fetches still running,
    /// or beginning before this call returns, are not stored and not joined by later calls.
    /// Done when this call returns, awaited or not.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// double(1).await;
    /// assert_eq!(double_cache().clear().await, 1);
    /// # }
    /// ```
    pub fn clear(&self) -> Invalidated<usize> {
        match self.cell.get() {
            Some(cache) => cache.clear(),
            None => Invalidated::done(0),
        }
    }

    /// Removes every expired entry now; see [`TtlCache::purge_expired`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// double(1).await;
    /// assert_eq!(double_cache().purge_expired().await, 0);
    /// # }
    /// ```
    pub async fn purge_expired(&self) -> usize {
        match self.cell.get() {
            Some(cache) => cache.purge_expired().await,
            None => 0,
        }
    }

    /// The cache's name: the function's module path and name.
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert!(double_cache().name().ends_with("::double"));
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The TTL from the attribute.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[cache_core::ttl_cached(ttl = "1m30s")]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().ttl(), Duration::from_secs(90));
    /// ```
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The capacity from the attribute (default [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY)).
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60, capacity = 500)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().capacity(), 500);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

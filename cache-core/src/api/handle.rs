//! [`CacheHandle`]: the `'static` cache behind one `#[ttl_cached]` function.
//!
//! The macro cannot name the cache's key and value types: a key part such as `<self.account_id>`
//! has whatever type that field has, and a return type such as `anyhow::Result<T>` hides its
//! `Ok` type behind an alias. So the handle is declared without them, as a `static` in the
//! generated `<fn>_cache()` function, and the typed [`TtlCache`](crate::TtlCache) inside is
//! created on first use, with the types the compiler inferred at the call site.

use std::any::Any;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;
use std::{borrow::Cow, fmt};

use crate::api::builder::{BuildError, Settings};
use crate::api::erased::{BoxFuture, Erased, ErasedCache};
use crate::cache::invalidated::Invalidated;
use crate::cache::{Config, Core, Inner};
use crate::engine::snapshot::CacheStats;
use crate::features::scope::ScopeMember;
use crate::keys::lookup::{GroupOnly, Pair};

impl<G, K, V> ErasedCache for Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn len(&self) -> usize {
        Core::len(self)
    }
    fn stats(&self) -> CacheStats {
        CacheStats::of(&self.store.counters)
    }
    fn clear(&self) -> Invalidated<usize> {
        self.clear_all()
    }
    fn purge_expired(&self) -> BoxFuture<'_, usize> {
        Box::pin(Core::purge_expired(self))
    }
    fn invalidate_group(&self, group: &(dyn Any + Send + Sync)) -> Invalidated<usize> {
        let Some(group) = group.downcast_ref::<G>() else {
            type_mismatch(self.name())
        };
        self.invalidate_group_by(&GroupOnly(group))
    }
    fn invalidate_key(
        &self,
        group: &(dyn Any + Send + Sync),
        rest: &(dyn Any + Send + Sync),
    ) -> Invalidated<bool> {
        let (Some(group), Some(rest)) = (group.downcast_ref::<G>(), rest.downcast_ref::<K>())
        else {
            type_mismatch(self.name())
        };
        self.invalidate_key_by(&Pair { group, rest })
    }
    #[cfg(feature = "metrics")]
    fn fetches_in_flight(&self) -> usize {
        self.flights.len()
    }
    #[cfg(feature = "redis-tier")]
    fn tier(&self) -> Option<&crate::cache::tier::TierCounters> {
        Some(&self.tier.get()?.counters)
    }
    fn set_ttl(&self, ttl: Duration) {
        Core::set_ttl(self, ttl);
    }
    fn set_capacity(&self, capacity: usize) {
        Core::set_capacity(self, capacity);
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

/// What a `#[ttl_cached]` attribute sets beyond the TTL and capacity: `stale`,
/// `stale_if_error` and `jitter`, carried by its handle to the cache it makes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Options {
    /// `stale = "30s"`: the stale-while-revalidate window.
    pub(crate) stale: Duration,
    pub(crate) stale_if_error: Duration,
    /// `throttle = "5s"`: the fail-safe throttle; `None` for the builder's default.
    pub(crate) throttle: Option<Duration>,
    /// `timeout = "10s"`: the fetch timeout; `None` for none.
    pub(crate) timeout: Option<Duration>,
    /// `soft_timeout = "500ms"`: the soft fetch timeout; `None` for none.
    pub(crate) soft_timeout: Option<Duration>,
    /// A fraction of the TTL (checked by the macro, and again by the builder).
    pub(crate) jitter: f64,
}

impl Options {
    pub(crate) const NONE: Self = Self {
        stale: Duration::ZERO,
        stale_if_error: Duration::ZERO,
        throttle: None,
        timeout: None,
        soft_timeout: None,
        jitter: 0.0,
    };
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
    /// The settings, kept here so that they can be changed before the cache exists; see
    /// [`set_ttl`](Self::set_ttl).
    ttl_nanos: AtomicU64,
    capacity: AtomicUsize,
    /// Held while a setting is changed and passed on to the cache, and by the caller that
    /// created the cache while it passes on the settings of the moment: a change made while
    /// the cache was being created is then not lost, and two changes reach the cache in the
    /// order they were made.
    settings: Mutex<()>,
    /// `stale`, `stale_if_error` and `jitter` from the attribute, fixed: see
    /// `features/stale.rs` and `engine/expiry.rs`.
    options: Options,
    cell: OnceLock<Erased>,
}

impl fmt::Debug for CacheHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheHandle")
            .field("name", &self.name)
            .field("ttl", &self.ttl())
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

/// `ttl` in nanoseconds, saturating: about 584 years at most.
const fn ttl_nanos(ttl: Duration) -> u64 {
    let nanos = ttl.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        nanos as u64
    }
}

impl CacheHandle {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(name: &'static str, ttl: Duration, capacity: usize) -> Self {
        Self {
            name,
            ttl_nanos: AtomicU64::new(ttl_nanos(ttl)),
            capacity: AtomicUsize::new(capacity),
            settings: Mutex::new(()),
            options: Options::NONE,
            cell: OnceLock::new(),
        }
    }

    /// The handle with the attribute's `stale`, `stale_if_error` and `jitter`.
    pub(crate) fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The typed cache, created on first use. `#[ttl_cached]` instantiates it with the same
    /// types at every use of one handle, always a `static` (so that the cache, once made, can
    /// be enrolled for the `metrics` feature's reports).
    #[inline]
    pub(crate) fn typed<G, K, V>(&'static self) -> &'static Inner<G, K, V>
    where
        G: Hash + Eq + Clone + Send + Sync + 'static,
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let erased = match self.cell.get() {
            Some(erased) => erased,
            None => self.create::<G, K, V>(),
        };
        // A comparison with the type's id, stored when the cache was made: no virtual call.
        match erased.downcast() {
            Some(cache) => cache,
            None => type_mismatch(self.name),
        }
    }

    /// The configuration of this function's cache, checked. Not generic: compiled once, whatever
    /// the types of the caches it configures.
    fn config(&'static self) -> Config {
        let mut settings = Settings {
            ttl: Some(self.ttl()),
            capacity: self.capacity(),
            name: Cow::Borrowed(self.name),
            jitter: Some(self.options.jitter),
            ..Settings::default()
        };
        settings.stale.revalidate = self.options.stale;
        settings.stale.if_error = self.options.stale_if_error;
        if let Some(period) = self.options.throttle {
            settings.fail_safe.throttle = period;
        }
        // The fetch timeout alone, for `timeout = ".."`: the function's policy says how its
        // error type is made.
        if let Some(limit) = self.options.timeout {
            settings.fail_safe.timeout = Some(limit);
        }
        if let Some(limit) = self.options.soft_timeout {
            settings.fail_safe.soft_timeout = Some(limit);
        }
        settings
            .checked()
            // The macro rejects a zero ttl or capacity written in the attribute, a zero named by
            // the attribute is refused when the handle is made, and the setters refuse zero.
            .unwrap_or_else(|e| panic!("cache `{}`: {e}", self.name))
    }

    #[cold]
    #[inline(never)]
    fn create<G, K, V>(&'static self) -> &'static Erased
    where
        G: Hash + Eq + Clone + Send + Sync + 'static,
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let mut made = false;
        let erased = self.cell.get_or_init(|| {
            made = true;
            Erased::new(Inner::<G, K, V>::new(self.config()))
        });
        // A setting changed after the cache read it, but before the cache was in the cell,
        // reached only the handle: pass the settings of the moment on.
        let _settings = self.lock_settings();
        // Neither is zero: both were checked when they were set.
        erased.set_ttl(self.ttl());
        erased.set_capacity(self.capacity());
        // Once, by the caller that made it.
        #[cfg(feature = "metrics")]
        if made {
            crate::cache::census::enroll_function(self);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = made;
        erased
    }

    /// Upstream fetches running, for the `metrics` feature's gauge.
    #[cfg(feature = "metrics")]
    pub(crate) fn fetches_in_flight(&self) -> usize {
        self.cell.get().map_or(0, |c| c.fetches_in_flight())
    }

    fn lock_settings(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data: a panic while it was held leaves nothing inconsistent.
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Invalidates the key whose owned parts are `group` and `rest` (the cache's `G` and `K`,
    /// erased).
    pub(crate) fn invalidate_key_erased(
        &self,
        group: &(dyn Any + Send + Sync),
        rest: &(dyn Any + Send + Sync),
    ) -> Invalidated<bool> {
        match self.cell.get() {
            Some(cache) => cache.invalidate_key(group, rest),
            None => Invalidated::done(false),
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

    /// What the function's shared tier did (`shared_tier = ..`, feature `redis-tier`): `None`
    /// for a function without one, or before its first miss. See
    /// [`TierStats`](crate::backplane::TierStats).
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().tier_stats(), None);
    /// ```
    #[cfg(feature = "redis-tier")]
    #[must_use]
    pub fn tier_stats(&self) -> Option<crate::backplane::TierStats> {
        Some(crate::backplane::TierStats::of(self.cell.get()?.tier()?))
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
        let invalidated = self.clear_local();
        // After the local eviction: the other replicas' (see `backplane`).
        #[cfg(feature = "redis")]
        let invalidated = invalidated.delivering(crate::seam::cleared(self.cache_id()));
        invalidated
    }

    /// This cache, as the layers beyond this process know it: by the function's name.
    #[cfg(feature = "redis")]
    pub(crate) fn cache_id(&self) -> crate::seam::CacheId<'static> {
        crate::seam::CacheId {
            name: self.name,
            identity: std::ptr::from_ref(self) as usize,
        }
    }

    /// [`clear`](Self::clear), on this replica only.
    pub(crate) fn clear_local(&self) -> Invalidated<usize> {
        match self.cell.get() {
            Some(cache) => cache.clear(),
            None => Invalidated::done(0),
        }
    }

    /// Removes every expired entry now; see [`TtlCache::purge_expired`](crate::TtlCache::purge_expired).
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

    /// The TTL: from the attribute, or as last set by [`set_ttl`](Self::set_ttl).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[cache_core::ttl_cached(ttl = "1m30s")]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().ttl(), Duration::from_secs(90));
    /// ```
    pub fn ttl(&self) -> Duration {
        Duration::from_nanos(self.ttl_nanos.load(SeqCst))
    }

    /// The capacity: from the attribute (default
    /// [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY)), or as last set by
    /// [`set_capacity`](Self::set_capacity).
    ///
    /// ```
    /// # #[cache_core::ttl_cached(ttl = 60, capacity = 500)]
    /// # async fn double(n: u64) -> u64 { n * 2 }
    /// assert_eq!(double_cache().capacity(), 500);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity.load(SeqCst)
    }

    /// Changes the TTL of the values the function stores from now on, for configuration read at
    /// start-up (the attribute's `ttl` is then the default); values already stored keep their
    /// expiry. Works before the function's first call as after it. See
    /// [`TtlCache::set_ttl`](crate::TtlCache::set_ttl).
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroTtl`] for a zero TTL; the TTL is then left as it was.
    ///
    /// ```
    /// use cache_core::ttl_cached;
    /// use std::time::Duration;
    ///
    /// #[ttl_cached(ttl = 60)]
    /// async fn list_folders(user_id: u64) -> Vec<String> {
    ///     vec![format!("folders of {user_id}")]
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // At start-up, from the application's configuration:
    /// let configured = Duration::from_secs(15);
    /// list_folders_cache().set_ttl(configured).expect("a non-zero ttl");
    /// assert_eq!(list_folders_cache().ttl(), configured);
    /// # list_folders(1).await;
    /// assert!(list_folders_cache().set_ttl(Duration::ZERO).is_err());
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: Duration) -> Result<(), BuildError> {
        if ttl.is_zero() {
            return Err(BuildError::ZeroTtl);
        }
        let _settings = self.lock_settings();
        self.ttl_nanos.store(ttl_nanos(ttl), SeqCst);
        if let Some(cache) = self.cell.get() {
            cache.set_ttl(ttl);
        }
        Ok(())
    }

    /// Changes the most entries the function's cache holds at once, for configuration read at
    /// start-up. Lowered below the number of entries stored, it evicts down to it before it
    /// returns. Works before the function's first call as after it. See
    /// [`TtlCache::set_capacity`](crate::TtlCache::set_capacity).
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`] for a zero capacity; the capacity is then left as it was.
    ///
    /// ```
    /// use cache_core::ttl_cached;
    ///
    /// #[ttl_cached(ttl = 60)]
    /// async fn thumbnail(file_id: u64) -> Vec<u8> {
    ///     vec![0; 16]
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// for file_id in 0..10 {
    ///     thumbnail(file_id).await;
    /// }
    /// thumbnail_cache().set_capacity(3).unwrap();
    /// assert_eq!(thumbnail_cache().len(), 3);
    /// assert!(thumbnail_cache().set_capacity(0).is_err());
    /// # }
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), BuildError> {
        if capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        let _settings = self.lock_settings();
        self.capacity.store(capacity, SeqCst);
        if let Some(cache) = self.cell.get() {
            cache.set_capacity(capacity);
        }
        Ok(())
    }
}

/// A `#[ttl_cached]` function's cache joins its scope as this handle: see `features/scope.rs`.
impl ScopeMember for CacheHandle {
    fn invalidate_group(&self, group: &(dyn Any + Send + Sync)) -> Invalidated<usize> {
        self.invalidate_group_erased(group)
    }
    #[cfg(feature = "redis")]
    fn clear_local(&self) -> Invalidated<usize> {
        CacheHandle::clear_local(self)
    }
}

/// What the metrics' report reads of a `#[ttl_cached]` function's cache (`cache/census.rs`).
#[cfg(feature = "metrics")]
impl crate::cache::census::Source for CacheHandle {
    fn name(&self) -> &str {
        self.name
    }
    fn stats(&self) -> CacheStats {
        CacheHandle::stats(self)
    }
    fn entries(&self) -> usize {
        self.len()
    }
    fn fetches_in_flight(&self) -> usize {
        CacheHandle::fetches_in_flight(self)
    }
    #[cfg(feature = "redis-tier")]
    fn tier_counts(&self) -> Option<crate::cache::tier::TierCounts> {
        Some(self.cell.get()?.tier()?.counts())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_handle_finds_its_cache_and_refuses_other_types() {
        let handle: &'static crate::CacheHandle = Box::leak(Box::new(crate::CacheHandle::__new(
            "erased::tests::handle",
            Duration::from_secs(60),
            10,
        )));
        let first = handle.typed::<String, u32, u64>();
        assert!(std::ptr::eq(first, handle.typed::<String, u32, u64>()));
        let other = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle.typed::<String, u32, i64>().len()
        }));
        let message = other.expect_err("another value type is refused");
        let message = message
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert!(
            message.contains("two different key or value types"),
            "{message}"
        );
        assert!(std::ptr::eq(first, handle.typed::<String, u32, u64>()));
    }
}

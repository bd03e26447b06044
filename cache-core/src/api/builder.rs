//! [`CacheBuilder`]: the only way to make a [`TtlCache`](crate::TtlCache), so that a cache
//! without a TTL or with room for nothing cannot exist. `build` is defined beside the cache
//! (`ttl_cache/mod.rs`), which names this type, so that this file need not name it.

use std::borrow::Cow;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

use crate::cache::Config;
use crate::engine::expiry::{Jitter, Windows};
use crate::engine::hook::{Hook, Hooks, SyncHook};
use crate::engine::policy::Classifier;
use crate::engine::throttle::{ErrorClass, FailSafe};
use crate::engine::timeout::{FetchTimedOut, TimeoutError};

type Types<G, K, V> = PhantomData<fn() -> (G, K, V)>;

/// The capacity a cache gets when none is given.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Configures and builds a [`TtlCache`](crate::TtlCache).
///
/// ```
/// use cache_core::TtlCache;
/// use std::time::Duration;
///
/// let cache: TtlCache<String, String, u64> = TtlCache::builder()
///     .ttl(Duration::from_secs(60))
///     .capacity(1_000)
///     .name("folder_listings")
///     .build()
///     .expect("a non-zero ttl and capacity");
/// assert_eq!(cache.capacity(), 1_000);
/// assert_eq!(cache.name(), "folder_listings");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CacheBuilder<G, K, V> {
    settings: Settings,
    /// Set by `shared_tier` (feature `redis-tier`, `api/tier.rs`).
    #[cfg(feature = "redis-tier")]
    pub(crate) tier: Option<crate::cache::tier::TierSetup<V>>,
    _types: Types<G, K, V>,
}

/// What a builder was told, apart from the shared tier: it does not depend on the cache's
/// types, so checking it is compiled once, not once per cache type.
pub(crate) struct Settings {
    pub(crate) ttl: Option<Duration>,
    pub(crate) stale: Windows,
    pub(crate) fail_safe: FailSafe,
    pub(crate) classify: Option<Classifier>,
    pub(crate) timeout_error: Option<TimeoutError>,
    pub(crate) jitter: Option<f64>,
    pub(crate) capacity: usize,
    pub(crate) name: Cow<'static, str>,
    pub(crate) hooks: Hooks,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ttl: None,
            stale: Windows::NONE,
            fail_safe: FailSafe::DEFAULT,
            classify: None,
            timeout_error: None,
            jitter: None,
            capacity: DEFAULT_CAPACITY,
            name: Cow::Borrowed("ttl_cache"),
            hooks: Hooks::default(),
        }
    }
}

impl Settings {
    /// The configuration, if it passes the checks.
    pub(crate) fn checked(self) -> Result<Config, BuildError> {
        let ttl = self.ttl.ok_or(BuildError::MissingTtl)?;
        if ttl.is_zero() {
            return Err(BuildError::ZeroTtl);
        }
        if self.capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        let jitter = match self.jitter {
            None => Jitter::NONE,
            Some(fraction) => Jitter::new(fraction).ok_or(BuildError::InvalidJitter)?,
        };
        Ok(Config {
            ttl,
            jitter,
            stale: self.stale,
            fail_safe: self.fail_safe,
            classify: self.classify,
            timeout_error: self.timeout_error,
            capacity: self.capacity,
            name: self.name,
            hooks: self.hooks,
        })
    }
}

impl<G, K, V> fmt::Debug for CacheBuilder<G, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("CacheBuilder")
            .field("ttl", &s.ttl)
            .field("stale", &s.stale)
            .field("fail_safe", &s.fail_safe)
            .field("classify", &s.classify.is_some())
            .field("jitter", &s.jitter)
            .field("capacity", &s.capacity)
            .field("name", &s.name)
            .finish()
    }
}

impl<G, K, V> Default for CacheBuilder<G, K, V> {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            #[cfg(feature = "redis-tier")]
            tier: None,
            _types: PhantomData,
        }
    }
}

impl<G, K, V> CacheBuilder<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// How long a value stays fresh after it was stored. Required; must not be zero.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_millis(250)).build().unwrap();
    /// assert_eq!(cache.ttl(), Duration::from_millis(250));
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = Some(ttl);
        self
    }

    /// The most entries the cache holds at once (default [`DEFAULT_CAPACITY`]); must not be zero.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).capacity(8).build().unwrap();
    /// assert_eq!(cache.capacity(), 8);
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.settings.capacity = capacity;
        self
    }

    /// A name for stats, logs and `Debug` output (default `"ttl_cache"`).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).name("users").build().unwrap();
    /// assert_eq!(cache.name(), "users");
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.settings.name = name.into();
        self
    }

    /// Serve stale while revalidating: for `window` after a value's TTL ran out,
    /// [`get_with_stale`](crate::TtlCache::get_with_stale) and
    /// [`try_get_with_stale`](crate::TtlCache::try_get_with_stale) return the expired value at
    /// once and start one background refresh of the key (default: no window). The other verbs
    /// treat an expired value as missing, as before. An invalidated value is never served.
    ///
    /// Entries are kept until the longer of the two stale windows has passed too; see
    /// [`TtlCache::len`](crate::TtlCache::len).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cache.stale_while_revalidate(), Duration::from_secs(30));
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.settings.stale.revalidate = window;
        self
    }

    /// Serve stale on error: for `window` after a value's TTL ran out, a fetch of its key that
    /// returns `Err` or panics answers its caller (and the callers waiting on it) with the
    /// expired value instead; the error is counted
    /// ([`CacheStats::stale_on_error`](crate::CacheStats::stale_on_error)) and not stored
    /// (default: no window). Applies to every fetching verb but `refresh`/`try_refresh`, which
    /// remove the old value when they begin. An invalidated value is never served.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_if_error(Duration::from_secs(300))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cache.stale_if_error(), Duration::from_secs(300));
    /// ```
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.settings.stale.if_error = window;
        self
    }

    /// Fail-safe throttling (default 5 s; `Duration::ZERO` turns it off): after a fetch of a
    /// key fails and its expired value stands in for the error (inside the
    /// [`stale_if_error`](Self::stale_if_error) window), calls for that key get the expired
    /// value for `period` without calling the upstream; then one call probes it (the others
    /// join that fetch), and a failure throttles again. An error's retry hint
    /// ([`ErrorClass::RetryAfter`]) lengthens the period. Counted in
    /// [`CacheStats::throttled`](crate::CacheStats::throttled). Also the first back-off of a
    /// failed background refresh (see [`refresh_backoff`](Self::refresh_backoff)). The end of a
    /// period is kept to the millisecond, rounded up.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> = TtlCache::builder()
    ///     .ttl(Duration::from_millis(50))
    ///     .stale_if_error(Duration::from_secs(300))
    ///     .fail_safe_throttle(Duration::from_secs(10))
    ///     .build()
    ///     .unwrap();
    /// cache.try_get_with("u", &1, || async { Ok::<_, String>(1) }).await.unwrap();
    /// tokio::time::sleep(Duration::from_millis(60)).await;
    /// // The upstream is down: the expired value stands in, once with a call...
    /// let down = || async { Err::<u64, _>("503".to_string()) };
    /// assert_eq!(cache.try_get_with("u", &1, down).await, Ok(1));
    /// // ...then without one, for 10 s: the upstream, back, is not called.
    /// let up = || async { Ok::<_, String>(2) };
    /// assert_eq!(cache.try_get_with("u", &1, up).await, Ok(1));
    /// assert_eq!(cache.stats().throttled, 1);
    /// # }
    /// ```
    pub fn fail_safe_throttle(mut self, period: Duration) -> Self {
        self.settings.fail_safe.throttle = period;
        self
    }

    /// The longest a key's background refreshes back off (default 60 s): after a background
    /// refresh fails, the key is served stale without another refresh for the
    /// [fail-safe throttle](Self::fail_safe_throttle), doubled after each consecutive failure,
    /// up to `cap` (an error's retry hint, if longer, wins).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .refresh_backoff(Duration::from_secs(300))
    ///     .build()
    ///     .unwrap();
    /// # drop(cache);
    /// ```
    pub fn refresh_backoff(mut self, cap: Duration) -> Self {
        self.settings.fail_safe.backoff_cap = cap;
        self
    }

    /// Classifies the errors of type `E` that fetches of
    /// [`try_get_with_stale`](crate::TtlCache::try_get_with_stale) and
    /// [`try_get_with_shared`](crate::TtlCache::try_get_with_shared) return (default: every
    /// error is [`ErrorClass::Transient`]), for serving stale: which errors the expired value
    /// may stand in for, which carry a retry hint, and which revoke the caller's access (the
    /// key's group is then invalidated at once, and the error returned). Errors of another type
    /// are transient.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::{ErrorClass, TtlCache};
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> = TtlCache::builder()
    ///     .ttl(Duration::from_millis(50))
    ///     .stale_if_error(Duration::from_secs(300))
    ///     .classify_errors(|status: &u16| match status {
    ///         401 => ErrorClass::Revoke,
    ///         404 => ErrorClass::Surface,
    ///         _ => ErrorClass::Transient,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// cache.try_get_with_shared("alice", &1, || async { Ok::<_, u16>(7) }).await.unwrap();
    /// tokio::time::sleep(Duration::from_millis(60)).await;
    /// // The token was revoked: the error is returned, and alice's entries are gone.
    /// let revoked = cache.try_get_with_shared("alice", &1, || async { Err(401_u16) }).await;
    /// assert_eq!(revoked, Err(401));
    /// assert_eq!(cache.len(), 0);
    /// assert_eq!(cache.stats().revoked, 1);
    /// # }
    /// ```
    pub fn classify_errors<E: 'static>(
        mut self,
        classify: impl Fn(&E) -> ErrorClass + Send + Sync + 'static,
    ) -> Self {
        self.settings.classify = Some(std::sync::Arc::new(move |error: &dyn std::any::Any| {
            error.downcast_ref::<E>().map(&classify)
        }));
        self
    }

    /// A hard fetch timeout for the fetches of
    /// [`try_get_with_stale`](crate::TtlCache::try_get_with_stale) and
    /// [`try_get_with_shared`](crate::TtlCache::try_get_with_shared) whose error type is `E`
    /// (default: no limit): a fetch still running `limit` after it began is dropped, and it
    /// fails with `E::from(FetchTimedOut)`, a failure like any other (inside the stale-if-error
    /// window the expired value stands in for it, and the upstream is throttled). Counted in
    /// [`CacheStats::timeouts`](crate::CacheStats::timeouts).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::{FetchTimedOut, TtlCache};
    /// use std::time::Duration;
    ///
    /// #[derive(Debug, Clone, PartialEq)]
    /// enum ApiError {
    ///     TimedOut,
    /// }
    /// impl From<FetchTimedOut> for ApiError {
    ///     fn from(_: FetchTimedOut) -> Self {
    ///         ApiError::TimedOut
    ///     }
    /// }
    ///
    /// let cache: TtlCache<String, u32, u64> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .fetch_timeout::<ApiError>(Duration::from_millis(20))
    ///     .build()
    ///     .unwrap();
    /// let hung = || async {
    ///     tokio::time::sleep(Duration::from_secs(3600)).await;
    ///     Ok::<u64, ApiError>(1)
    /// };
    /// assert_eq!(cache.try_get_with_shared("u", &1, hung).await, Err(ApiError::TimedOut));
    /// assert_eq!(cache.stats().timeouts, 1);
    /// # }
    /// ```
    pub fn fetch_timeout<E>(mut self, limit: Duration) -> Self
    where
        E: From<FetchTimedOut> + Send + 'static,
    {
        self.settings.fail_safe.timeout = Some(limit);
        self.settings.timeout_error = Some((
            std::any::TypeId::of::<E>(),
            std::sync::Arc::new(|timed_out| Box::new(E::from(timed_out))),
        ));
        self
    }

    /// A soft fetch timeout for [`get_with_stale`](crate::TtlCache::get_with_stale) and
    /// [`try_get_with_stale`](crate::TtlCache::try_get_with_stale) (default: none): a call that
    /// fetches a key whose expired value is inside the
    /// [`stale_if_error`](Self::stale_if_error) window gets that value once its fetch has run
    /// for `limit`, while the fetch goes on in a task on the caller's runtime and is stored when
    /// it ends (unless the key was invalidated meanwhile). Callers that joined the fetch wait
    /// for it. Counted in [`CacheStats::soft_timeouts`](crate::CacheStats::soft_timeouts).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, String> = TtlCache::builder()
    ///     .ttl(Duration::from_millis(20))
    ///     .stale_if_error(Duration::from_secs(300))
    ///     .soft_timeout(Duration::from_millis(10))
    ///     .build()
    ///     .unwrap();
    /// cache.get_with_stale("u", &1, || async { "old".to_string() }).await;
    /// tokio::time::sleep(Duration::from_millis(30)).await; // expired
    /// cache.set_ttl(Duration::from_secs(60)).unwrap(); // for the value stored next
    /// let slow = || async {
    ///     tokio::time::sleep(Duration::from_millis(50)).await;
    ///     "new".to_string()
    /// };
    /// // Answered with the expired value after 10 ms; the fetch goes on.
    /// assert_eq!(cache.get_with_stale("u", &1, slow).await, "old");
    /// tokio::time::sleep(Duration::from_millis(100)).await;
    /// assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
    /// assert_eq!(cache.stats().soft_timeouts, 1);
    /// # }
    /// ```
    pub fn soft_timeout(mut self, limit: Duration) -> Self {
        self.settings.fail_safe.soft_timeout = Some(limit);
        self
    }

    /// TTL jitter: each value's TTL is shortened by a pseudo-random share (drawn from its key)
    /// of up to `fraction` of it, so that keys stored together do not expire together. `0.1`
    /// stores a value for between 90 % and 100 % of the TTL; a TTL is never lengthened. Must
    /// be in `0.0..=1.0` (default `0.0`: none).
    ///
    /// ```
    /// # use cache_core::{BuildError, TtlCache};
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).jitter(0.1).build().unwrap();
    /// assert_eq!(cache.jitter(), 0.1);
    /// let bad = TtlCache::<u32, u32, u32>::builder().ttl(Duration::from_secs(1)).jitter(1.5);
    /// assert_eq!(bad.build().unwrap_err(), BuildError::InvalidJitter);
    /// ```
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.settings.jitter = Some(fraction);
        self
    }

    /// Installs a test hook for the async points; see `HookPoint`. Not part of the API.
    #[doc(hidden)]
    pub fn __hook(mut self, hook: Hook) -> Self {
        self.settings.hooks.on_await = Some(hook);
        self
    }

    /// Installs a test hook for the synchronous points; see `HookPoint`. Not part of the API.
    #[doc(hidden)]
    pub fn __sync_hook(mut self, hook: SyncHook) -> Self {
        self.settings.hooks.on_sync = Some(hook);
        self
    }

    /// The checked configuration, and the shared tier if one was asked for (feature `redis-tier`).
    #[cfg(feature = "redis-tier")]
    pub(crate) fn config_and_tier(
        mut self,
    ) -> Result<(Config, Option<crate::cache::tier::TierSetup<V>>), BuildError> {
        let tier = self.tier.take();
        Ok((self.settings.checked()?, tier))
    }

    /// The checked configuration (no shared tier without the feature).
    #[cfg(not(feature = "redis-tier"))]
    pub(crate) fn config_and_tier(
        self,
    ) -> Result<(Config, Option<std::convert::Infallible>), BuildError> {
        Ok((self.settings.checked()?, None))
    }
}

/// Why [`CacheBuilder::build`], or a run-time setting ([`TtlCache::set_ttl`],
/// [`TtlCache::set_capacity`] and the same on a [`CacheHandle`]), refused a configuration.
///
/// [`TtlCache::set_ttl`]: crate::TtlCache::set_ttl
/// [`TtlCache::set_capacity`]: crate::TtlCache::set_capacity
/// [`CacheHandle`]: crate::CacheHandle
///
/// ```
/// use cache_core::BuildError;
/// assert_eq!(BuildError::ZeroCapacity.to_string(), "cache capacity must be at least 1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// No TTL was given.
    MissingTtl,
    /// The TTL was zero.
    ZeroTtl,
    /// The capacity was zero.
    ZeroCapacity,
    /// The jitter was not a fraction in `0.0..=1.0`.
    InvalidJitter,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingTtl => "cache ttl is required: call `.ttl(duration)` on the builder",
            Self::ZeroTtl => "cache ttl must be greater than zero",
            Self::ZeroCapacity => "cache capacity must be at least 1",
            Self::InvalidJitter => "cache ttl jitter must be a fraction between 0.0 and 1.0",
        })
    }
}

impl std::error::Error for BuildError {}

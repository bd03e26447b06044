//! [`SharedTier`] (feature `redis-tier`): what a [`TtlCache`] built with one shares with the
//! other replicas through Redis, and [`TierStats`], what it did. The miss path is
//! `cache/tier.rs`; the Redis side, `backplane/tier.rs`.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::builder::CacheBuilder;
use super::handle::CacheHandle;
use super::ttl_cache::TtlCache;
use crate::cache::tier::{TierCounters, TierSetup};
use crate::engine::policy::Policy;
use crate::parts::{Key, PartList};

/// The format of a value in the tier: this byte, then `V`'s fingerprint and the
/// [`SharedTier::version`], then postcard.
const FORMAT: u8 = 1;

/// The shared tier's settings for one cache: see
/// [`CacheBuilder::shared_tier`](crate::CacheBuilder::shared_tier).
///
/// ```
/// use cache_core::backplane::SharedTier;
/// use std::time::Duration;
///
/// let tier = SharedTier::new()
///     .lease(Duration::from_secs(10))          // the slowest upstream call, and some
///     .timeout(Duration::from_millis(50))      // a Redis read slower than this is a miss
///     .max_value_bytes(256 * 1024)
///     .version(2);                             // bumped when the value type changes shape
/// assert_eq!(tier.lease_time(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedTier {
    lease: Duration,
    wait: Option<Duration>,
    timeout: Duration,
    max_bytes: usize,
    version: u32,
}

impl Default for SharedTier {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedTier {
    /// The defaults: a 5 s fetch lease, waiters wait as long, a 100 ms timeout per Redis call,
    /// values up to 1 MiB, version 0.
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// # use std::time::Duration;
    /// assert_eq!(SharedTier::new().lease_time(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            lease: Duration::from_secs(5),
            wait: None,
            timeout: Duration::from_millis(100),
            max_bytes: 1 << 20,
            version: 0,
        }
    }

    /// How long the replica that fetches a cold key holds its lease: the others wait for its
    /// value meanwhile; if it dies, the lease expires and another fetches. Longer than the
    /// slowest upstream call.
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// # use std::time::Duration;
    /// let tier = SharedTier::new().lease(Duration::from_secs(2));
    /// assert_eq!(tier.lease_time(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub const fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a replica waits for another replica's fetch of the same key before it fetches
    /// itself (default: the lease).
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// # use std::time::Duration;
    /// let tier = SharedTier::new().wait(Duration::from_millis(500));
    /// assert_eq!(tier.wait_time(), Duration::from_millis(500));
    /// ```
    #[must_use]
    pub const fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// How long one Redis call of the tier may take; past it, the call fetches as if the tier
    /// were not there (and writes nothing).
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// # use std::time::Duration;
    /// let tier = SharedTier::new().timeout(Duration::from_millis(20));
    /// # let _ = tier;
    /// ```
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest encoded value shared; larger ones stay in this replica (counted in
    /// [`TierStats::too_large`]).
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// let tier = SharedTier::new().max_value_bytes(64 * 1024);
    /// # let _ = tier;
    /// ```
    #[must_use]
    pub const fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The value type's version, stored with each value: a replica reads only values of its
    /// own version (and of its own value type, told by its name). Bump it when the type
    /// changes shape under the same name (a field added), so that replicas of the old and the
    /// new build, during a deploy, each read only their own.
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// let tier = SharedTier::new().version(3);
    /// # let _ = tier;
    /// ```
    #[must_use]
    pub const fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// The fetch lease's length.
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// # use std::time::Duration;
    /// assert_eq!(SharedTier::default().lease_time(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub const fn lease_time(&self) -> Duration {
        self.lease
    }

    /// How long a replica waits for another's fetch.
    ///
    /// ```
    /// # use cache_core::backplane::SharedTier;
    /// # use std::time::Duration;
    /// assert_eq!(SharedTier::default().wait_time(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub const fn wait_time(&self) -> Duration {
        match self.wait {
            Some(wait) => wait,
            None => self.lease,
        }
    }
}

/// What a cache's shared tier did: see [`TtlCache::tier_stats`]. Counters only grow.
///
/// ```
/// use cache_core::backplane::TierStats;
/// let none = TierStats::default();
/// assert_eq!(none.hits + none.misses, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierStats {
    /// Misses here answered from the tier (no upstream call).
    pub hits: u64,
    /// Misses here that found only an expired value in the tier, kept there for the stale
    /// windows: stored here as an expired value (to serve stale if the fetch fails, or at once
    /// while revalidating) and fetched anew.
    pub stale: u64,
    /// Misses in the tier too, fetched here under the key's lease.
    pub misses: u64,
    /// Misses that waited for another replica's fetch of the key.
    pub waited: u64,
    /// Of those, the ones that waited out [`SharedTier::wait`] and fetched themselves.
    pub waited_out: u64,
    /// Misses that did not ask the tier: the backplane was not healthy, or an invalidation
    /// made here had not reached Redis yet.
    pub skipped: u64,
    /// Reads that failed or took longer than [`SharedTier::timeout`]: fetched as without
    /// the tier.
    pub unavailable: u64,
    /// Values in the tier that did not decode (another build's type or version, or garbage):
    /// fetched and written over.
    pub undecodable: u64,
    /// Values not shared for their size.
    pub too_large: u64,
    /// Values sent to the tier.
    pub writes: u64,
    /// Of those, refused because an invalidation had bumped a generation since their fetch
    /// began.
    pub writes_refused: u64,
    /// Of those, not answered in time (or failed).
    pub write_errors: u64,
}

impl<G, K, V> CacheBuilder<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Shares this cache's values with the other replicas through Redis (feature
    /// `redis-tier`), once the cache is [`attach`](crate::backplane::attach)ed to the
    /// installed backplane: on a miss here, the tier is read before fetching, and a fetched
    /// value is written to it, with what is left of its TTL (and kept past it for the cache's
    /// longer stale window, so that a replica without it may serve it stale), if no
    /// invalidation of its key (its group, the cache) was delivered since its fetch began; one
    /// replica fetches a cold key while the others wait for its value. Values are encoded with postcard. See
    /// [`SharedTier`] and the README's "Sharing across replicas".
    ///
    /// ```
    /// use cache_core::{backplane::SharedTier, TtlCache};
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, String, Vec<String>> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .name("folders")
    ///     .shared_tier(SharedTier::new())
    ///     .build()
    ///     .unwrap();
    /// assert!(cache.tier_stats().is_some());
    /// ```
    pub fn shared_tier(mut self, tier: SharedTier) -> Self {
        self.tier = Some(tier.setup());
        self
    }
}

impl SharedTier {
    /// What a cache of `V`s keeps of these settings: the codec, and counters of its own.
    pub(crate) fn setup<V: Serialize + DeserializeOwned>(self) -> TierSetup<V> {
        TierSetup {
            encode: encode::<V>,
            decode: decode::<V>,
            lease: self.lease,
            wait: self.wait_time(),
            timeout: self.timeout,
            max_bytes: self.max_bytes,
            version: self.version,
            counters: Arc::new(TierCounters::default()),
        }
    }
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// What the shared tier did, if the cache was built with one.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.tier_stats(), None);
    /// ```
    #[must_use]
    pub fn tier_stats(&self) -> Option<TierStats> {
        Some(TierStats::of(&self.inner.tier.get()?.counters))
    }
}

impl TierStats {
    /// A snapshot of `c`.
    pub(crate) fn of(c: &TierCounters) -> Self {
        let load = TierCounters::load;
        Self {
            hits: load(&c.hits),
            stale: load(&c.stale),
            misses: load(&c.misses),
            waited: load(&c.waited),
            waited_out: load(&c.waited_out),
            skipped: load(&c.skipped),
            unavailable: load(&c.unavailable),
            undecodable: load(&c.undecodable),
            too_large: load(&c.too_large),
            writes: load(&c.writes),
            writes_refused: load(&c.writes_refused),
            write_errors: load(&c.write_errors),
        }
    }
}

/// What `#[ttl_cached(shared_tier = ..)]` requires of a function's value (feature
/// `redis-tier`): it is sent to Redis with serde, so it must be serde's `Serialize` and
/// `Deserialize`. Named here so that a compile error about the value names it; you do not
/// implement it.
///
/// ```
/// use cache_core::ttl_cached;
/// use std::sync::Arc;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// pub struct Folder { pub id: u64, pub name: String }
///
/// // `Arc<Vec<Folder>>` is `SharedValue`: `Folder` is, and `Arc` is with serde's `rc`
/// // feature, which cache-core's `redis-tier` enables.
/// #[ttl_cached(ttl = 60, key = "<user_id>", shared_tier = true)]
/// async fn list_folders(user_id: u64) -> Result<Arc<Vec<Folder>>, String> {
///     Ok(Arc::new(vec![Folder { id: user_id, name: "inbox".into() }]))
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`shared_tier` sends the function's value to Redis, so `{Self}` must implement serde's `Serialize` and `Deserialize`",
    label = "the value of this function is shared through Redis",
    note = "derive `serde::Serialize` and `serde::Deserialize` for the value type (for an `Arc<T>` or a `Vec<T>`, on `T`); or remove `shared_tier`"
)]
pub trait SharedValue: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> SharedValue for T {}

/// `shared_tier = true` on a cached function: its cache's tier, with [`SharedTier`]'s defaults,
/// set on its first miss. Public at the crate root so that rustc's notes name it there.
#[doc(hidden)]
#[inline]
pub fn shared_tier<GP, RP, P>(handle: &'static CacheHandle, key: &Key<GP, RP>, policy: &P)
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: Clone + Send + Sync + 'static + SharedValue,
{
    shared_tier_with(handle, key, policy, SharedTier::new);
}

/// `shared_tier = NAME`: as [`shared_tier`], with the settings `NAME` holds, read once.
#[doc(hidden)]
#[inline]
pub fn shared_tier_with<GP, RP, P>(
    handle: &'static CacheHandle,
    _key: &Key<GP, RP>,
    _policy: &P,
    settings: impl FnOnce() -> SharedTier,
) where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: Clone + Send + Sync + 'static + SharedValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    if cache.tier.get().is_none() {
        let _ = cache.tier.set(settings().setup::<P::Value>());
    }
}

/// 64-bit FNV-1a of `V`'s type name: the same in every build of the same code (and, unlike a
/// `TypeId`, across processes).
fn fingerprint<V>() -> u64 {
    std::any::type_name::<V>()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The header every value starts with.
fn header<V>(version: u32) -> [u8; 13] {
    let mut out = [0; 13];
    out[0] = FORMAT;
    out[1..9].copy_from_slice(&fingerprint::<V>().to_le_bytes());
    out[9..].copy_from_slice(&version.to_le_bytes());
    out
}

fn encode<V: Serialize>(value: &V, version: u32) -> Option<Vec<u8>> {
    let out = header::<V>(version).to_vec();
    postcard::to_extend(value, out).ok()
}

fn decode<V: DeserializeOwned>(bytes: &[u8], version: u32) -> Option<V> {
    let body = bytes.strip_prefix(&header::<V>(version)[..])?;
    match postcard::take_from_bytes(body) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn values_round_trip_and_other_types_and_versions_are_refused() {
        let value = vec![("a".to_owned(), 7u64)];
        let bytes = encode(&value, 1).unwrap();
        assert_eq!(decode::<Vec<(String, u64)>>(&bytes, 1), Some(value));
        assert_eq!(decode::<Vec<(String, u64)>>(&bytes, 2), None);
        assert_eq!(decode::<Vec<(String, u32)>>(&bytes, 1), None);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode::<Vec<(String, u64)>>(&trailing, 1), None);
        assert_eq!(
            decode::<Vec<(String, u64)>>(&bytes[..bytes.len() - 1], 1),
            None
        );
        assert_eq!(decode::<Vec<(String, u64)>>(b"garbage", 1), None);
    }
}

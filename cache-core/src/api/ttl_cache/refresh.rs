//! [`TtlCache`]'s verbs that fetch or write one key anew, whatever is stored: `refresh`,
//! `try_refresh` and `insert`.

use std::future::Future;
use std::hash::Hash;

use scc::Equivalent;

use super::TtlCache;
use crate::cache::upstream::{Outcome, Upstream};
use crate::engine::policy::{Plain, TryRetry};
use crate::keys::borrowed::ToKey;
use crate::keys::lookup::Pair;
#[cfg(feature = "redis")]
use crate::seam;

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Runs `fetch` now for `(group, key)`, stores its value (unless an invalidation of the key
    /// ran meanwhile, as for any fetch) and returns it: for a user who asks to see the latest
    /// data of one entry.
    ///
    /// It does not read the cache and does not wait for a fetch of the key that began before
    /// it; that fetch's value goes to the callers already waiting for it, and is not stored.
    /// From the call on, the key's stored value is gone: callers that arrive while `fetch` runs
    /// wait for it and receive its value, and none receives a value fetched before the call.
    /// (The entry removed counts as [`invalidated`](crate::CacheStats::invalidated), and the
    /// refresh as a miss.) If the caller is cancelled, or `fetch` panics, a waiting caller takes
    /// over, as with [`get_with`](Self::get_with).
    ///
    /// With a shared tier (`CacheBuilder::shared_tier`, feature `redis-tier`), the value is
    /// written to the tier too: before `fetch` runs, the refresh waits for its key invalidation
    /// to reach Redis (at most the tier's `timeout`) and reads the generations it left, which
    /// the write then checks.
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
        let replaced = self.publish_replaced(group, key);
        #[cfg(feature = "redis-tier")]
        self.inner.before_refresh(&lead.flight, replaced).await;
        #[cfg(not(feature = "redis-tier"))]
        let _ = replaced;
        let upstream = Upstream::begin(self.inner.name());
        let value = upstream.watch(fetch()).await;
        upstream.end(Outcome::Ok);
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
        let replaced = self.publish_replaced(group, key);
        #[cfg(feature = "redis-tier")]
        self.inner.before_refresh(&lead.flight, replaced).await;
        #[cfg(not(feature = "redis-tier"))]
        let _ = replaced;
        let upstream = Upstream::begin(self.inner.name());
        let outcome = upstream.watch(fetch()).await;
        upstream.end(Outcome::of(outcome.is_err()));
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
    /// [`Invalidated`](crate::Invalidated) is held) at that moment, the same rule that keeps a
    /// fetch racing an invalidation out of the cache. Invalidations of other groups and keys do
    /// not affect it.
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
        // Not written to the shared tier: the value predates the generations a read now would
        // give, so it could not be told from a value an invalidation since then revoked.
        let _ = self.publish_replaced(group, key);
        lead.finish(value, &Plain::<V>::NEW).await;
    }
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// After `refresh`, `try_refresh` or `insert` removed the key's value here: the other
    /// replicas drop it too and fetch it anew (see `seam/`). Nothing without the `redis`
    /// feature.
    #[inline]
    fn publish_replaced<QG, QK>(&self, group: &QG, key: &QK) -> Replaced
    where
        QG: ?Sized + ToKey<G>,
        QK: ?Sized + ToKey<K>,
    {
        #[cfg(feature = "redis")]
        return self.inner.teller().and_then(|(cache, codec)| {
            seam::key_replaced(
                cache,
                |out| (codec.group)(&group.to_key(), out),
                |out| (codec.key)(&key.to_key(), out),
            )
        });
        #[cfg(not(feature = "redis"))]
        {
            let _ = (group, key);
            None
        }
    }
}

/// The delivery of a refresh's or insert's key invalidation to the other replicas (feature
/// `redis`): awaited only by a refresh with a shared tier.
#[cfg(feature = "redis")]
type Replaced = Option<crate::seam::Delivery>;
#[cfg(not(feature = "redis"))]
type Replaced = Option<std::convert::Infallible>;

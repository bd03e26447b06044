//! [`TtlCache`]'s verbs that evict: a group, a key, everything, or what has expired.

use std::hash::Hash;

use scc::Equivalent;

use super::TtlCache;
use crate::cache::invalidated::Invalidated;
use crate::keys::borrowed::ToKey;
use crate::keys::lookup::{GroupOnly, Pair};
#[cfg(feature = "redis")]
use crate::seam;

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
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
        let invalidated = invalidated.delivering(self.inner.teller().and_then(|(cache, codec)| {
            seam::group_invalidated(cache, |out| (codec.group)(&group.to_key(), out))
        }));
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
        let invalidated = invalidated.delivering(self.inner.teller().and_then(|(cache, codec)| {
            seam::key_invalidated(
                cache,
                |out| (codec.group)(&group.to_key(), out),
                |out| (codec.key)(&key.to_key(), out),
            )
        }));
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
        let invalidated = invalidated
            .delivering((self.inner.teller()).and_then(|(cache, _)| seam::cleared(cache)));
        invalidated
    }

    /// Removes every expired entry now and returns how many were removed. With a stale window
    /// ([`CacheBuilder::stale_while_revalidate`](crate::CacheBuilder::stale_while_revalidate),
    /// [`CacheBuilder::stale_if_error`](crate::CacheBuilder::stale_if_error)), an entry counts as
    /// expired once the longer window after its TTL has passed too: until then it may still be
    /// served stale.
    ///
    /// Not needed for correctness or to bound memory: expired entries count against the
    /// capacity and are the first evicted, every miss and invalidation removes a few, and an
    /// expired entry is never served. Useful to free their values in a quiet period, or before
    /// reading [`len`](Self::len). The removed values are dropped before it returns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_millis(50)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// tokio::time::sleep(Duration::from_millis(60)).await;
    /// assert_eq!(cache.purge_expired().await, 1);
    /// assert!(cache.is_empty());
    /// # }
    /// ```
    pub async fn purge_expired(&self) -> usize {
        self.inner.purge_expired().await
    }
}

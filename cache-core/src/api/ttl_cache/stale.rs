//! [`TtlCache`]'s stale-while-revalidate verbs: see `features/stale.rs` for how a value is
//! served stale and refreshed in the background.

use std::future::Future;
use std::hash::Hash;

use scc::Equivalent;

use super::TtlCache;
use crate::engine::policy::{Classified, Plain, TryRetry};
use crate::features::stale::Revalidating;
use crate::keys::borrowed::ToKey;
use crate::keys::lookup::Pair;

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Like [`get_with`](Self::get_with), serving stale while revalidating: within the
    /// [`stale_while_revalidate`](crate::CacheBuilder::stale_while_revalidate) window after
    /// the key's value expired, returns that value at once and refreshes it in the background,
    /// once: `fetch` runs in a task spawned on the caller's tokio runtime, unless a fetch of
    /// the key is already running (which callers then share, as with any fetch). Its value is
    /// stored unless the key, its group, or the cache was invalidated while it ran. Outside the
    /// window, or with no tokio runtime, it behaves as `get_with`.
    ///
    /// `fetch` is called by the caller, and the future it returns must be `Send + 'static`
    /// (it may become a task, which holds a clone of this handle); `fetch` itself may borrow.
    /// An invalidated value is never served, stale or not. A panic in a background refresh is
    /// caught and counted ([`refreshes_failed`](crate::CacheStats::refreshes_failed)); the
    /// stale value stays until its window ends.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, String> = TtlCache::builder()
    ///     .ttl(Duration::from_millis(50))
    ///     .stale_while_revalidate(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// cache.get_with_stale("alice", &1, || async { "v1".to_string() }).await;
    /// tokio::time::sleep(Duration::from_millis(60)).await; // expired, inside the window
    ///
    /// // Answered at once with the expired value; the refresh runs in the background.
    /// let v = cache.get_with_stale("alice", &1, || async { "v2".to_string() }).await;
    /// assert_eq!(v, "v1");
    /// assert_eq!(cache.stats().refreshes_started, 1);
    /// tokio::task::yield_now().await; // let the refresh run
    /// assert_eq!(cache.get("alice", &1).as_deref(), Some("v2"));
    /// # }
    /// ```
    pub async fn get_with_stale<QG, QK, F, Fut>(&self, group: &QG, key: &QK, fetch: F) -> V
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let probe = Pair { group, rest: key };
        let inner = &self.inner;
        if let Some(value) = inner.lookup(&probe) {
            return value;
        }
        match inner.serve_stale(inner, &probe, Plain::<V>::NEW, fetch) {
            Ok(value) => value,
            Err(fetch) => match inner
                .start_revalidating(inner, &probe, &Plain::<V>::NEW)
                .await
            {
                Revalidating::Done(value) => value,
                Revalidating::Lead(lead) => inner.lead_soft(inner, lead, fetch(), Plain::NEW).await,
                Revalidating::Stale(value, refresh) => {
                    refresh.spawn(fetch(), Plain::<V>::NEW);
                    value
                }
            },
        }
    }

    /// [`get_with_stale`](Self::get_with_stale) for a fallible fetch, as
    /// [`try_get_with`](Self::try_get_with) is for `get_with`: an `Err` of a background
    /// refresh is counted ([`refreshes_failed`](crate::CacheStats::refreshes_failed)), not
    /// stored, and leaves the stale value in place until its window ends.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returned, when it ran inline (outside the window) and no
    /// [`stale_if_error`](crate::CacheBuilder::stale_if_error) value could stand in for it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> = TtlCache::builder()
    ///     .ttl(Duration::from_millis(50))
    ///     .stale_while_revalidate(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// let first = cache.try_get_with_stale("u", &1, || async { Ok::<_, String>(1) }).await;
    /// assert_eq!(first, Ok(1));
    /// tokio::time::sleep(Duration::from_millis(60)).await;
    /// // The upstream fails: callers keep getting the stale value meanwhile.
    /// let stale = cache
    ///     .try_get_with_stale("u", &1, || async { Err::<u64, _>("429".to_string()) })
    ///     .await;
    /// assert_eq!(stale, Ok(1));
    /// tokio::task::yield_now().await;
    /// assert_eq!(cache.stats().refreshes_failed, 1);
    /// # }
    /// ```
    pub async fn try_get_with_stale<QG, QK, F, Fut, E>(
        &self,
        group: &QG,
        key: &QK,
        fetch: F,
    ) -> Result<V, E>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + 'static,
    {
        let probe = Pair { group, rest: key };
        let inner = &self.inner;
        if let Some(value) = inner.lookup(&probe) {
            return Ok(value);
        }
        let policy = || Classified {
            policy: TryRetry::<V, E>::NEW,
            classify: inner.classify.clone(),
            timeout_error: inner.timeout_error.clone(),
        };
        match inner.serve_stale(inner, &probe, policy(), fetch) {
            Ok(outcome) => outcome,
            Err(fetch) => {
                let policy = policy();
                match inner.start_revalidating(inner, &probe, &policy).await {
                    Revalidating::Done(outcome) => outcome,
                    Revalidating::Lead(lead) => inner.lead_soft(inner, lead, fetch(), policy).await,
                    Revalidating::Stale(outcome, refresh) => {
                        refresh.spawn(fetch(), policy);
                        outcome
                    }
                }
            }
        }
    }
}

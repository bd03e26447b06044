//! [`Invalidated`]: what an invalidation returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use smallvec::SmallVec;

use crate::engine::fence::Raised;
#[cfg(feature = "redis")]
use crate::seam::{Delivery, PublishError};

/// The outcome of an invalidation ([`TtlCache::invalidate_group`](crate::TtlCache::invalidate_group),
/// [`invalidate`](crate::TtlCache::invalidate), [`clear`](crate::TtlCache::clear),
/// [`CacheHandle::clear`](crate::CacheHandle::clear) and the generated `invalidate_*`
/// companions), as a future that yields how much was removed.
///
/// The invalidation has already taken effect when the call that returned this value returned,
/// and the values it removed have been dropped: awaiting it only yields the count. Dropping it
/// unawaited invalidates all the same, so `let _ = invalidate_list_folders(user, provider);`
/// in a credential-change handler is not a silent hole.
///
/// The invalidation counts as returned when this value completes (is awaited) or is dropped:
/// until then, fetches of what it invalidated (its group, its key, its scope's group in each
/// cache, or the whole cache for a `clear`) that begin run without being stored or shared, so
/// that none of them outlives it. Every other group and key of the cache is shared and stored
/// as usual meanwhile: holding one costs the rest of the cache nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::TtlCache;
/// use std::time::Duration;
///
/// let cache: TtlCache<String, u32, u64> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// cache.get_with("alice", &1, || async { 1 }).await;
/// cache.get_with("alice", &2, || async { 2 }).await;
/// let _ = cache.invalidate("alice", &1); // not awaited: invalidated all the same
/// assert_eq!(cache.get("alice", &1), None);
/// assert_eq!(cache.invalidate_group("alice").await, 1);
/// # }
/// ```
#[must_use = "the invalidation has taken effect; await this to learn how much it removed"]
pub struct Invalidated<T> {
    count: Option<T>,
    /// The fences it holds (see `engine/fence.rs`): one per cache it invalidated, plus the scope's.
    in_progress: SmallVec<[Raised; 1]>,
    /// The publish of this invalidation beyond this process (the Redis backplane), if it has
    /// one: see `seam/`.
    #[cfg(feature = "redis")]
    delivery: Option<Delivery>,
}

impl<T> Invalidated<T> {
    pub(crate) fn new(count: T, in_progress: Raised) -> Self {
        Self {
            count: Some(count),
            in_progress: smallvec::smallvec![in_progress],
            #[cfg(feature = "redis")]
            delivery: None,
        }
    }

    /// An invalidation of a cache that does not exist yet: nothing to count.
    pub(crate) fn done(count: T) -> Self {
        Self {
            count: Some(count),
            in_progress: SmallVec::new(),
            #[cfg(feature = "redis")]
            delivery: None,
        }
    }

    /// Holds the fence `mark` too, until this completes or is dropped.
    pub(crate) fn hold(&mut self, mark: Raised) {
        self.in_progress.push(mark);
    }

    /// How much was removed, without awaiting.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.clear().count(), 0);
    /// ```
    pub fn count(mut self) -> T {
        self.in_progress.clear();
        self.count
            .take()
            .expect("`Invalidated` is only taken apart once: `count` consumes it")
    }
}

#[cfg(feature = "redis")]
impl<T> Invalidated<T> {
    /// Carries the publish of this invalidation (see `seam/`).
    pub(crate) fn delivering(mut self, delivery: Option<Delivery>) -> Self {
        self.delivery = delivery;
        self
    }

    /// Like awaiting it, and then waits for this invalidation's message to reach Redis (feature
    /// `redis`), at most the backplane's heartbeat timeout: `Ok` once it did, `Err` if it did not
    /// by then, so the other replicas may not have evicted yet (the message stays queued and
    /// is retried until delivered). The local invalidation took effect in the call either way,
    /// and the invalidation counts as returned (see above) before this waits. `Ok` at once where
    /// no backplane is installed or the cache does not take part.
    ///
    /// # Errors
    ///
    /// [`PublishError::Queued`](crate::backplane::PublishError::Queued) when the message had
    /// not reached Redis within the heartbeat timeout, [`PublishError::Closed`](crate::backplane::PublishError::Closed)
    /// when the backplane's task is gone.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// // No backplane installed: nothing to publish.
    /// assert_eq!(cache.invalidate_group("alice").published().await, Ok(1));
    /// # }
    /// ```
    pub async fn published(mut self) -> Result<T, PublishError> {
        self.in_progress.clear();
        let delivery = self.delivery.take();
        let count = self
            .count
            .take()
            .expect("`Invalidated` is only taken apart once: `published` consumes it");
        match delivery {
            Some(delivery) => delivery.await.map(|()| count),
            None => Ok(count),
        }
    }
}

impl<T> fmt::Debug for Invalidated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invalidated").finish_non_exhaustive()
    }
}

impl<T: Unpin> Future for Invalidated<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        this.in_progress.clear();
        match this.count.take() {
            Some(count) => Poll::Ready(count),
            // Polling a completed future is a caller's bug (the `Future` contract allows a
            // panic); say what happened rather than hang.
            None => panic!("`Invalidated` polled after it completed"),
        }
    }
}

impl Invalidated<usize> {
    /// Adds `other`'s count to this one and holds its marks too: the invalidations of a scope
    /// return together.
    pub(crate) fn absorb(&mut self, mut other: Invalidated<usize>) {
        if let (Some(total), Some(more)) = (self.count.as_mut(), other.count.take()) {
            *total += more;
        }
        self.in_progress.append(&mut other.in_progress);
    }

    /// The count so far.
    pub(crate) fn peek(&self) -> usize {
        self.count.unwrap_or(0)
    }
}

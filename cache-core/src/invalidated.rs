//! [`Invalidated`]: what an invalidation returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
}

impl<T> Invalidated<T> {
    pub(crate) fn done(count: T) -> Self {
        Self { count: Some(count) }
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
    pub fn count(self) -> T {
        self.count
            .expect("`Invalidated` is only taken apart once: `count` consumes it")
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
        match self.get_mut().count.take() {
            Some(count) => Poll::Ready(count),
            // Polling a completed future is a caller's bug (the `Future` contract allows a
            // panic); say what happened rather than hang.
            None => panic!("`Invalidated` polled after it completed"),
        }
    }
}

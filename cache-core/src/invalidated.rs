//! [`Invalidated`]: what an invalidation returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Rest<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The outcome of an invalidation ([`TtlCache::invalidate_group`](crate::TtlCache::invalidate_group),
/// [`invalidate`](crate::TtlCache::invalidate), [`clear`](crate::TtlCache::clear) and the
/// generated `invalidate_*` companions), as a future that yields how much was removed.
///
/// The invalidation has already taken effect when the call that returned this value returned:
/// awaiting it only yields the count. Dropping it unawaited invalidates all the same.
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
/// let _ = cache.invalidate_group("alice"); // not awaited: still invalidated
/// assert_eq!(cache.get("alice", &1), None);
/// # }
/// ```
#[must_use = "the invalidation has taken effect; await this to learn how many entries it removed"]
pub struct Invalidated<T> {
    state: State<T>,
}

enum State<T> {
    #[allow(dead_code)]
    Done(Option<T>),
    Running(Rest<T>),
}

impl<T> Invalidated<T> {
    #[allow(dead_code)] // until invalidations finish eagerly
    pub(crate) fn done(count: T) -> Self {
        Self {
            state: State::Done(Some(count)),
        }
    }

    pub(crate) fn running(rest: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            state: State::Running(Box::pin(rest)),
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        match &mut this.state {
            State::Done(count) => Poll::Ready(
                count
                    .take()
                    .expect("`Invalidated` polled after it completed"),
            ),
            State::Running(rest) => rest.as_mut().poll(cx),
        }
    }
}

//! The hard fetch timeout: a leader's fetch that runs past it is dropped (abandoned, its
//! upstream call with it), and the caller gets a typed error, [`FetchTimedOut`], converted into
//! the fetch's own error type. A timed-out fetch is a failure like any other: inside the
//! stale-if-error window the expired value stands in for it, and the upstream is throttled.

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::panic::AssertUnwindSafe;

/// The error a fetch that ran past its cache's fetch timeout is answered with, converted into
/// the fetch's error type (which implements `From<FetchTimedOut>`): set with
/// [`CacheBuilder::fetch_timeout`](crate::CacheBuilder::fetch_timeout) or
/// `#[ttl_cached(timeout = "10s")]`.
///
/// ```
/// use cache_core::FetchTimedOut;
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum ApiError {
///     TimedOut(Duration),
///     Status(u16),
/// }
///
/// impl From<FetchTimedOut> for ApiError {
///     fn from(timed_out: FetchTimedOut) -> Self {
///         ApiError::TimedOut(timed_out.after())
///     }
/// }
/// # let _ = ApiError::Status(503);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchTimedOut {
    after: Duration,
}

impl FetchTimedOut {
    /// The timeout the fetch ran past.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cache_core::{FetchTimedOut, TtlCache};
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .fetch_timeout::<FetchTimedOut>(Duration::from_millis(10))
    ///     .build()
    ///     .unwrap();
    /// let hung = || async {
    ///     tokio::time::sleep(Duration::from_secs(3600)).await;
    ///     Ok::<u64, FetchTimedOut>(1)
    /// };
    /// let timed_out = cache.try_get_with_shared("u", &1, hung).await.unwrap_err();
    /// assert_eq!(timed_out.after(), Duration::from_millis(10));
    /// # }
    /// ```
    #[must_use]
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for FetchTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the upstream fetch timed out after {:?}", self.after)
    }
}

impl std::error::Error for FetchTimedOut {}

/// A `TtlCache`'s conversion of [`FetchTimedOut`] into the error type it was given for, and
/// that type's id (a verb whose error type is another applies no timeout).
pub(crate) type TimeoutError = (
    TypeId,
    Arc<dyn Fn(FetchTimedOut) -> Box<dyn Any + Send> + Send + Sync>,
);

/// How a leader's fetch ended.
pub(crate) enum Fetched<O> {
    Done(O),
    Panicked(Box<dyn Any + Send>),
    TimedOut(FetchTimedOut),
}

/// A leader's fetch, polled under `catch_unwind`, for at most a limit; past it, the fetch is
/// no longer polled (its owner drops it). A plain future rather than an `async fn`: every
/// cached function instantiates it for its own body's future, and one type with one `poll` is
/// far less for rustc to check, lay out and compile per function than nested state machines.
/// The fetch is pinned by the caller, so no projection is needed here.
pub(crate) struct Fetching<'f, F> {
    fetch: Pin<&'f mut F>,
    /// The deadline and the limit it stands for, if the fetch is limited. Boxed: without a
    /// timeout, a cached function's future stays the size it was.
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
}

impl<'f, F: Future> Fetching<'f, F> {
    /// Starts the deadline, if `limit`; the fetch is first polled by the first poll of this.
    pub(crate) fn new(fetch: Pin<&'f mut F>, limit: Option<Duration>) -> Self {
        Self {
            fetch,
            deadline: limit.map(|limit| (Box::pin(tokio::time::sleep(limit)), limit)),
        }
    }
}

impl<F: Future> Future for Fetching<'_, F> {
    type Output = Fetched<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(done) = poll_catching(this.fetch.as_mut(), cx) {
            return Poll::Ready(match done {
                Ok(outcome) => Fetched::Done(outcome),
                Err(payload) => Fetched::Panicked(payload),
            });
        }
        if let Some((deadline, limit)) = &mut this.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Fetched::TimedOut(FetchTimedOut { after: *limit }));
            }
        }
        Poll::Pending
    }
}

/// One poll of the fetch under `catch_unwind`. Kept out of line: its landing pad would
/// otherwise be inlined into the cached function's own state machine, hit path included.
#[inline(never)]
fn poll_catching<F: Future>(
    mut fetch: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Box<dyn Any + Send>>> {
    let mut polled = Poll::Pending;
    match catching(&mut || polled = fetch.as_mut().poll(cx)) {
        Ok(()) => polled.map(Ok),
        Err(payload) => Poll::Ready(Err(payload)),
    }
}

/// Runs `poll` under `catch_unwind`. Takes a `dyn FnMut` so that `catch_unwind` and its
/// landing pads are compiled once, here, rather than once per cached function's body future.
#[inline(never)]
fn catching(poll: &mut dyn FnMut()) -> Result<(), Box<dyn Any + Send>> {
    // Unwind safety: after a panic the fetch is never polled again, and what the cache shares
    // is only touched by the settling code, which runs after this returns.
    std::panic::catch_unwind(AssertUnwindSafe(poll))
}

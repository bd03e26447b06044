//! [`Delivery`]: the outcome of an invalidation's publish beyond this process, and
//! [`PublishError`], why it failed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why an invalidation's message did not reach Redis: see
/// [`Invalidated::published`](crate::Invalidated::published). The local invalidation took
/// effect all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// Not delivered within the backplane's heartbeat timeout (Redis unreachable, or frozen):
    /// the message stays queued and is retried until delivered; the last error.
    Queued(String),
    /// The backplane's task is gone (its runtime shut down).
    Closed,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued(e) => write!(f, "invalidation not published yet (queued, retried): {e}"),
            Self::Closed => f.write_str("invalidation not published: the backplane is gone"),
        }
    }
}

impl std::error::Error for PublishError {}

/// The outcome of one invalidation's publish, by every observer that publishes it: awaited by
/// [`Invalidated::published`](crate::Invalidated::published). `Err` as soon as one fails.
pub(crate) enum Delivery {
    /// Failed before it was tried.
    Failed(PublishError),
    /// Its outcome, as a future the observer made.
    Future(Pin<Box<dyn Future<Output = Result<(), PublishError>> + Send>>),
    /// The deliveries of several observers, awaited in turn.
    All(Vec<Delivery>),
}

impl Delivery {
    /// This delivery and `other`: done when both are, failed when one is.
    pub(crate) fn and(self, other: Self) -> Self {
        match self {
            Self::All(mut all) => {
                all.push(other);
                Self::All(all)
            }
            one => Self::All(vec![one, other]),
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "Delivery::Failed({e:?})"),
            Self::Future(_) => f.write_str("Delivery::Future"),
            Self::All(all) => f.debug_tuple("Delivery::All").field(all).finish(),
        }
    }
}

impl Future for Delivery {
    type Output = Result<(), PublishError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Failed(e) => Poll::Ready(Err(e.clone())),
            Self::Future(future) => future.as_mut().poll(cx),
            Self::All(all) => {
                while let Some(first) = all.first_mut() {
                    match Pin::new(first).poll(cx) {
                        Poll::Ready(Ok(())) => drop(all.remove(0)),
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

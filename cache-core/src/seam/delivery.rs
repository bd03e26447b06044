//! [`Delivery`]: the outcome of an invalidation's publish beyond this process, and
//! [`PublishError`], why it failed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

/// Why an invalidation's message did not reach Redis: see
/// [`Invalidated::published`](crate::Invalidated::published). The local invalidation took
/// effect all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// Every attempt failed; the last error.
    Failed(String),
    /// The backplane's task is gone (its runtime shut down).
    Closed,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "invalidation not published: {e}"),
            Self::Closed => f.write_str("invalidation not published: the backplane is gone"),
        }
    }
}

impl std::error::Error for PublishError {}

/// The outcome of one invalidation's publish, by every observer that publishes it: awaited by
/// [`Invalidated::published`](crate::Invalidated::published). `Err` as soon as one fails.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// Its outcome, once the observer's task has tried.
    Pending(oneshot::Receiver<Result<(), PublishError>>),
    /// Failed before it was tried.
    Failed(PublishError),
    /// The deliveries of several observers, awaited in turn.
    All(Vec<Delivery>),
}

impl Delivery {
    /// A delivery whose outcome the observer sends later, and where it sends it.
    pub(crate) fn pending() -> (oneshot::Sender<Result<(), PublishError>>, Self) {
        let (done, outcome) = oneshot::channel();
        (done, Self::Pending(outcome))
    }

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

impl Future for Delivery {
    type Output = Result<(), PublishError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Pending(outcome) => Pin::new(outcome)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(PublishError::Closed))),
            Self::Failed(e) => Poll::Ready(Err(e.clone())),
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

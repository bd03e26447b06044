//! Retry hints of a cached function's errors: an error type that implements
//! [`RetryAfter`] has its hints honoured, found by autoref-based specialization on the concrete
//! return type, as [`ReturnTag`](super::ReturnTag) finds the policy. Only for functions that
//! serve stale, where a hint has something to extend.

use std::any::Any;
use std::marker::PhantomData;

use crate::engine::policy::Policy;
use crate::engine::throttle::{ErrorClass, RetryAfter};
use crate::policy::StoredValue;

/// The receiver of the retry-hint dispatch:
/// `(&&HintTag::<R>::NEW).__ttl_cached_hinted(policy)` wraps the policy in [`Hinted`] where
/// `R` is a `Result` whose error implements [`RetryAfter`], and returns it as it is otherwise.
#[derive(Debug)]
pub struct HintTag<R>(PhantomData<fn() -> R>);

impl<R> HintTag<R> {
    /// The tag.
    pub const NEW: Self = Self(PhantomData);
}

/// Dispatch level 1: an error type with retry hints.
pub trait HintedKind {
    /// The policy, reading the error's hints.
    fn __ttl_cached_hinted<P>(&self, policy: P) -> Hinted<P>;
}

impl<T, E: RetryAfter> HintedKind for &HintTag<Result<T, E>> {
    #[inline(always)]
    fn __ttl_cached_hinted<P>(&self, policy: P) -> Hinted<P> {
        Hinted(policy)
    }
}

/// Dispatch level 2: anything else.
pub trait UnhintedKind {
    /// The policy as it is.
    fn __ttl_cached_hinted<P>(&self, policy: P) -> P;
}

impl<R> UnhintedKind for HintTag<R> {
    #[inline(always)]
    fn __ttl_cached_hinted<P>(&self, policy: P) -> P {
        policy
    }
}

/// A policy whose errors' [`RetryAfter`] hints turn a transient failure into
/// [`ErrorClass::RetryAfter`].
#[derive(Debug)]
pub struct Hinted<P>(P);

impl<P, T, E> Policy for Hinted<P>
where
    P: Policy<Output = Result<T, E>>,
    E: RetryAfter,
{
    type Value = P::Value;
    type Output = P::Output;
    #[inline]
    fn storable(&self, outcome: &P::Output) -> Option<P::Value> {
        self.0.storable(outcome)
    }
    #[inline]
    fn keep(&self, value: &P::Value) -> bool {
        self.0.keep(value)
    }
    fn share(&self, outcome: &P::Output) -> Option<Box<dyn Any + Send + Sync>> {
        self.0.share(outcome)
    }
    #[inline]
    fn answer(&self, value: P::Value) -> P::Output {
        self.0.answer(value)
    }
    fn answer_shared(&self, shared: &(dyn Any + Send + Sync)) -> Option<P::Output> {
        self.0.answer_shared(shared)
    }
    #[inline]
    fn failed(&self, outcome: &P::Output) -> bool {
        outcome.is_err()
    }
    fn classify(&self, outcome: &P::Output) -> ErrorClass {
        let inner = self.0.classify(outcome);
        match (inner, outcome) {
            (ErrorClass::Transient, Err(error)) => error
                .retry_after()
                .map_or(ErrorClass::Transient, ErrorClass::RetryAfter),
            _ => inner,
        }
    }
    #[inline]
    fn times_out(&self) -> bool {
        self.0.times_out()
    }
    fn timed_out(&self, timed_out: crate::FetchTimedOut) -> Option<P::Output> {
        self.0.timed_out(timed_out)
    }
}

impl<P: StoredValue> StoredValue for Hinted<P> {
    type Stored = P::Stored;
}

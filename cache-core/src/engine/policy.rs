//! What to store, and what waiters receive, for each shape of fetch outcome.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::engine::throttle::ErrorClass;
use crate::engine::timeout::{FetchTimedOut, TimeoutError};

/// Decides, for a fetch outcome `Output`, which value (if any) the cache stores and what
/// coalesced waiters receive when nothing is stored.
///
/// The three policies are [`Plain`] (every value is stored), [`TryRetry`] (`Ok` is stored;
/// on `Err` waiters retry) and [`TryShared`] (`Ok` is stored; on `Err` waiters receive a clone
/// of the error, which is not stored either).
#[doc(hidden)]
pub trait Policy {
    /// What the cache stores.
    type Value;
    /// What the fetch returns and the caller receives.
    type Output;
    /// The value to store and hand to waiters, or `None` for an outcome that is not a value.
    fn storable(&self, outcome: &Self::Output) -> Option<Self::Value>;
    /// Whether a value is stored (else only handed to the waiters): `store_if`.
    #[inline]
    fn keep(&self, _value: &Self::Value) -> bool {
        true
    }
    /// A copy of a non-storable outcome for the waiters, or `None` to make them retry.
    fn share(&self, outcome: &Self::Output) -> Option<Box<dyn Any + Send + Sync>>;
    /// The caller's answer for a stored or shared value.
    fn answer(&self, value: Self::Value) -> Self::Output;
    /// The caller's answer for a shared non-storable outcome, if it has this policy's type.
    fn answer_shared(&self, shared: &(dyn Any + Send + Sync)) -> Option<Self::Output>;
    /// Whether `outcome` failed (an `Err`), without cloning its value.
    #[inline]
    fn failed(&self, outcome: &Self::Output) -> bool {
        self.storable(outcome).is_none()
    }
    /// What a failed `outcome` means for the expired value and the upstream (see
    /// `engine/throttle.rs`): by default, a transient failure.
    #[inline]
    fn classify(&self, _outcome: &Self::Output) -> ErrorClass {
        ErrorClass::Transient
    }
    /// Whether this outcome type can say that the fetch timed out ([`timed_out`](Self::timed_out)
    /// answers): only then is a cache's fetch timeout applied.
    #[inline]
    fn times_out(&self) -> bool {
        false
    }
    /// The outcome of a fetch that ran past the cache's timeout, if this type can say it.
    #[inline]
    fn timed_out(&self, _timed_out: FetchTimedOut) -> Option<Self::Output> {
        None
    }
}

/// Every outcome is a value and is stored.
#[doc(hidden)]
#[derive(Debug)]
pub struct Plain<V>(PhantomData<fn() -> V>);

impl<V> Plain<V> {
    /// The policy.
    pub const NEW: Self = Self(PhantomData);
}

impl<V: Clone> Policy for Plain<V> {
    type Value = V;
    type Output = V;
    #[inline]
    fn storable(&self, outcome: &V) -> Option<V> {
        Some(outcome.clone())
    }
    fn share(&self, _: &V) -> Option<Box<dyn Any + Send + Sync>> {
        None
    }
    #[inline]
    fn answer(&self, value: V) -> V {
        value
    }
    fn answer_shared(&self, _: &(dyn Any + Send + Sync)) -> Option<V> {
        None
    }
    #[inline]
    fn failed(&self, _: &V) -> bool {
        false
    }
}

/// `Ok` is stored; `Err` goes to the leader only, and its waiters retry.
#[doc(hidden)]
#[derive(Debug)]
pub struct TryRetry<V, E>(PhantomData<fn() -> (V, E)>);

impl<V, E> TryRetry<V, E> {
    /// The policy.
    pub const NEW: Self = Self(PhantomData);
}

impl<V: Clone, E> Policy for TryRetry<V, E> {
    type Value = V;
    type Output = Result<V, E>;
    #[inline]
    fn failed(&self, outcome: &Result<V, E>) -> bool {
        outcome.is_err()
    }
    fn storable(&self, outcome: &Result<V, E>) -> Option<V> {
        outcome.as_ref().ok().cloned()
    }
    fn share(&self, _: &Result<V, E>) -> Option<Box<dyn Any + Send + Sync>> {
        None
    }
    #[inline]
    fn answer(&self, value: V) -> Result<V, E> {
        Ok(value)
    }
    fn answer_shared(&self, _: &(dyn Any + Send + Sync)) -> Option<Result<V, E>> {
        None
    }
}

/// `Ok` is stored; `Err` is not stored, but the callers waiting on the same fetch receive a
/// clone of it instead of retrying one after another against a failing upstream.
#[doc(hidden)]
#[derive(Debug)]
pub struct TryShared<V, E>(PhantomData<fn() -> (V, E)>);

impl<V, E> TryShared<V, E> {
    /// The policy.
    pub const NEW: Self = Self(PhantomData);
}

impl<V: Clone, E: Clone + Send + Sync + 'static> Policy for TryShared<V, E> {
    type Value = V;
    type Output = Result<V, E>;
    #[inline]
    fn failed(&self, outcome: &Result<V, E>) -> bool {
        outcome.is_err()
    }
    fn storable(&self, outcome: &Result<V, E>) -> Option<V> {
        outcome.as_ref().ok().cloned()
    }
    fn share(&self, outcome: &Result<V, E>) -> Option<Box<dyn Any + Send + Sync>> {
        match outcome {
            Ok(_) => None,
            Err(e) => Some(Box::new(e.clone())),
        }
    }
    #[inline]
    fn answer(&self, value: V) -> Result<V, E> {
        Ok(value)
    }
    fn answer_shared(&self, shared: &(dyn Any + Send + Sync)) -> Option<Result<V, E>> {
        shared.downcast_ref::<E>().map(|e| Err(e.clone()))
    }
}

/// A [`TtlCache`](crate::TtlCache) error classifier
/// ([`CacheBuilder::classify_errors`](crate::CacheBuilder::classify_errors)), over the error
/// type it was given for: `None` for an error of another type.
pub(crate) type Classifier = Arc<dyn Fn(&dyn Any) -> Option<ErrorClass> + Send + Sync>;

/// A `Result` policy whose errors the cache's classifier classifies.
pub(crate) struct Classified<P> {
    pub(crate) policy: P,
    pub(crate) classify: Option<Classifier>,
    /// The cache's conversion of a fetch timeout into the verb's error type, if any.
    pub(crate) timeout_error: Option<TimeoutError>,
}

impl<P, V, E> Policy for Classified<P>
where
    P: Policy<Value = V, Output = Result<V, E>>,
    E: 'static,
{
    type Value = V;
    type Output = Result<V, E>;
    #[inline]
    fn storable(&self, outcome: &Result<V, E>) -> Option<V> {
        self.policy.storable(outcome)
    }
    #[inline]
    fn keep(&self, value: &V) -> bool {
        self.policy.keep(value)
    }
    fn share(&self, outcome: &Result<V, E>) -> Option<Box<dyn Any + Send + Sync>> {
        self.policy.share(outcome)
    }
    #[inline]
    fn answer(&self, value: V) -> Result<V, E> {
        self.policy.answer(value)
    }
    fn answer_shared(&self, shared: &(dyn Any + Send + Sync)) -> Option<Result<V, E>> {
        self.policy.answer_shared(shared)
    }
    #[inline]
    fn failed(&self, outcome: &Result<V, E>) -> bool {
        outcome.is_err()
    }
    fn classify(&self, outcome: &Result<V, E>) -> ErrorClass {
        match (outcome, &self.classify) {
            (Err(e), Some(classify)) => classify(e).unwrap_or_default(),
            _ => ErrorClass::Transient,
        }
    }
    fn times_out(&self) -> bool {
        self.timeout_error
            .as_ref()
            .is_some_and(|(of, _)| *of == std::any::TypeId::of::<E>())
    }
    fn timed_out(&self, timed_out: FetchTimedOut) -> Option<Result<V, E>> {
        let error = (self.timeout_error.as_ref()?.1)(timed_out);
        error.downcast::<E>().ok().map(|e| Err(*e))
    }
}

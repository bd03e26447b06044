//! What to store, and what waiters receive, for each shape of fetch outcome.

use std::any::Any;
use std::marker::PhantomData;

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

/// What a `#[ttl_cached]` function's value (its return type, or the `Ok` type of a `Result`)
/// must be to be cached: `Clone + Send + Sync + 'static`. Implemented for every such type; you
/// never implement it yourself. Named here so that a compile error about a value names it.
///
/// ```
/// fn is_cacheable<T: cache_core::Cacheable>() {}
/// is_cacheable::<std::sync::Arc<Vec<String>>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in the cache",
    label = "the cached value must be `Clone + Send + Sync + 'static`",
    note = "a cached value (the return type, or its `Ok` type for a `Result`) is cloned for every \
            caller and shared between threads: derive or implement `Clone` (wrap it in an `Arc` \
            to make clones cheap), and make it own its data (no borrowed references)"
)]
pub trait Cacheable: Clone + Send + Sync + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static> Cacheable for T {}

/// The type a policy stores: the return type, or its `Ok` type.
#[doc(hidden)]
pub trait StoredValue {
    /// The stored type.
    type Stored: ?Sized;
}

/// Checks the type the policy stores; the macro spans the call on the return type. Public at
/// the crate root so that rustc's notes name it there, not in a hidden module. The bound the
/// user's type fails is the first line of the `where` clause, on a parameter named for what it
/// is: rustc's note quotes that line and the signature, and nothing of the policy.
#[doc(hidden)]
#[inline(always)]
pub fn check_cached_value<CachedValue, P>(policy: P) -> P
where
    CachedValue: Cacheable,
    P: StoredValue<Stored = CachedValue>,
{
    policy
}

/// A policy whose values are stored only if `keep` says so: `#[ttl_cached(store_if = ..)]` and
/// `store_none = false`. A value not stored is still returned, and handed to the callers that
/// waited for it.
///
/// The predicate is a function pointer (a non-capturing closure or a function), so that the
/// policy is a policy whatever the predicate: a predicate of the wrong type is then one error,
/// where it is given, not one more at each use of the policy.
#[doc(hidden)]
pub struct KeepIf<P: Policy> {
    policy: P,
    keep: fn(&P::Value) -> bool,
}

impl<P: Policy + std::fmt::Debug> std::fmt::Debug for KeepIf<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepIf")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<P: Policy> Policy for KeepIf<P> {
    type Value = P::Value;
    type Output = P::Output;
    #[inline]
    fn storable(&self, outcome: &P::Output) -> Option<P::Value> {
        self.policy.storable(outcome)
    }
    #[inline]
    fn keep(&self, value: &P::Value) -> bool {
        (self.keep)(value) && self.policy.keep(value)
    }
    fn share(&self, outcome: &P::Output) -> Option<Box<dyn Any + Send + Sync>> {
        self.policy.share(outcome)
    }
    #[inline]
    fn answer(&self, value: P::Value) -> P::Output {
        self.policy.answer(value)
    }
    fn answer_shared(&self, shared: &(dyn Any + Send + Sync)) -> Option<P::Output> {
        self.policy.answer_shared(shared)
    }
}

impl<P: Policy + StoredValue> StoredValue for KeepIf<P> {
    type Stored = P::Stored;
}

/// `#[ttl_cached(store_if = PREDICATE)]`: the function's policy, storing a value only where
/// `PREDICATE(&value)` is true. The macro spans the call on the predicate, and a predicate of
/// the wrong type is a mismatch with the parameter `store_if: fn(&CachedValue) -> bool`.
#[doc(hidden)]
#[inline(always)]
pub fn store_if<CachedValue, P>(policy: P, store_if: fn(&CachedValue) -> bool) -> KeepIf<P>
where
    P: Policy<Value = CachedValue>,
{
    KeepIf {
        policy,
        keep: store_if,
    }
}

/// What `#[ttl_cached(store_none = false)]` requires of the cached value (the return type, or
/// its `Ok` type for a `Result`): an `Option`. Named here so that a compile error names it; you
/// never implement it.
///
/// ```
/// fn not_storing_none<T: cache_core::OptionValue>() {}
/// not_storing_none::<Option<String>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`store_none = false` applies to a cached value that is an `Option`, and `{Self}` is not one",
    label = "`store_none = false` given here",
    note = "the cached value is the return type, or its `Ok` type for a `Result`; to store only \
            some values of another type, use `store_if = |value| ...`"
)]
pub trait OptionValue {
    /// Whether the value is `Some`.
    fn is_some_value(&self) -> bool;
}

impl<T> OptionValue for Option<T> {
    #[inline]
    fn is_some_value(&self) -> bool {
        self.is_some()
    }
}

/// `#[ttl_cached(store_none = false)]`: the function's policy, storing no `None`. The macro
/// spans the call on `store_none`.
#[doc(hidden)]
#[inline(always)]
pub fn store_none_false<CachedValue, P>(policy: P) -> KeepIf<P>
where
    CachedValue: OptionValue,
    P: Policy<Value = CachedValue>,
{
    KeepIf {
        policy,
        keep: CachedValue::is_some_value,
    }
}

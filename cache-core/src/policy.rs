//! The value side of a `#[ttl_cached]` function: what its value must be, and which of its
//! results are stored.
//!
//! - [`check_cached_value`]: the value (the return type, or its `Ok` type) must be
//!   [`Cacheable`], checked on the user's return type.
//! - Results not stored: `store_if = PREDICATE` and `store_none = false` return the values they
//!   reject without storing them. A [`KeepIf`] policy wraps the function's policy (see
//!   `engine/policy.rs`, and `private/returns.rs` for which one a return type gets) and answers
//!   its [`keep`](Policy::keep) with the predicate; the flight's leader asks it before it stores.

use std::any::Any;

use crate::engine::policy::Policy;

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
    #[inline]
    fn failed(&self, outcome: &P::Output) -> bool {
        self.policy.failed(outcome)
    }
    #[inline]
    fn classify(&self, outcome: &P::Output) -> crate::ErrorClass {
        self.policy.classify(outcome)
    }
    #[inline]
    fn times_out(&self) -> bool {
        self.policy.times_out()
    }
    fn timed_out(&self, timed_out: crate::FetchTimedOut) -> Option<P::Output> {
        self.policy.timed_out(timed_out)
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

/// A policy whose errors are classified once more: `#[ttl_cached(serve_stale_if = ..)]` and
/// `revoke_if = ..` (see `engine/throttle.rs` for what each class does). A function pointer, as
/// for [`KeepIf`].
#[doc(hidden)]
pub struct ErrorRule<P, E> {
    policy: P,
    rule: fn(&E) -> bool,
    /// Whether the rule says which errors revoke (else which may be papered over).
    revokes: bool,
}

impl<P: std::fmt::Debug, E> std::fmt::Debug for ErrorRule<P, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorRule")
            .field("policy", &self.policy)
            .field("revokes", &self.revokes)
            .finish_non_exhaustive()
    }
}

impl<P, T, E> Policy for ErrorRule<P, E>
where
    P: Policy<Output = Result<T, E>>,
{
    type Value = P::Value;
    type Output = P::Output;
    #[inline]
    fn storable(&self, outcome: &P::Output) -> Option<P::Value> {
        self.policy.storable(outcome)
    }
    #[inline]
    fn keep(&self, value: &P::Value) -> bool {
        self.policy.keep(value)
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
    #[inline]
    fn failed(&self, outcome: &P::Output) -> bool {
        outcome.is_err()
    }
    fn classify(&self, outcome: &P::Output) -> crate::ErrorClass {
        let inner = self.policy.classify(outcome);
        let Err(error) = outcome else {
            return inner;
        };
        match (self.revokes, (self.rule)(error)) {
            (true, true) => crate::ErrorClass::Revoke,
            (false, false) if inner.papered_over() => crate::ErrorClass::Surface,
            _ => inner,
        }
    }
    #[inline]
    fn times_out(&self) -> bool {
        self.policy.times_out()
    }
    fn timed_out(&self, timed_out: crate::FetchTimedOut) -> Option<P::Output> {
        self.policy.timed_out(timed_out)
    }
}

impl<P: StoredValue, E> StoredValue for ErrorRule<P, E> {
    type Stored = P::Stored;
}

/// `#[ttl_cached(serve_stale_if = PREDICATE)]`: only the errors for which `PREDICATE(&error)`
/// is true may be papered over with the expired value (and throttle the upstream); the others
/// reach the caller. The macro spans the call on the predicate.
#[doc(hidden)]
#[inline(always)]
pub fn serve_stale_if<Error, T, P>(
    policy: P,
    serve_stale_if: fn(&Error) -> bool,
) -> ErrorRule<P, Error>
where
    P: Policy<Output = Result<T, Error>>,
{
    ErrorRule {
        policy,
        rule: serve_stale_if,
        revokes: false,
    }
}

/// `#[ttl_cached(revoke_if = PREDICATE)]`: an error for which `PREDICATE(&error)` is true
/// invalidates the key's group at once and reaches the caller, never papered over. The macro
/// spans the call on the predicate.
#[doc(hidden)]
#[inline(always)]
pub fn revoke_if<Error, T, P>(policy: P, revoke_if: fn(&Error) -> bool) -> ErrorRule<P, Error>
where
    P: Policy<Output = Result<T, Error>>,
{
    ErrorRule {
        policy,
        rule: revoke_if,
        revokes: true,
    }
}

/// A `Result` policy whose fetch may time out: `#[ttl_cached(timeout = "10s")]`. A fetch past
/// the cache's timeout is answered with `Err(E::from(FetchTimedOut))`. The conversion is a
/// function pointer taken where the bound is checked ([`fetch_timeout`]), so that an error type
/// without it is one error there.
#[doc(hidden)]
pub struct TimesOut<P, E> {
    policy: P,
    make: fn(crate::FetchTimedOut) -> E,
}

impl<P: std::fmt::Debug, E> std::fmt::Debug for TimesOut<P, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimesOut")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<P, T, E> Policy for TimesOut<P, E>
where
    P: Policy<Output = Result<T, E>>,
{
    type Value = P::Value;
    type Output = P::Output;
    #[inline]
    fn storable(&self, outcome: &P::Output) -> Option<P::Value> {
        self.policy.storable(outcome)
    }
    #[inline]
    fn keep(&self, value: &P::Value) -> bool {
        self.policy.keep(value)
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
    #[inline]
    fn failed(&self, outcome: &P::Output) -> bool {
        outcome.is_err()
    }
    fn classify(&self, outcome: &P::Output) -> crate::ErrorClass {
        self.policy.classify(outcome)
    }
    #[inline]
    fn times_out(&self) -> bool {
        true
    }
    fn timed_out(&self, timed_out: crate::FetchTimedOut) -> Option<P::Output> {
        Some(Err((self.make)(timed_out)))
    }
}

impl<P: StoredValue, E> StoredValue for TimesOut<P, E> {
    type Stored = P::Stored;
}

/// `#[ttl_cached(timeout = "10s")]`: the function's error type must say that a fetch timed
/// out (`From<FetchTimedOut>`). The macro spans the call on `timeout`.
#[doc(hidden)]
#[inline(always)]
pub fn fetch_timeout<Error, T, P>(policy: P) -> TimesOut<P, Error>
where
    P: Policy<Output = Result<T, Error>>,
    Error: From<crate::FetchTimedOut>,
{
    TimesOut {
        policy,
        make: Error::from,
    }
}

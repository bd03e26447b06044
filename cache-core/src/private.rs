//! What `#[ttl_cached]` expansions call. Not public API: names and signatures here change
//! whenever the macro and the runtime change together.

use std::future::Future;
use std::marker::PhantomData;

pub use crate::flight::{Lead, Start};
pub use crate::handle::CacheHandle;
pub use crate::parts::{
    part, CacheKeyPart, Key, KeyPart, OptionPart, OptionRefPart, Part, PartList, PartTag, RefPart,
    ValuePart,
};
pub use crate::policy::{Plain, Policy, TryRetry, TryShared};

/// The receiver of the return-type dispatch.
///
/// `(&&&ReturnTag::<R>::NEW).__ttl_cached_policy()` picks, by autoref-based specialization on
/// the concrete return type (aliases such as `anyhow::Result<T>` included):
/// 1. `Result<T, E>` with `E: Clone + Send + Sync + 'static` → [`TryShared`]: `Ok` stored, the
///    error handed to coalesced waiters;
/// 2. any other `Result<T, E>` → [`TryRetry`]: `Ok` stored, waiters retry;
/// 3. anything else → [`Plain`]: every value stored.
#[derive(Debug)]
pub struct ReturnTag<R>(PhantomData<fn() -> R>);

impl<R> ReturnTag<R> {
    /// The tag.
    pub const NEW: Self = Self(PhantomData);
}

/// Dispatch level 1.
pub trait SharedErrKind {
    /// The policy.
    type Policy;
    /// The policy.
    fn __ttl_cached_policy(&self) -> Self::Policy;
}

impl<T, E: Clone + Send + Sync + 'static> SharedErrKind for &&ReturnTag<Result<T, E>> {
    type Policy = TryShared<T, E>;
    #[inline]
    fn __ttl_cached_policy(&self) -> TryShared<T, E> {
        TryShared::NEW
    }
}

/// Dispatch level 2.
pub trait RetryErrKind {
    /// The policy.
    type Policy;
    /// The policy.
    fn __ttl_cached_policy(&self) -> Self::Policy;
}

impl<T, E> RetryErrKind for &ReturnTag<Result<T, E>> {
    type Policy = TryRetry<T, E>;
    #[inline]
    fn __ttl_cached_policy(&self) -> TryRetry<T, E> {
        TryRetry::NEW
    }
}

/// Dispatch level 3.
pub trait PlainKind {
    /// The policy.
    type Policy;
    /// The policy.
    fn __ttl_cached_policy(&self) -> Self::Policy;
}

impl<R> PlainKind for ReturnTag<R> {
    type Policy = Plain<R>;
    #[inline]
    fn __ttl_cached_policy(&self) -> Plain<R> {
        Plain::NEW
    }
}

/// A type the cache can store.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in the cache",
    label = "the cached value is `{Self}`",
    note = "a cached value (the return type, or its `Ok` type for a `Result`) must be \
            `Clone + Send + Sync + 'static`; wrap it in an `Arc` to make it cheap to clone"
)]
pub trait CacheValue: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

/// Checks the stored type; spanned on the return type.
#[inline(always)]
pub fn value_check<P: Policy>(policy: P) -> P
where
    P::Value: CacheValue,
{
    policy
}

/// Fixes the fetch future's output to the function's return type, so `return` and `?` in the
/// body are checked against it, as they would be in the original `async fn`.
#[inline(always)]
pub fn fetch<R, F: Future<Output = R>>(future: F) -> F {
    future
}

/// The hit path and the start of the miss path of a `#[ttl_cached]` function.
#[inline]
pub async fn start<'c, GP, RP, P>(
    handle: &'c CacheHandle,
    key: &Key<GP, RP>,
    policy: &P,
) -> Start<P::Output, Lead<'c, GP::Owned, RP::Owned, P::Value>>
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    // Hits never leave this function: answer without entering the miss path's state machine.
    if let Some(value) = cache.lookup(key) {
        return Start::Done(policy.answer(value));
    }
    cache.start(key, policy).await
}

/// `invalidate_<fn>(group parameters...)`.
pub async fn invalidate_group<GP: PartList>(handle: &CacheHandle, group: &GP) -> usize {
    let owned = group.to_owned_parts();
    handle.invalidate_group_erased(&owned).await
}

//! The return-type dispatch: which [`Policy`] a cached function's return type gets, found by
//! autoref-based specialization on the concrete type.

use std::marker::PhantomData;

use crate::engine::policy::{Plain, Policy, TryRetry, TryShared};
use crate::policy::StoredValue;

/// The receiver of the return-type dispatch.
///
/// `(&&&&&ReturnTag::<R>::NEW).__ttl_cached_policy()` picks, by autoref-based specialization on
/// the concrete return type (aliases such as `anyhow::Result<T>` included), the first that
/// applies of:
/// 1. `Result<T, E>` with a storable `T` and `E: Clone + Send + Sync` → [`TryShared`]: `Ok`
///    stored, the error handed to coalesced waiters;
/// 2. `Result<T, E>` with a storable `T` → [`TryRetry`]: `Ok` stored, waiters retry;
/// 3. a storable `R` → [`Plain`]: every value stored;
/// 4. and 5. `Result<T, E>`, or any `R`, that cannot be stored → [`Unstorable`], a stand-in
///    that satisfies the rest of the expansion. The expansion then requires
///    `<P as StoredValue>::Stored: Clone + Send + Sync + 'static` through a check it generates,
///    spanned on the return type, which fails once, naming the user's type.
#[derive(Debug)]
pub struct ReturnTag<R>(PhantomData<fn() -> R>);

impl<R> ReturnTag<R> {
    /// The tag.
    pub const NEW: Self = Self(PhantomData);
}

macro_rules! dispatch_level {
    ($(#[$doc:meta])* $trait:ident, $receiver:ty, [$($params:tt)*], $policy:ty, $($bounds:tt)*) => {
        $(#[$doc])*
        pub trait $trait {
            /// The policy.
            type Policy;
            /// The policy.
            fn __ttl_cached_policy(&self) -> Self::Policy;
        }

        impl<$($params)*> $trait for $receiver where $($bounds)* {
            type Policy = $policy;
            #[inline]
            fn __ttl_cached_policy(&self) -> $policy {
                <$policy>::NEW
            }
        }
    };
}

dispatch_level!(
    /// Dispatch level 1.
    SharedErrKind, &&&&ReturnTag<Result<T, E>>, [T, E], TryShared<T, E>,
    T: Clone + Send + Sync, E: Clone + Send + Sync
);
dispatch_level!(
    /// Dispatch level 2.
    RetryErrKind, &&&ReturnTag<Result<T, E>>, [T, E], TryRetry<T, E>,
    T: Clone + Send + Sync
);
dispatch_level!(
    /// Dispatch level 3.
    PlainKind, &&ReturnTag<R>, [R], Plain<R>,
    R: Clone + Send + Sync
);
dispatch_level!(
    /// Dispatch level 4: a `Result` whose `Ok` type cannot be stored.
    UnstorableOkKind, &ReturnTag<Result<T, E>>, [T, E], Unstorable<Result<T, E>, T>,
);
dispatch_level!(
    /// Dispatch level 5: a return type that cannot be stored.
    UnstorableKind, ReturnTag<R>, [R], Unstorable<R, R>,
);

/// The stand-in policy for a return type whose stored part `S` is not
/// `Clone + Send + Sync + 'static`: it satisfies the expansion's other bounds so that the
/// expansion's own check reports the problem once, on the return type.
#[derive(Debug)]
pub struct Unstorable<R, S>(PhantomData<fn() -> (R, S)>);

impl<R, S> Unstorable<R, S> {
    /// The policy.
    pub const NEW: Self = Self(PhantomData);
}

impl<R, S> Policy for Unstorable<R, S> {
    type Value = ();
    type Output = R;
    fn storable(&self, _: &R) -> Option<()> {
        None
    }
    fn share(&self, _: &R) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        None
    }
    fn answer(&self, (): ()) -> R {
        unreachable!("an unstorable return type never compiles: the expansion rejects it")
    }
    fn answer_shared(&self, _: &(dyn std::any::Any + Send + Sync)) -> Option<R> {
        None
    }
}

impl<V> StoredValue for Plain<V> {
    type Stored = V;
}
impl<V, E> StoredValue for TryRetry<V, E> {
    type Stored = V;
}
impl<V, E> StoredValue for TryShared<V, E> {
    type Stored = V;
}
impl<R, S> StoredValue for Unstorable<R, S> {
    type Stored = S;
}

/// A type the cache can store.
pub trait CacheValue: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

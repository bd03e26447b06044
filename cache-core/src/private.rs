//! What `#[ttl_cached]` expansions call. Not public API: names and signatures here change
//! whenever the macro and the runtime change together.
//!
//! The macro's layer: it stands on everything below (the public API, the features, the cache)
//! and nothing but the backplane stands on it. Its parts, beside this file:
//!
//! - `private/miss.rs`: a cached function's hit and miss paths ([`lookup`], [`start`],
//!   [`complete`], [`join_scope`]); serving stale is here ([`start_stale`], [`revalidate`]);
//! - `private/companions.rs`: `refresh_<fn>`, `invalidate_<fn>`, `invalidate_<fn>_key`;
//! - `private/site.rs`: where a function's cache is found ([`SiteHandles`]);
//! - `private/returns.rs`: which policy a return type gets ([`ReturnTag`]); `private/hints.rs`:
//!   whether its errors carry retry hints ([`HintTag`]);
//! - `parts.rs`, `policy.rs` and `setting.rs`, at the crate's root: the key parts, the
//!   value policies and the named settings an expansion builds;
//! - here, the compile-time checks whose messages rustc shows on the user's code.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;

use crate::cache::Inner;
use crate::features::refresh;
use crate::features::scope::Scope;
use crate::features::stale::{Background, Revalidating};

#[path = "private/companions.rs"]
mod companions;
#[path = "private/hints.rs"]
mod hints;
#[path = "private/miss.rs"]
mod miss;
#[path = "private/returns.rs"]
mod returns;
#[path = "private/site.rs"]
mod site;

pub use crate::api::handle::CacheHandle;
pub use crate::engine::flight::{Lead, Start};
pub use crate::engine::policy::{Plain, Policy, TryRetry, TryShared};
pub use crate::features::refresh::{Refresh, Refreshing};
pub use crate::parts::{
    group_part, part, CacheKeyPart, CheckedPart, InvalidPart, Key, KeyPart, NotAKeyPart,
    NotOwnedPart, OptionPart, OptionRefPart, Part, PartList, PartTag, RefPart, RefRefPart, StrLike,
    StrPart, StrRefPart, UnownedPart, ValuePart,
};
pub use crate::policy::StoredValue;
pub use companions::{begin_refresh, invalidate_group, invalidate_key, refresh_later, refreshing};
pub use hints::{HintTag, Hinted, HintedKind, UnhintedKind};
pub use miss::{complete, join_scope, lookup, start};
pub use returns::{
    CacheValue, PlainKind, RetryErrKind, ReturnTag, SharedErrKind, Unstorable, UnstorableKind,
    UnstorableOkKind,
};
pub use site::{probe, SiteHandles};

/// What [`start_stale`] found: as [`Start`], or an expired value served at once
/// (`Stale`), with the background refresh the caller leads, if it does, to spawn with
/// [`revalidate`].
#[derive(Debug)]
pub enum StaleStart<O, L, R> {
    /// Answered: another caller's fetch, or a live value.
    Done(O),
    /// The caller fetches, inline.
    Lead(L),
    /// The expired value, and the refresh to spawn if no fetch of the key was running.
    Stale(O, Option<R>),
}

/// A background refresh a `stale = ".."` function's caller leads, not yet spawned: dropped
/// unspawned (the parameters' copies panicked), it abandons the key's flight, so that callers
/// waiting on it fetch themselves.
pub struct Revalidate<G, K, V>(Background<&'static Inner<G, K, V>, G, K, V>)
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static;

impl<G, K, V> fmt::Debug for Revalidate<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Revalidate")
    }
}

/// The miss path of a `stale = ".."` function: the expired value inside the window (and the
/// refresh to start, if the caller leads it), else as [`start`]. Nothing of the function's
/// parameters is needed yet: the caller copies them only when it fetches or refreshes.
pub async fn start_stale<GP, RP, P>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
    policy: &P,
) -> StaleStart<
    P::Output,
    Lead<'static, GP::Owned, RP::Owned, P::Value>,
    Revalidate<GP::Owned, RP::Owned, P::Value>,
>
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache: &'static Inner<GP::Owned, RP::Owned, P::Value> =
        handle.typed::<GP::Owned, RP::Owned, P::Value>();
    // Takes part in the backplane before its first fetch (or refresh) takes a stamp, as
    // `start` does.
    #[cfg(feature = "redis")]
    crate::api::remote::join_function::<GP, RP, _>(handle, cache);
    if let Some((answer, refresh)) = cache.claim_stale(&cache, key, policy) {
        return StaleStart::Stale(answer, refresh.map(Revalidate));
    }
    // Called by `refresh_<fn>`: lead its refresh (see `features/refresh.rs`).
    if let Some(taken) = refresh::take(cache) {
        return StaleStart::Lead(taken.lead(cache).await);
    }
    // With `shared_tier = ..`, the leader asks the tier first: another replica's expired
    // value, inside the window, is served stale while this flight refreshes it.
    match Box::pin(cache.start_revalidating(&cache, key, policy)).await {
        Revalidating::Done(done) => StaleStart::Done(done),
        Revalidating::Lead(lead) => StaleStart::Lead(lead),
        Revalidating::Stale(answer, refresh) => {
            StaleStart::Stale(answer, Some(Revalidate(refresh)))
        }
    }
}

/// A `stale = ".."` function's miss, as [`complete`] but under the cache's soft timeout
/// (`soft_timeout = ".."`, see `features/stale.rs`): past it, a caller whose key has an expired
/// value inside the stale-if-error window gets it while the body goes on in the background.
pub async fn complete_stale<R, F, G, K, P>(
    handle: &'static CacheHandle,
    lead: Lead<'static, G, K, P::Value>,
    fetch: F,
    policy: P,
) -> R
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    P: Policy<Output = R> + Send + Sync + 'static,
    P::Value: Clone + Send + Sync + 'static,
    R: Send,
    F: Future<Output = R> + Send + 'static,
{
    let cache: &'static Inner<G, K, P::Value> = handle.typed::<G, K, P::Value>();
    cache.lead_soft(&cache, lead, fetch, policy).await
}

/// Spawns a `stale = ".."` function's background refresh on the caller's runtime. `fetch` is
/// the function's body over owned copies of its parameters, so it must be `Send + 'static`.
pub fn revalidate<G, K, V, F, P>(refresh: Revalidate<G, K, V>, fetch: F, policy: P)
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    P: Policy<Value = V> + Send + Sync + 'static,
    P::Output: Send,
    F: Future<Output = P::Output> + Send + 'static,
{
    refresh.0.spawn(fetch, policy);
}

/// Required of the receiver's type by `stale = ".."` on a `&self` method: the background
/// refresh runs the body on a clone of `self`, in a task spawned on the caller's runtime.
#[diagnostic::on_unimplemented(
    message = "with `stale`, the background refresh runs on a clone of `self`, so `{Self}` must be `Clone + Send + Sync + 'static`",
    label = "the refresh runs on a clone of this `self`",
    note = "derive or implement `Clone` for `{Self}` (hold the client's state in an `Arc` to make the clone cheap), keep it `Send + Sync` and free of borrows; or use `stale_if_error = \"5m\"`, which serves the expired value when a fetch fails and runs no background refresh"
)]
pub trait StaleReceiver: Clone + Send + Sync + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static> StaleReceiver for T {}

/// The clone of `self` that a `stale` method's body runs on, made only when the body runs (a
/// miss, or the refresh of an expired value); fails with [`StaleReceiver`]'s message unless the
/// receiver's type can be cloned into the refresh.
#[inline]
pub fn clone_receiver<T: StaleReceiver>(receiver: &T) -> T {
    receiver.clone()
}

/// Required of `Self` by the companions of a method-level `#[ttl_cached]`: true of the self type
/// of every impl of a sized type, false of `Self` in a trait, where the companions would become
/// items of the trait.
#[diagnostic::on_unimplemented(
    message = "`#[ttl_cached]` on a trait's method would add its companions `<method>_cache` and `invalidate_<method>` to the trait",
    label = "cache the method in each impl of the trait instead",
    note = "in each impl, put `#[ttl_cached]` on the impl block and `#[ttl_cached(...)]` on the method; in an impl of an unsized type (`impl dyn Trait`), which the expansion cannot tell from a trait, put `#[ttl_cached]` on the impl block"
)]
pub trait MethodOfAnImpl {}

#[diagnostic::do_not_recommend]
impl<T> MethodOfAnImpl for T {}

/// Fails, with [`MethodOfAnImpl`]'s message, where `T` is a trait's `Self`.
#[inline]
pub fn method_of_an_impl<T: ?Sized + MethodOfAnImpl>() {}

/// The owned group of a function, as a type to compare with a scope's: see [`check_scope`].
#[derive(Debug)]
pub struct GroupParts<G>(PhantomData<G>);

/// Implemented exactly when a function's owned group parts are the scope's: `scope!` implements
/// it for its scope's group.
#[diagnostic::on_unimplemented(
    message = "this function's group does not have the parts of the scope `{S}`",
    label = "the group's parts must be the scope's, in the same order",
    note = "a function joins a scope only if its `group` template names parameters whose owned types are the types in the scope's declaration (`String` for a `&str` parameter), in order"
)]
pub trait GroupOfScope<S> {}

// Implemented by each `scope!` declaration, for its own group only. This impl, which no group
// meets, keeps that one impl from being the only candidate: with one, rustc would report a
// mismatch as a type equation between the expansion's internal types instead of this message.
#[diagnostic::do_not_recommend]
impl<S> GroupOfScope<S> for GroupParts<NoGroup> {}

/// A type no group has: see the impl above.
#[derive(Debug)]
pub enum NoGroup {}

/// Fails to compile, with [`GroupOfScope`]'s message, unless `GP`'s owned parts are `S`'s group.
#[inline]
pub fn check_scope<S, GP>(_group: &GP)
where
    S: Scope,
    GP: PartList,
    GroupParts<GP::Owned>: GroupOfScope<S>,
{
}

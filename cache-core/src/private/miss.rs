//! A cached function's calls: its hit path ([`lookup`]), its miss path ([`start`], then
//! [`complete`]), and, for a function in a scope, joining it first ([`join_scope`]). The
//! stale-while-revalidate miss path is in `private.rs`.

use std::future::Future;

use super::returns::CacheValue;
use crate::api::handle::CacheHandle;
use crate::cache::fetch::settle;
use crate::cache::upstream::Upstream;
use crate::engine::flight::{Lead, Start};
use crate::engine::policy::Policy;
use crate::features::refresh;
use crate::features::scope::ScopeCore;
use crate::parts::{Key, PartList};

/// The rest of a miss once the caller leads: runs the fetch, then stores and publishes its
/// outcome. One future for both, so that the cached function's own state machine has one
/// suspension point fewer (each costs every cached function type and borrow checking). `R`,
/// named by the expansion, fixes the fetch's output to the function's return type, so `return`
/// and `?` in the body are checked against it, as they would be in the original `async fn`.
pub async fn complete<R, F, G, K, P>(lead: Lead<'_, G, K, P::Value>, fetch: F, policy: &P) -> R
where
    F: Future<Output = R>,
    P: Policy<Output = R>,
{
    let upstream = Upstream::begin(lead.owner.name());
    // The only part of a miss compiled for each cached function: its body's future, pinned and
    // polled. Dropped here, before its outcome is settled.
    let fetched = {
        let fetch = std::pin::pin!(upstream.watch(fetch));
        lead.fetch(fetch, policy).await
    };
    settle(lead, upstream, fetched, policy).await
}

/// The hit path of a `#[ttl_cached]` function: plain synchronous code, so a hit does not
/// build or poll the miss path's future.
#[inline]
pub fn lookup<GP, RP, P>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
    policy: &P,
) -> Option<P::Output>
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    cache
        .store
        .lookup(key, cache.current_epoch())
        .map(|value| policy.answer(value))
}

/// The miss path of a `#[ttl_cached]` function: waits for a running fetch, or makes the caller
/// its leader.
pub async fn start<'c, GP, RP, P>(
    handle: &'static CacheHandle,
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
    // Called by `refresh_<fn>`: lead its refresh (see `features/refresh.rs`).
    if let Some(taken) = refresh::take(cache) {
        return Start::Lead(taken.lead(cache).await);
    }
    // Takes part in the backplane before its first fetch takes a stamp.
    #[cfg(feature = "redis")]
    crate::api::remote::join_function::<GP, RP, _>(handle, cache);
    // Boxed: the miss path's state machine stays out of the caller's future. With
    // `shared_tier = ..`, the leader asks the tier first.
    Box::pin(cache.start_tiered(key, policy)).await
}

/// A `scope = S` function's miss path and its `refresh_<fn>`: joins the function's cache to the
/// scope before the fetch or refresh takes its stamp (see `features/scope.rs`), once.
#[inline]
pub fn join_scope<GP, RP, P>(
    handle: &'static CacheHandle,
    _key: &Key<GP, RP>,
    _policy: &P,
    scope: &'static ScopeCore,
) where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    if cache.scope.get().is_none() {
        // The scope receives the other replicas' invalidations once a member is here.
        #[cfg(feature = "redis")]
        scope.join_fleet(GP::wire_decode);
        scope.join(handle);
        // From here, the scope's invalidations in progress fence this cache's fetches.
        let _ = cache.scope.set(&**scope.fences());
        // And an error that revokes invalidates the group in the whole scope.
        let _ = cache.joined.set(scope);
    }
}

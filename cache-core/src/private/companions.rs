//! A cached function's companions: `refresh_<fn>` ([`begin_refresh`], [`refreshing`], or
//! [`refresh_later`] for both),
//! `invalidate_<fn>` ([`invalidate_group`]) and `invalidate_<fn>_key` ([`invalidate_key`]).

use std::future::Future;

use super::returns::CacheValue;
use crate::api::handle::CacheHandle;
use crate::cache::invalidated::Invalidated;
use crate::engine::policy::Policy;
use crate::features::refresh::{Refresh, Refreshing};
use crate::parts::{Key, PartList};

/// `refresh_<fn>`, first half: leads a refresh of the key (taking its flight entry, removing its
/// stored value) and returns the leadership for [`refreshing`] to lend to the call of `<fn>`.
pub fn begin_refresh<GP, RP, P>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
    _policy: &P,
) -> Refresh
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    #[cfg(feature = "redis")]
    crate::api::remote::join_function::<GP, RP, _>(handle, cache);
    let lead = cache.lead_refresh(key);
    // The other replicas drop the key and fetch it anew.
    #[cfg(feature = "redis")]
    #[cfg_attr(not(feature = "redis-tier"), allow(unused_variables))]
    let replaced = crate::seam::key_replaced(
        handle.cache_id(),
        |out| GP::wire_encode(&key.group.to_owned_parts(), out),
        |out| RP::wire_encode(&key.rest.to_owned_parts(), out),
    );
    Refresh::new(
        cache,
        lead,
        #[cfg(feature = "redis-tier")]
        replaced,
    )
}

/// `refresh_<fn>`, second half: the call of `<fn>`, which leads the refresh.
pub fn refreshing<F: Future>(refresh: Refresh, call: F) -> Refreshing<F> {
    Refreshing::new(refresh, call)
}

/// `refresh_<fn>` as a plain `fn` (where the expansion can name every lifetime of its
/// parameters): the future it returns. `start`, called at the first poll and not before (as the
/// body of an `async fn` would run), begins the refresh with [`begin_refresh`] and makes the
/// call of `<fn>`, which is then polled as [`refreshing`] polls it.
///
/// Generic code of cache-core rather than an `async fn` of the user's crate: a non-generic
/// `async fn` is compiled where it is defined, with the cached function's whole state machine,
/// whether or not anything calls it; the expansion's `#[inline]` `fn` returning this is compiled
/// where it is called, if anywhere. A closure rather than an `async` block: it type checks and
/// builds in a fraction of the time.
pub fn refresh_later<C, F>(start: C) -> impl Future<Output = F::Output>
where
    C: FnOnce() -> (Refresh, F),
    F: Future,
{
    let mut start = Some(start);
    let mut running: Option<Refreshing<F>> = None;
    // `poll_fn` never pins its closure, so `start` may be any type, `Unpin` or not; the call
    // is pinned in its box inside `Refreshing`, which is `Unpin`.
    std::future::poll_fn(move |cx| {
        let running = running.get_or_insert_with(|| {
            let start = start
                .take()
                .expect("`refresh_<fn>` polled after it panicked");
            let (refresh, call) = start();
            Refreshing::new(refresh, call)
        });
        std::pin::Pin::new(running).poll(cx)
    })
}

/// `invalidate_<fn>(group parameters...)`: invalidates when called (the companion is a plain
/// `fn`), whether or not the returned future is awaited.
pub fn invalidate_group<GP: PartList>(
    handle: &'static CacheHandle,
    group: &GP,
) -> Invalidated<usize> {
    let owned = group.to_owned_parts();
    let invalidated = handle.invalidate_group_erased(&owned);
    // After the local eviction: the other replicas' (see `backplane`).
    #[cfg(feature = "redis")]
    let invalidated = invalidated
        .delivering(crate::seam::group_invalidated(handle.cache_id(), |out| {
            GP::wire_encode(&owned, out)
        }));
    invalidated
}

/// `invalidate_<fn>_key(key parameters...)`: invalidates when called, like
/// [`invalidate_group`].
pub fn invalidate_key<GP: PartList, RP: PartList>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
) -> Invalidated<bool> {
    let (group, rest) = (key.group.to_owned_parts(), key.rest.to_owned_parts());
    let invalidated = handle.invalidate_key_erased(&group, &rest);
    #[cfg(feature = "redis")]
    let invalidated = invalidated.delivering(crate::seam::key_invalidated(
        handle.cache_id(),
        |out| GP::wire_encode(&group, out),
        |out| RP::wire_encode(&rest, out),
    ));
    invalidated
}

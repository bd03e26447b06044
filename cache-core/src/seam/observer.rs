//! The observers of every cache's invalidations and stores: subscribed once each, process-wide,
//! by a layer beyond this process when it is installed, and told from then on.
//!
//! A cache tells its invalidations after it made them here, whether or not it exists in this
//! process: a `#[ttl_cached]` function's companions invalidate before its first call too, and
//! the other replicas may hold its values. A member cache (see [`Membership`]) asks the
//! observers before each store. Nobody subscribed, nothing is encoded or told: a cache alone
//! pays one load.

use std::sync::OnceLock;

use super::delivery::Delivery;
use super::roster::taken_by_another;
use crate::keys::wire::WireCodec;

/// An invalidation made here, its parts in the wire encoding (`keys/wire.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalidation<'a> {
    /// A group of the cache: its encoded owned group.
    Group(&'a [u8]),
    /// A key of the cache: its encoded group and rest.
    Key(&'a [u8], &'a [u8]),
    /// Everything in the cache; also what is told of a group or key whose parts have no wire
    /// encoding, which evicts at least what was asked.
    Clear,
    /// A key whose value was replaced here (`refresh`, `insert`): the others drop theirs.
    Replaced(&'a [u8], &'a [u8]),
    /// A scope's group, in every cache of the scope.
    Scope(&'a [u8]),
}

/// A cache (or a scope), as the layers beyond this process know it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheId<'a> {
    /// The name the replicas know it by.
    pub(crate) name: &'a str,
    /// Its address in this process, which tells it from another cache of the same name.
    pub(crate) identity: usize,
}

/// An observer of every cache's invalidations and stores. Implemented by a layer beyond this
/// process (the Redis backplane), and [`subscribe`]d when that layer is installed.
pub(crate) trait Observer: Send + Sync {
    /// `what` was invalidated here in the cache (or scope) named `target`. Returns the delivery
    /// of what the observer does with it (a publish), for
    /// [`Invalidated::published`](crate::Invalidated::published) to await, if it does anything.
    fn invalidated(&self, target: &str, what: Invalidation<'_>) -> Option<Delivery>;
    /// Whether a member cache may store now (the backplane: not while its subscription is
    /// unhealthy, since the invalidations published meanwhile may be lost).
    fn storing_allowed(&self) -> bool;
}

/// One subscribed observer, and the next.
struct Subscribed {
    observer: &'static dyn Observer,
    next: OnceLock<Box<Subscribed>>,
}

/// The observers, in the order they subscribed: appended to, never removed from, and read
/// without a lock.
static FIRST: OnceLock<Box<Subscribed>> = OnceLock::new();

/// Subscribes `observer` to every cache's invalidations and stores, from now on.
pub(crate) fn subscribe(observer: &'static dyn Observer) {
    let mut slot = &FIRST;
    let mut new = Box::new(Subscribed {
        observer,
        next: OnceLock::new(),
    });
    loop {
        match slot.set(new) {
            Ok(()) => return,
            Err(refused) => {
                new = refused;
                // `set` refused: the slot holds an observer, whose `next` is the following slot.
                let Some(taken) = slot.get() else { continue };
                slot = &taken.next;
            }
        }
    }
}

/// Whether anyone observes.
#[inline]
pub(crate) fn observed() -> bool {
    FIRST.get().is_some()
}

/// The observers, in the order they subscribed.
pub(crate) fn observers() -> impl Iterator<Item = &'static dyn Observer> {
    std::iter::successors(FIRST.get(), |s| s.next.get()).map(|s| s.observer)
}

/// Tells every observer `what`, about `target`; the deliveries of those that publish it.
fn tell(target: &str, what: Invalidation<'_>) -> Option<Delivery> {
    observers()
        .filter_map(|o| o.invalidated(target, what))
        .reduce(Delivery::and)
}

/// Tells `what` of `cache`, unless its name is another cache's.
fn tell_cache(cache: CacheId<'_>, what: Invalidation<'_>) -> Option<Delivery> {
    if taken_by_another(cache.name, cache.identity) {
        return None;
    }
    tell(cache.name, what)
}

/// `cache` invalidated a group here, which `encode` appends in the wire encoding (`false` for
/// a part with no wire encoding: everything is told instead). `None` when nobody observes.
pub(crate) fn group_invalidated(
    cache: CacheId<'_>,
    encode: impl FnOnce(&mut Vec<u8>) -> bool,
) -> Option<Delivery> {
    if !observed() {
        return None;
    }
    let mut group = Vec::new();
    let what = if encode(&mut group) {
        Invalidation::Group(&group)
    } else {
        Invalidation::Clear
    };
    tell_cache(cache, what)
}

/// `cache` invalidated a key here; see [`group_invalidated`].
pub(crate) fn key_invalidated(
    cache: CacheId<'_>,
    encode_group: impl FnOnce(&mut Vec<u8>) -> bool,
    encode_key: impl FnOnce(&mut Vec<u8>) -> bool,
) -> Option<Delivery> {
    encoded_key(cache, encode_group, encode_key, false)
}

/// `cache` replaced a key's value here (`refresh`, `insert`); see [`group_invalidated`]. The
/// caller does not wait for its delivery, except a refresh with a shared tier, before it reads
/// the generations its value is written back under (see `cache/tier.rs`).
pub(crate) fn key_replaced(
    cache: CacheId<'_>,
    encode_group: impl FnOnce(&mut Vec<u8>) -> bool,
    encode_key: impl FnOnce(&mut Vec<u8>) -> bool,
) -> Option<Delivery> {
    encoded_key(cache, encode_group, encode_key, true)
}

fn encoded_key(
    cache: CacheId<'_>,
    encode_group: impl FnOnce(&mut Vec<u8>) -> bool,
    encode_key: impl FnOnce(&mut Vec<u8>) -> bool,
    replaced: bool,
) -> Option<Delivery> {
    if !observed() {
        return None;
    }
    let (mut group, mut key) = (Vec::new(), Vec::new());
    let what = if !(encode_group(&mut group) && encode_key(&mut key)) {
        Invalidation::Clear
    } else if replaced {
        Invalidation::Replaced(&group, &key)
    } else {
        Invalidation::Key(&group, &key)
    };
    tell_cache(cache, what)
}

/// `cache` was cleared here.
pub(crate) fn cleared(cache: CacheId<'_>) -> Option<Delivery> {
    if !observed() {
        return None;
    }
    tell_cache(cache, Invalidation::Clear)
}

/// A group of the scope named `scope` was invalidated here, in every cache of the scope;
/// `encode` appends it in the wire encoding, or returns `false` for a part with no wire
/// encoding: the observers are then told bytes no replica decodes, on which each clears the
/// scope's caches.
pub(crate) fn scope_invalidated(
    scope: &str,
    encode: impl FnOnce(&mut Vec<u8>) -> bool,
) -> Option<Delivery> {
    if !observed() {
        return None;
    }
    let mut group = Vec::new();
    if !encode(&mut group) {
        group = vec![0xff];
    }
    tell(scope, Invalidation::Scope(&group))
}
/// How one cache takes part, kept by the cache itself: set once, when it joins.
#[derive(Debug)]
pub(crate) struct Membership {
    /// How the cache encodes its own keys' parts: with its key types' `WireKey` (a `TtlCache`:
    /// `attach` knows them), or with the function's part lists (a `#[ttl_cached]` cache).
    pub(crate) codec: Option<WireCodec>,
    /// The identity it joined under (its [`CacheId`]'s): a `#[ttl_cached]` cache's is its
    /// handle's, not the cache's own address.
    pub(crate) identity: usize,
    /// Refused for a name already taken.
    pub(crate) refused: bool,
}

impl Membership {
    /// Whether the cache may store now: a refused cache not while anyone observes; any other
    /// while every observer lets it (the backplane: not while its subscription is unhealthy).
    pub(crate) fn storing_allowed(&self) -> bool {
        if self.refused {
            !observed()
        } else {
            observers().all(Observer::storing_allowed)
        }
    }
}

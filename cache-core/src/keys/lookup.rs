//! The lookup contract: a borrowed view of a key that hashes and compares exactly like the
//! owned key it stands for, so that a hit finds an entry stored under `(String, String)` from
//! `(&str, &str)` without building anything.
//!
//! A key has a *group* part `G` and a *rest* part `K`. [`GroupLookup`] and [`KeyLookup`] are the
//! views a lookup needs; [`GroupProbe`] and [`KeyProbe`] add the owned form, which only a miss
//! builds. [`Pair`] and [`GroupOnly`] are the views the public verbs take (any
//! `Q: Hash + Equivalent<G> + ToKey<G>`); `parts.rs`, at the crate's root, has the ones
//! `#[ttl_cached]` builds. The engine (`engine/probe.rs`) hashes every view the same way and
//! finds entries by it.

use std::hash::{Hash, Hasher};

use scc::Equivalent;

use super::borrowed::ToKey;

/// A borrowed view of a group key `G`, for lookups.
///
/// Implementations must hash exactly as `G` would (`Hash` of the owned form), compare like `G`'s
/// `Eq`, and produce the owned form on demand (only on a miss). This is the contract of
/// [`Borrow`](std::borrow::Borrow), spelled out for multi-part keys.
///
/// It is implemented for any `Q: Hash + Equivalent<G> + ToKey<G>` (so `&str` for
/// `String`, `&(String, u32)` for `(String, u32)`), and by the key types that `#[ttl_cached]`
/// generates.
pub(crate) trait GroupLookup<G> {
    /// Feeds the group part to `state` exactly as `G::hash` would.
    fn hash_group<H: Hasher>(&self, state: &mut H);
    /// Whether this probe denotes `group`.
    fn group_matches(&self, group: &G) -> bool;
    /// Whether this probe is the stored record whose address is `identity` (a node, a flight,
    /// a group): then it denotes the record's key without comparing it.
    #[inline]
    fn is(&self, identity: *const ()) -> bool {
        let _ = identity;
        false
    }
}

/// A [`GroupLookup`] that can also build the owned group key (a miss needs it; lookups do not).
pub(crate) trait GroupProbe<G>: GroupLookup<G> {
    /// The owned group key.
    fn owned_group(&self) -> G;
}

/// A borrowed view of a full `(group, rest)` key, for lookups; see [`GroupLookup`].
pub(crate) trait KeyLookup<G, K>: GroupLookup<G> {
    /// Feeds the rest part to `state` exactly as `K::hash` would.
    fn hash_rest<H: Hasher>(&self, state: &mut H);
    /// Whether this probe's rest part denotes `rest`.
    fn rest_matches(&self, rest: &K) -> bool;
}

/// A [`KeyLookup`] that can also build the owned key.
pub(crate) trait KeyProbe<G, K>: KeyLookup<G, K> + GroupProbe<G> {
    /// The owned rest key.
    fn owned_rest(&self) -> K;
}

/// `(group, rest)` given as two borrowed std-style lookups, as the public API takes them.
pub(crate) struct Pair<'a, QG: ?Sized, QK: ?Sized> {
    pub(crate) group: &'a QG,
    pub(crate) rest: &'a QK,
}

impl<G, QG, QK> GroupLookup<G> for Pair<'_, QG, QK>
where
    QG: ?Sized + Hash + Equivalent<G>,
    QK: ?Sized,
{
    #[inline(always)]
    fn hash_group<H: Hasher>(&self, state: &mut H) {
        self.group.hash(state);
    }
    #[inline]
    fn group_matches(&self, group: &G) -> bool {
        self.group.equivalent(group)
    }
}

impl<G, QG, QK> GroupProbe<G> for Pair<'_, QG, QK>
where
    QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
    QK: ?Sized,
{
    fn owned_group(&self) -> G {
        self.group.to_key()
    }
}

impl<G, K, QG, QK> KeyLookup<G, K> for Pair<'_, QG, QK>
where
    QG: ?Sized + Hash + Equivalent<G>,
    QK: ?Sized + Hash + Equivalent<K>,
{
    #[inline(always)]
    fn hash_rest<H: Hasher>(&self, state: &mut H) {
        self.rest.hash(state);
    }
    #[inline]
    fn rest_matches(&self, rest: &K) -> bool {
        self.rest.equivalent(rest)
    }
}

impl<G, K, QG, QK> KeyProbe<G, K> for Pair<'_, QG, QK>
where
    QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
    QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
{
    fn owned_rest(&self) -> K {
        self.rest.to_key()
    }
}

/// A group key alone, as `invalidate_group` takes it.
pub(crate) struct GroupOnly<'a, QG: ?Sized>(pub(crate) &'a QG);

impl<G, QG> GroupLookup<G> for GroupOnly<'_, QG>
where
    QG: ?Sized + Hash + Equivalent<G>,
{
    #[inline(always)]
    fn hash_group<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
    #[inline]
    fn group_matches(&self, group: &G) -> bool {
        self.0.equivalent(group)
    }
}

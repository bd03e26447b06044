//! Borrowed lookups: finding an entry keyed by owned `(G, K)` from borrowed parts, without
//! building an owned key.
//!
//! Every stored key (entries, flights, groups) hashes as `group.hash(h); rest.hash(h)` (or just
//! `group.hash(h)` for the group index), and every probe hashes its borrowed parts the same way.
//! That contract is what lets a hit on `("u1", "drive", "f1")` find an entry stored under
//! `(String, String, String)` with no allocation, and it is also what keeps keys structured:
//! `("a:b", "c")` and `("a", "b:c")` hash and compare as different tuples, never as one string.

use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use scc::Equivalent;

use crate::borrowed::ToKey;

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

/// The owned parts of something already stored (a node, a flight), used to find it again.
pub(crate) struct Stored<'a, G, K> {
    pub(crate) group: &'a G,
    pub(crate) rest: &'a K,
}

impl<G: Hash + Eq, K> GroupLookup<G> for Stored<'_, G, K> {
    #[inline(always)]
    fn hash_group<H: Hasher>(&self, state: &mut H) {
        self.group.hash(state);
    }
    #[inline]
    fn group_matches(&self, group: &G) -> bool {
        self.group == group
    }
}

impl<G: Hash + Eq, K: Hash + Eq> KeyLookup<G, K> for Stored<'_, G, K> {
    #[inline(always)]
    fn hash_rest<H: Hasher>(&self, state: &mut H) {
        self.rest.hash(state);
    }
    #[inline]
    fn rest_matches(&self, rest: &K) -> bool {
        self.rest == rest
    }
}

/// A stored key that exposes its owned `(group, rest)` parts.
pub(crate) trait StoredKey<G, K> {
    fn group(&self) -> &G;
    fn rest(&self) -> &K;
}

/// A stored key that exposes its owned group part.
pub(crate) trait StoredGroup<G> {
    fn group(&self) -> &G;
}

/// Adapts a [`KeyLookup`] to scc's `Hash + Equivalent` lookup interface.
pub(crate) struct ByKey<'a, P: ?Sized, G, K> {
    probe: &'a P,
    _key: PhantomData<fn(&G, &K)>,
}

impl<'a, P: ?Sized, G, K> ByKey<'a, P, G, K> {
    #[inline]
    pub(crate) fn new(probe: &'a P) -> Self {
        Self {
            probe,
            _key: PhantomData,
        }
    }
}

impl<P: ?Sized + KeyLookup<G, K>, G, K> Hash for ByKey<'_, P, G, K> {
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.probe.hash_group(state);
        self.probe.hash_rest(state);
    }
}

impl<P: ?Sized + KeyLookup<G, K>, G, K, S: StoredKey<G, K>> Equivalent<S> for ByKey<'_, P, G, K> {
    #[inline]
    fn equivalent(&self, stored: &S) -> bool {
        self.probe.rest_matches(stored.rest()) && self.probe.group_matches(stored.group())
    }
}

/// Adapts a [`GroupLookup`] to scc's `Hash + Equivalent` lookup interface.
pub(crate) struct ByGroup<'a, P: ?Sized, G> {
    probe: &'a P,
    _key: PhantomData<fn(&G)>,
}

impl<'a, P: ?Sized, G> ByGroup<'a, P, G> {
    #[inline]
    pub(crate) fn new(probe: &'a P) -> Self {
        Self {
            probe,
            _key: PhantomData,
        }
    }
}

impl<P: ?Sized + GroupLookup<G>, G> Hash for ByGroup<'_, P, G> {
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.probe.hash_group(state);
    }
}

impl<P: ?Sized + GroupLookup<G>, G, S: StoredGroup<G>> Equivalent<S> for ByGroup<'_, P, G> {
    #[inline]
    fn equivalent(&self, stored: &S) -> bool {
        self.probe.group_matches(stored.group())
    }
}

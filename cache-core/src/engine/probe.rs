//! Borrowed lookups: finding an entry keyed by owned `(G, K)` from borrowed parts, without
//! building an owned key. The views a lookup is made with, and their contract, are in
//! `keys/lookup.rs`; here, how the engine hashes them and finds its records by them.
//!
//! Every key hashes as `group.hash(h); rest.hash(h)` (a group alone as `group.hash(h)`), with
//! the cache's [`KeyHasher`], and every probe hashes its borrowed parts the same way. That
//! contract is what lets a hit on `("u1", "drive", "f1")` find an entry stored under
//! `(String, String, String)` with no allocation, and it is also what keeps keys structured:
//! `("a:b", "c")` and `("a", "b:c")` hash and compare as different tuples, never as one string.
//!
//! A key is hashed once per call: the maps (entries, flights, groups) are keyed by the hash
//! computed from the caller's parts ([`Hashed`]) and kept beside each stored key, and they
//! hash that `u64` with [`PreHashed`], which passes it through. A miss, which visits the group
//! index, the flight map and the entry index, and an eviction, which finds its victim again,
//! reuse it instead of hashing the key's strings at every step.

use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::marker::PhantomData;

use scc::Equivalent;

use crate::keys::lookup::{GroupLookup, GroupProbe, KeyLookup, KeyProbe};

/// The owned parts of something already stored (a node, a flight, a group), with the hashes
/// it was stored under, used to find it again.
pub(crate) struct Stored<'a, G, K> {
    pub(crate) group: &'a G,
    pub(crate) rest: &'a K,
    pub(crate) key_hash: u64,
    pub(crate) group_hash: u64,
    /// The address of the record these parts belong to (see [`GroupLookup::is`]).
    pub(crate) identity: *const (),
}

impl<G, K> KnownHash for Stored<'_, G, K> {
    #[inline]
    fn key_hash(&self) -> u64 {
        self.key_hash
    }
    #[inline]
    fn group_hash(&self) -> u64 {
        self.group_hash
    }
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
    #[inline]
    fn is(&self, identity: *const ()) -> bool {
        std::ptr::eq(self.identity, identity)
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

/// The hashes of a key: the cache's one hash function over `(group, rest)` parts, seeded per
/// cache.
#[derive(Clone)]
pub(crate) struct KeyHasher(foldhash::fast::RandomState);

impl KeyHasher {
    pub(crate) fn new() -> Self {
        Self(foldhash::fast::RandomState::default())
    }

    /// The hash of the full key.
    #[inline(always)]
    pub(crate) fn key<P: ?Sized + KeyLookup<G, K>, G, K>(&self, probe: &P) -> u64 {
        let mut state = self.0.build_hasher();
        probe.hash_group(&mut state);
        probe.hash_rest(&mut state);
        state.finish()
    }

    /// The hash of the group part alone.
    #[inline]
    pub(crate) fn group<P: ?Sized + GroupLookup<G>, G>(&self, probe: &P) -> u64 {
        let mut state = self.0.build_hasher();
        probe.hash_group(&mut state);
        state.finish()
    }

    /// `probe` with both its hashes, computed in one pass over its parts.
    #[inline]
    pub(crate) fn hashed<'a, P: ?Sized + KeyLookup<G, K>, G, K>(
        &self,
        probe: &'a P,
    ) -> Hashed<'a, P> {
        let mut state = self.0.build_hasher();
        probe.hash_group(&mut state);
        // `finish` does not consume the state: here it gives exactly `group(probe)`.
        let group = state.finish();
        probe.hash_rest(&mut state);
        Hashed {
            probe,
            key: state.finish(),
            group,
        }
    }

    /// `probe` with its group hash (it has no other).
    #[inline]
    pub(crate) fn hashed_group<'a, P: ?Sized + GroupLookup<G>, G>(
        &self,
        probe: &'a P,
    ) -> Hashed<'a, P> {
        Hashed {
            probe,
            key: NO_KEY_HASH,
            group: self.group(probe),
        }
    }
}

/// The key hash of a [`Hashed`] group probe, which has none (only group lookups take it).
const NO_KEY_HASH: u64 = 0;

/// The hasher of the maps: every map key writes one precomputed `u64`, which passes through.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Map keys only write their precomputed hash; anything else still hashes soundly.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The maps' [`BuildHasher`].
pub(crate) type PreHashed = BuildHasherDefault<PassThrough>;

/// A probe with its hashes: hashed once per call, then used for every map the call visits.
pub(crate) struct Hashed<'a, P: ?Sized> {
    pub(crate) probe: &'a P,
    pub(crate) key: u64,
    pub(crate) group: u64,
}

impl<P: ?Sized> Clone for Hashed<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: ?Sized> Copy for Hashed<'_, P> {}

impl<G, P: ?Sized + GroupLookup<G>> GroupLookup<G> for Hashed<'_, P> {
    #[inline(always)]
    fn hash_group<H: Hasher>(&self, state: &mut H) {
        self.probe.hash_group(state);
    }
    #[inline]
    fn group_matches(&self, group: &G) -> bool {
        self.probe.group_matches(group)
    }
    #[inline]
    fn is(&self, identity: *const ()) -> bool {
        self.probe.is(identity)
    }
}

impl<G, P: ?Sized + GroupProbe<G>> GroupProbe<G> for Hashed<'_, P> {
    fn owned_group(&self) -> G {
        self.probe.owned_group()
    }
}

impl<G, K, P: ?Sized + KeyLookup<G, K>> KeyLookup<G, K> for Hashed<'_, P> {
    #[inline(always)]
    fn hash_rest<H: Hasher>(&self, state: &mut H) {
        self.probe.hash_rest(state);
    }
    #[inline]
    fn rest_matches(&self, rest: &K) -> bool {
        self.probe.rest_matches(rest)
    }
}

impl<G, K, P: ?Sized + KeyProbe<G, K>> KeyProbe<G, K> for Hashed<'_, P> {
    fn owned_rest(&self) -> K {
        self.probe.owned_rest()
    }
}

/// A probe whose hashes are known.
pub(crate) trait KnownHash {
    /// The full key's hash.
    fn key_hash(&self) -> u64;
    /// The group part's hash.
    fn group_hash(&self) -> u64;
}

impl<P: ?Sized> KnownHash for Hashed<'_, P> {
    #[inline]
    fn key_hash(&self) -> u64 {
        self.key
    }
    #[inline]
    fn group_hash(&self) -> u64 {
        self.group
    }
}

/// A stored key that exposes its owned `(group, rest)` parts.
pub(crate) trait StoredKey<G, K> {
    fn group(&self) -> &G;
    fn rest(&self) -> &K;
    /// The address of the record the key belongs to.
    fn identity(&self) -> *const ();
}

/// Adapts a [`KeyLookup`] with its key hash to scc's `Hash + Equivalent` lookup interface.
pub(crate) struct ByKey<'a, P: ?Sized, G, K> {
    probe: &'a P,
    hash: u64,
    _key: PhantomData<fn(&G, &K)>,
}

impl<'a, P: ?Sized, G, K> ByKey<'a, P, G, K> {
    /// Looks up `probe` under its known key hash.
    #[inline]
    pub(crate) fn new(probe: &'a P) -> Self
    where
        P: KnownHash,
    {
        Self::with_hash(probe, probe.key_hash())
    }

    /// Looks up `probe` under `hash`, which must be its key hash.
    #[inline]
    pub(crate) fn with_hash(probe: &'a P, hash: u64) -> Self {
        Self {
            probe,
            hash,
            _key: PhantomData,
        }
    }
}

impl<P: ?Sized, G, K> Hash for ByKey<'_, P, G, K> {
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<P: ?Sized + KeyLookup<G, K>, G, K, S: StoredKey<G, K>> Equivalent<S> for ByKey<'_, P, G, K> {
    #[inline]
    fn equivalent(&self, stored: &S) -> bool {
        self.probe.is(stored.identity())
            || (self.probe.rest_matches(stored.rest()) && self.probe.group_matches(stored.group()))
    }
}

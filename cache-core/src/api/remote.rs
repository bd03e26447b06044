//! How a cache takes part beyond this process (feature `redis`): it joins the roster (`seam/`)
//! under its name, with an [`ApplyRemote`] that applies the other replicas' invalidations to
//! it; from then on it asks the observers before each store.
//!
//! - A `#[ttl_cached]` function's cache joins on its first miss or refresh, before that fetch
//!   takes its stamp ([`join_function`]); its parts are decoded with the function's part lists.
//! - A [`TtlCache`] joins when `backplane::attach`ed ([`TtlCache::join_fleet`]); its parts are
//!   decoded, and its own invalidations encoded, with its key types' [`WireKey`].
//! - A scope joins when its first member does: see `features/scope.rs`.

use std::hash::Hash;
use std::sync::{Arc, Weak};

use super::handle::CacheHandle;
use super::ttl_cache::TtlCache;
use crate::cache::Inner;
use crate::keys::lookup::{GroupOnly, Pair};
use crate::keys::wire::{decode_exact, Decoder, WireCodec, WireKey};
use crate::parts::PartList;
use crate::seam::{self, ApplyRemote, Membership};

/// A `#[ttl_cached]` function's cache: decodes with the expansion's part lists.
struct RemoteHandle<G, K> {
    handle: &'static CacheHandle,
    group: Decoder<G>,
    key: Decoder<K>,
}

impl<G, K> ApplyRemote for RemoteHandle<G, K>
where
    G: Send + Sync + 'static,
    K: Send + Sync + 'static,
{
    fn group(&self, group: &[u8]) -> bool {
        let Some(group) = decode_exact(group, self.group) else {
            return false;
        };
        drop(self.handle.invalidate_group_erased(&group));
        true
    }
    fn key(&self, group: &[u8], key: &[u8]) -> bool {
        let (Some(group), Some(key)) =
            (decode_exact(group, self.group), decode_exact(key, self.key))
        else {
            return false;
        };
        drop(self.handle.invalidate_key_erased(&group, &key));
        true
    }
    fn clear(&self) {
        drop(self.handle.clear_local());
    }
}

/// Makes a `#[ttl_cached]` function's cache take part, once, before its first fetch takes its
/// stamp: `GP` and `RP`, the function's part lists, decode and encode its owned parts. Called
/// on the miss path only. Refused for a name another cache took, it stores nothing while
/// anyone observes (and what it stored before is cleared now, if anyone does).
pub(crate) fn join_function<GP, RP, V>(
    handle: &'static CacheHandle,
    cache: &Inner<GP::Owned, RP::Owned, V>,
) where
    GP: PartList,
    RP: PartList,
    V: Clone + Send + Sync + 'static,
{
    if cache.fleet.get().is_some() {
        return;
    }
    let remote = Arc::new(RemoteHandle::<GP::Owned, RP::Owned> {
        handle,
        group: GP::wire_decode,
        key: RP::wire_decode,
    });
    let accepted = seam::join_cache(
        handle.name(),
        handle.cache_id().identity,
        Arc::clone(&remote) as Arc<dyn ApplyRemote>,
    );
    if !accepted {
        seam::refused(handle.name());
        seam::hold_refused(remote);
        if seam::observed() {
            // Observed already: what it stored before is not to be served.
            drop(handle.clear_local());
        }
    }
    cache.store.lease.follow(seam::lease());
    let _ = cache.fleet.set(Membership {
        codec: Some(crate::parts::wire_codec::<GP, RP>()),
        identity: handle.cache_id().identity,
        refused: !accepted,
    });
}

/// A [`TtlCache`] given a name: decodes with its key types' [`WireKey`].
struct RemoteTtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: Weak<Inner<G, K, V>>,
}

impl<G, K, V> ApplyRemote for RemoteTtlCache<G, K, V>
where
    G: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    K: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn group(&self, group: &[u8]) -> bool {
        let Some(group) = G::from_wire(group) else {
            return false;
        };
        if let Some(cache) = self.cache.upgrade() {
            drop(cache.invalidate_group_by(&GroupOnly(&group)));
        }
        true
    }
    fn key(&self, group: &[u8], key: &[u8]) -> bool {
        let (Some(group), Some(rest)) = (G::from_wire(group), K::from_wire(key)) else {
            return false;
        };
        if let Some(cache) = self.cache.upgrade() {
            drop(cache.invalidate_key_by(&Pair {
                group: &group,
                rest: &rest,
            }));
        }
        true
    }
    fn clear(&self) {
        if let Some(cache) = self.cache.upgrade() {
            drop(cache.clear_all());
        }
    }
    fn alive(&self) -> bool {
        self.cache.strong_count() > 0
    }
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    K: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Makes this cache take part under its name, unless another cache has it (`false`). The
    /// roster holds it weakly: dropped, it frees its name. Joining again changes nothing.
    pub(crate) fn join_fleet(&self) -> bool {
        let remote = Arc::new(RemoteTtlCache {
            cache: Arc::downgrade(&self.inner),
        });
        if !seam::join_cache(self.name(), self.inner.cache_id().identity, remote) {
            return false;
        }
        self.inner.store.lease.follow(seam::lease());
        let joined = self.inner.fleet.set(Membership {
            codec: Some(WireCodec::of::<G, K>()),
            identity: self.inner.cache_id().identity,
            refused: false,
        });
        if joined.is_ok() {
            // What it holds, and what it is fetching, missed every invalidation the other
            // replicas made before now (and it may be closed from now on while an observer says
            // so): it all goes. Nothing of another cache is touched.
            drop(self.inner.clear_all());
        }
        true
    }
}

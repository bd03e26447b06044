//! [`attach`]: a [`TtlCache`] takes part in the backplane.

use std::hash::Hash;

use super::options::BackplaneError;
use crate::api::ttl_cache::TtlCache;
use crate::keys::wire::WireKey;

/// Makes a [`TtlCache`] take part in the backplane under its name: its invalidations are
/// published, the other replicas' applied to it, and it is gated and cleared with the
/// subscription's health. What the cache held when first attached is dropped (and fetches
/// running then are not stored): it missed the invalidations made before. The cache must have been given a name with
/// [`CacheBuilder::name`](crate::CacheBuilder::name), unique in the process; it stays attached
/// until dropped (the registry holds it weakly; its name is then free again).
///
/// # Errors
///
/// [`BackplaneError::Unnamed`] for a cache without a name of its own,
/// [`BackplaneError::DuplicateName`] for a name another cache took,
/// [`BackplaneError::InvalidOption`] for a name over 65 535 bytes.
///
/// ```
/// use cache_core::backplane::{attach, BackplaneError};
/// use cache_core::TtlCache;
/// use std::time::Duration;
///
/// let listings: TtlCache<String, u64, String> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).name("listings").build().unwrap();
/// attach(&listings).unwrap();
/// attach(&listings).unwrap(); // the same cache again: nothing changes
///
/// let other: TtlCache<String, u64, String> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).name("listings").build().unwrap();
/// assert_eq!(attach(&other), Err(BackplaneError::DuplicateName("listings".into())));
/// let unnamed: TtlCache<String, u64, String> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// // A clone is the same cache: attached already.
/// attach(&listings.clone()).unwrap();
/// assert_eq!(attach(&unnamed), Err(BackplaneError::Unnamed));
/// ```
pub fn attach<G, K, V>(cache: &TtlCache<G, K, V>) -> Result<(), BackplaneError>
where
    G: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    K: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    // The builder's default name: a cache nobody named is not one replicas can agree on.
    if cache.name() == "ttl_cache" {
        return Err(BackplaneError::Unnamed);
    }
    if cache.name().len() > usize::from(u16::MAX) {
        return Err(BackplaneError::InvalidOption(
            "cache name over 65 535 bytes",
        ));
    }
    if cache.join_fleet() {
        Ok(())
    } else {
        Err(BackplaneError::DuplicateName(cache.name().to_owned()))
    }
}

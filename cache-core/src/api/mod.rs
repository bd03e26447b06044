//! The public API: the types users hold and their verbs. Uses the features, the cache, the
//! engine, the keys and the seam; used by the expansions (`private.rs`) and the backplane.
//!
//! - `ttl_cache/`: [`TtlCache`](crate::TtlCache), a cheap handle on one cache, with its verbs
//!   split by what they do; `flat.rs`: [`FlatCache`](crate::FlatCache), the same cache for
//!   one-part keys; `builder.rs`: [`CacheBuilder`](crate::CacheBuilder);
//! - `handle.rs`: [`CacheHandle`](crate::CacheHandle), the `'static` cache of a `#[ttl_cached]`
//!   function, typed on first use;
//! - `remote.rs` (feature `redis`): how a cache joins the layers beyond this process through
//!   the seam, and applies the other replicas' invalidations.
//!
//! [`Invalidated`](crate::Invalidated), what every invalidation returns, is defined by the cache
//! layer that makes it (`cache/invalidated.rs`); [`ScopeCore`](crate::ScopeCore) by its feature.

pub(crate) mod builder;
mod erased;
pub(crate) mod flat;
pub(crate) mod handle;
#[cfg(feature = "redis")]
pub(crate) mod remote;
#[cfg(feature = "redis-tier")]
pub(crate) mod tier;
pub(crate) mod ttl_cache;

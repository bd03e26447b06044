//! The seam between the caches and the layers beyond this process (feature `redis`): the Redis
//! backplane today, a shared tier tomorrow. Defined here, below the cache, and implemented
//! above it, so that a door opens one way: the caches name only what is in this folder, never
//! the layers that plug into it, and those layers reach a cache only through it.
//!
//! - **Who takes part** (`roster.rs`): a cache joins under the name the replicas
//!   know it by (a `#[ttl_cached]` function's cache on its first miss, a
//!   [`TtlCache`](crate::TtlCache) when `backplane::attach`ed, a scope when its first member
//!   joins), with an [`ApplyRemote`] that applies the other replicas' invalidations to it. A
//!   second cache under a name already taken is refused, and kept in its
//!   [`Membership`]: it stores nothing while anyone observes.
//! - **What the caches tell** (`observer.rs`): every invalidation made here
//!   (of a group, a key, everything, a scope's group, and a value replaced by a refresh or an
//!   insert), its parts in the wire encoding (`keys/wire.rs`), goes to every [`Observer`]
//!   subscribed, whose [`Delivery`] is what
//!   [`Invalidated::published`](crate::Invalidated::published) awaits; and a member cache asks
//!   them before each store whether it may store.
//! - **What the observers do to a cache** ([`ApplyRemote`]): apply an invalidation another
//!   replica made, from its encoded parts, the same way a local call makes it, on this replica
//!   only.
//!
//! - **The read fence** (`lease.rs`): a member cache serves what it holds only while the
//!   fleet's lease is valid; the observers renew it.
//!
//! The caches and the layers in between name what is here; the observers (`backplane/`)
//! implement [`Observer`], subscribe it when they are installed, and find a cache's
//! [`ApplyRemote`] in the roster. Nothing here names them.

mod delivery;
mod lease;
mod observer;
mod remote;
mod roster;
#[cfg(feature = "redis-tier")]
mod tier;

pub(crate) use delivery::Delivery;
pub use delivery::PublishError;
pub(crate) use lease::{lapse_lease, lease, lease_clock_now, renew_lease};
pub(crate) use observer::{
    cleared, group_invalidated, key_invalidated, key_replaced, observed, scope_invalidated,
    subscribe, CacheId, Invalidation, Membership, Observer,
};
pub(crate) use remote::ApplyRemote;
pub(crate) use roster::{
    cache, every_cache, hold_refused, join_cache, join_scope, refused, refused_names, scope,
};
#[cfg(feature = "redis-tier")]
pub(crate) use tier::{
    set_tier, tier, Life, ReadFuture, TierKey, TierRead, TierStore, WriteFuture,
};

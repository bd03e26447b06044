//! The Redis backplane (feature `redis`): every invalidation reaches every replica, through a
//! log a replica replays after any gap, and a replica that cannot vouch for what it holds
//! serves nothing from its caches.
//!
//! - [`install`] once at start-up, from a `redis://` URL (`rediss://` with the `redis-tls`
//!   feature, `redis+sentinel://` with `redis-sentinel`) and [`BackplaneOptions`]. Without it
//!   (or without the feature) caches behave exactly as they do alone.
//! - **Who takes part**: every `#[ttl_cached]` function's cache, under its name (`module::fn`,
//!   `module::Type::fn`), and every [`TtlCache`](crate::TtlCache) given a name with
//!   [`CacheBuilder::name`](crate::CacheBuilder::name) and [`attach`]ed. A second cache under a
//!   name already taken is refused: [`attach`] returns [`BackplaneError::DuplicateName`], and a
//!   `#[ttl_cached]` cache (which cannot return an error) stores nothing while the backplane is
//!   installed, counted in [`BackplaneStats::refused_names`]. An unnamed or unattached
//!   `TtlCache` does not take part: its invalidations stay local and it is never gated.
//! - **Publishing**: every invalidation (group, key, clear, scope, and a refresh, which
//!   invalidates its key on the other replicas) evicts locally first, then queues a message:
//!   format version, cache or scope name, the group/key in the [`WireKey`] encoding, this
//!   replica's id and instance, the send time. One script appends it to the log (a Redis Stream,
//!   [`BackplaneOptions::log_key`]) and publishes it on the channel, framed with its log id. A
//!   publish that fails is retried, in order, until delivered;
//!   [`Invalidated::published`](crate::Invalidated::published) says whether it was within the
//!   heartbeat timeout.
//! - **Receiving**: a replica applies each message with the same invalidation a local call
//!   makes (the same generations and fences, so a fetch running on the receiver is neither
//!   stored nor served afterwards), and ignores its own. A message it cannot decode clears what
//!   it was about (the whole cache; every cache for an unreadable message).
//! - **The lease**: an attached cache serves what it holds only until the last heartbeat that
//!   came back through the subscription was sent, plus the heartbeat timeout; the hit compares
//!   it in the same clock read as the TTL. A frozen replica, a frozen Redis, a dead connection:
//!   the lease lapses by itself.
//! - **Outages**: while the subscription is not known to be healthy the attached caches serve
//!   nothing they hold and store nothing, but keep it. When it is back, the replica replays the
//!   log from the last entry it applied, then serves again; only when the log cannot cover the
//!   gap (a new epoch, an entry trimmed or deleted, a log that went back, a server before Redis
//!   7.0, its first subscription) does it clear every attached cache.
//! - **The shared tier** (feature `redis-tier`): an attached `TtlCache` built with
//!   [`CacheBuilder::shared_tier`](crate::CacheBuilder::shared_tier) reads Redis before it
//!   fetches and writes what it fetched, under generations every delivered invalidation bumps,
//!   with one replica fetching a cold key while the others wait: see [`SharedTier`].

// The top layer: it reaches the caches only through the seam (`seam/`), as the observer of
// their invalidations and stores (`publish.rs`), and through the way each cache joined the
// seam's roster to apply another replica's invalidation (`receive.rs`); `attach.rs` is the one
// door of the public API it calls. Nothing below names anything here.
//
// - options.rs: BackplaneOptions, BackplaneError;
// - install.rs: install(), which subscribes the observer and starts the tasks;
// - health.rs: the subscription's health (the gate before each store, the lease), the counters;
// - publish.rs: the observer, publishing each invalidation as one message;
// - task.rs: the publisher and subscriber tasks, the heartbeat, the replay;
// - log.rs: the log's scripts and ids, and whether it covers a gap;
// - endpoint.rs: where to connect (one Redis, or the master Sentinel names);
// - receive.rs: a received message applied to the cache or scope it names;
// - message.rs: the wire format of a message;
// - tier.rs (redis-tier): the shared tier's scripts (values, generations, fetch leases);
// - tier_keys.rs (redis-tier): the names of its keys, for it and for the publisher.
// - tier_waiters.rs (redis-tier): the waits for another replica's fetch, woken by the subscriber.
mod attach;
mod endpoint;
mod health;
mod install;
mod log;
mod message;
mod options;
mod publish;
mod receive;
mod task;
#[cfg(feature = "redis-tier")]
mod tier;
#[cfg(feature = "redis-tier")]
mod tier_keys;
#[cfg(feature = "redis-tier")]
mod tier_waiters;

#[cfg(feature = "redis-tier")]
pub use crate::api::tier::{SharedTier, SharedValue, TierStats};
pub use crate::keys::wire::WireKey;
pub use crate::seam::PublishError;
pub use attach::attach;
#[cfg(feature = "metrics")]
pub(crate) use health::on_lag;
pub use health::{health, stats, BackplaneStats, Health};
pub use install::{install, Backplane};
pub use options::{BackplaneError, BackplaneOptions};

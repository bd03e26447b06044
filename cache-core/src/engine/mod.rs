//! The engine: one cache's data structures and their local protocols, knowing nothing of
//! what sits above. Uses only `keys/`; everything above may use it.
//!
//! - `store.rs`: the entries, their index, the capacity bound, sweeping; `probe.rs` hashes a
//!   key once per call and finds entries by that hash; `node.rs` is one stored value, and
//!   `slot.rs` the lock-free slot its value sits in.
//! - `eviction.rs` and `list.rs`: which entries leave when the cache is full (expired ones
//!   first, then S3-FIFO), and the index-linked lists that hold those orders.
//! - `clock.rs`: what "now" is for every deadline (a coarse read on the hit path, exact all
//!   the same; tokio's clock with the `test-util` feature).
//! - `expiry.rs`: when a value stops being served (its TTL, shortened by jitter) and how long
//!   it is kept after (the stale windows).
//! - `group.rs`, `groups.rs`: a group's generation and members, and the group index, built on
//!   `erased.rs`, an index whose hash-table code does not depend on the key types.
//! - `flight.rs`: single-flight, and the [`Lead`](flight::Lead) guard a fetch's leader holds;
//!   `policy.rs`: what a fetch's outcome stores and what its waiters receive.
//! - `fence.rs`: what an invalidation in progress keeps from being shared or stored;
//!   `lease.rs`: the read fence, past which a cache that takes part in a fleet serves nothing.
//! - `throttle.rs`: how long a key's failing upstream is left alone (fail-safe throttling);
//!   `timeout.rs`: the hard fetch timeout.
//! - `stats.rs`: the counters, `snapshot.rs`: [`CacheStats`](crate::CacheStats), their public
//!   snapshot; `hook.rs`: the test hooks.
//!
//! How the cache puts them together: `cache/mod.rs`.

pub(crate) mod clock;
#[cfg(all(test, not(ttl_cached_loom)))]
mod counted;
pub(crate) mod erased;
pub(crate) mod eviction;
pub(crate) mod expiry;
pub(crate) mod fence;
pub(crate) mod flight;
pub(crate) mod group;
pub(crate) mod groups;
pub(crate) mod hook;
pub(crate) mod lease;
pub(crate) mod list;
pub(crate) mod node;
pub(crate) mod policy;
pub(crate) mod probe;
pub(crate) mod slot;
pub(crate) mod snapshot;
pub(crate) mod stats;
pub(crate) mod store;
pub(crate) mod throttle;
pub(crate) mod timeout;

//! Features beyond plain TTL caching, each standing on the cache (`cache/`) and the engine:
//! what the cache's own miss path and invalidations do not need to know about. Used by the
//! public API and by the expansions above; uses `cache/`, `engine/`, `keys/` and `seam/`.
//!
//! - `stale.rs`: serving stale while revalidating, with one background refresh per key;
//! - `refresh.rs`: how `refresh_<fn>` lends its leadership to the call of `<fn>`;
//! - `scope.rs`: scopes, one group invalidated across the caches of several functions.
//!
//! Two features live lower, because the engine or the miss path needs them: jitter and the
//! stale windows (`engine/expiry.rs`), and stale-if-error (`cache/fallback.rs`). Results not
//! stored (`store_if`, `store_none`) are a policy of the expansion: `policy.rs`, at the root.

pub(crate) mod refresh;
pub(crate) mod scope;
pub(crate) mod stale;

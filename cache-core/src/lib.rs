//! TTL caching for async Rust, on a lock-free [`scc`] runtime.
//!
//! Put [`#[ttl_cached]`](ttl_cached) on an existing `async fn` or provider-client method and it
//! becomes TTL-cached: per-key single-flight (500 concurrent misses make one upstream call),
//! structured keys checked at compile time, `Err` results never cached, and generated
//! `invalidate_*` helpers that evict a whole group (say, one user's listings on one cloud
//! provider) when credentials change.
//!
//! ```
//! use cache_core::ttl_cached;
//! use std::sync::Arc;
//!
//! #[derive(Debug, Clone)]
//! struct ApiError(String);
//!
//! #[ttl_cached(ttl = 60, key = "<user_id>:<provider>:<folder_id>", group = "<user_id>:<provider>")]
//! async fn list_folders(
//!     user_id: &str,
//!     provider: &str,
//!     folder_id: &str,
//! ) -> Result<Arc<Vec<String>>, ApiError> {
//!     // the real, slow, rate-limited fetch
//!     Ok(Arc::new(vec![format!("{provider}/{folder_id}/docs")]))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let first = list_folders("u1", "drive", "root").await.unwrap();
//! let again = list_folders("u1", "drive", "root").await.unwrap(); // from the cache
//! assert!(Arc::ptr_eq(&first, &again));
//!
//! // u1 rotated their Drive credentials: evict all of (u1, drive).
//! assert_eq!(invalidate_list_folders("u1", "drive").await, 1);
//! assert_eq!(list_folders_cache().stats().misses, 1);
//! # }
//! ```
//!
//! The runtime is usable without the macro: [`TtlCache`] is a cache keyed by a group part and
//! a rest part, with get-or-fetch, group invalidation, TTL and capacity.
//!
//! # Guarantees
//!
//! - **Isolation**: keys are structured values compared part by part; `("a:b", "c")` and
//!   `("a", "b:c")` are different keys, and invalidating group `("u1", "box")` leaves
//!   `("u1", "boxnote")` alone.
//! - **Single-flight**: concurrent misses for one key run one fetch. If the caller running it is
//!   cancelled, a waiting caller takes over; if it panics, the panic reaches that caller only
//!   and the waiters retry.
//! - **Invalidation is race-free**: a call that begins after `invalidate_*` (or `clear`)
//!   returned never receives a value whose fetch began before that return.
//! - **Bounded**: entries live `ttl` after they were stored (on tokio's clock, so tests can use
//!   `tokio::time::pause`); at most `capacity` entries are stored, expired ones leaving first,
//!   then least-recently-used ones; expired entries are reclaimed without being read.
//! - **Cheap hits**: a hit is one lock-free lookup by borrowed key with a fast hasher
//!   (foldhash), and allocates nothing.
//!
//! # Features
//!
//! - `tracing`: emits a `debug` event (target `cache_core`) per fetch and per invalidation,
//!   with the cache's name and counts. Key contents are never logged: they are often user ids.
#![warn(missing_docs, unreachable_pub)]

mod borrowed;
mod builder;
mod cache;
mod flight;
mod group;
mod handle;
mod node;
mod parts;
mod policy;
mod probe;
mod stats;
mod trace;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use borrowed::{Borrowed, ToKey};
pub use builder::{BuildError, CacheBuilder, DEFAULT_CAPACITY};
pub use cache::TtlCache;
#[doc(hidden)]
pub use cache::{Hook, HookPoint};
pub use handle::CacheHandle;
pub use scc::Equivalent;
pub use stats::CacheStats;

/// Turns an `async fn` into a TTL-cached one. See the [crate documentation](crate) and the
/// README for the arguments, the generated companions and the guarantees.
pub use cache_macros::ttl_cached;

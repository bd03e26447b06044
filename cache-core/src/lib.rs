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
//! a rest part, with get-or-fetch, group invalidation, TTL and capacity, and a cheap `Clone`;
//! [`FlatCache`] is the same cache for one-part keys, with moka's verbs.
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
//!   returned never receives a value whose fetch began before that return, including fetches
//!   that began while it ran. It takes effect in the call, awaited or not, and the values it
//!   removed are dropped before it returns.
//! - **Bounded**: entries live exactly `ttl` after they were stored (on tokio's clock with the
//!   `test-util` feature, so tests can use `tokio::time::pause`); at most `capacity` entries
//!   are stored, expired ones leaving first, then those S3-FIFO chooses (one-off keys before
//!   keys read again); expired entries are reclaimed without being read.
//! - **Cheap hits**: a hit is one lock-free lookup by borrowed key with a fast hasher
//!   (foldhash), and allocates nothing.
//!
//! # Features
//!
//! - `tracing`: emits a `debug` event (target `cache_core`) per fetch and per invalidation,
//!   with the cache's name and counts, and one `fetch` span around each upstream fetch (the
//!   cache's name and the outcome). Key contents are never logged: they are often user ids.
//! - `metrics`: the [`metrics`](mod@metrics) module: every cache's counters, gauges and upstream
//!   fetch latency through the `metrics` facade, for a Prometheus (or any) exporter.
//! - `redis`: the `backplane` module: every invalidation reaches every replica over Redis
//!   pub/sub, and a replica whose subscription is not known healthy serves and stores nothing
//!   from its caches (fail closed). Nothing changes until `backplane::install` is called.
#![warn(missing_docs, unreachable_pub)]

// The layers, from the bottom up; each uses only those listed before it (see "How it fits
// together" in `cache/mod.rs`):
//
//   keys/       what a key is: borrowed and owned forms, the lookup contract, wire encoding
//   engine/     store, index, eviction, expiry, groups, flights, fences, counters, hooks
//   seam/       (redis) how the layers beyond this process observe and reach a cache
//   cache/      one cache's state, its miss path and its invalidation protocol
//   features/   stale-while-revalidate, refresh_<fn>, scopes
//   api/        TtlCache, FlatCache, CacheBuilder, CacheHandle
//   the root    what #[ttl_cached] expansions name: private.rs (+ private/), parts.rs,
//               policy.rs, setting.rs
//   backplane/  (redis) the Redis backplane: observes every cache through the seam
//   metrics/    (metrics) publishes every cache's counters (and the backplane's) through the
//               `metrics` facade, from the stats snapshots: it reads the caches from the
//               census (`cache/census.rs`), where a cache enrolls when it is made (`api/`)
//               and leaves when it is dropped, and the backplane's lag from a sink it sets;
//               nothing below names it (fetches are timed in `cache/upstream.rs`).
mod api;
#[cfg(feature = "redis")]
pub mod backplane;
mod cache;
mod engine;
mod features;
mod keys;
#[cfg(feature = "metrics")]
pub mod metrics;
mod parts;
mod policy;
#[cfg(feature = "redis")]
mod seam;
mod setting;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use api::builder::{BuildError, CacheBuilder, DEFAULT_CAPACITY};
pub use api::flat::FlatCache;
pub use api::handle::CacheHandle;
#[cfg(feature = "redis-tier")]
pub use api::tier::{shared_tier, shared_tier_with};
pub use api::ttl_cache::TtlCache;
pub use cache::invalidated::Invalidated;
#[doc(hidden)]
pub use engine::hook::{Hook, HookPoint, SyncHook};
pub use engine::snapshot::CacheStats;
pub use engine::throttle::{ErrorClass, RetryAfter};
pub use engine::timeout::FetchTimedOut;
pub use features::scope::{Scope, ScopeCore, ScopeGroup};
pub use keys::borrowed::{Borrowed, ToKey};
#[doc(hidden)]
pub use parts::check_key_part;
pub use parts::CacheKey;
#[doc(hidden)]
pub use policy::{
    check_cached_value, fetch_timeout, revoke_if, serve_stale_if, store_if, store_none_false,
};
pub use policy::{Cacheable, OptionValue};
pub use scc::Equivalent;
#[cfg(feature = "redis-tier")]
pub use setting::shared_tier_setting;
#[doc(hidden)]
pub use setting::{capacity_setting, ttl_setting};
#[cfg(not(feature = "redis-tier"))]
pub use setting::{shared_tier, shared_tier_with, TierFeature};
pub use setting::{CapacitySetting, TtlSetting};

/// Turns an `async fn` (free function, method, or trait method) into a TTL-cached one.
///
/// ```
/// # use cache_core::ttl_cached;
/// # use std::sync::Arc;
/// # #[derive(Clone)] struct Folder;
/// # #[derive(Clone)] struct ApiError;
/// #[ttl_cached(ttl = 60, key = "<user_id>:<provider>:<folder_id>", group = "<user_id>:<provider>")]
/// async fn list_folders(user_id: &str, provider: &str, folder_id: &str)
///     -> Result<Arc<Vec<Folder>>, ApiError>
/// {
///     Ok(Arc::new(vec![Folder])) // the real fetch
/// }
/// // Generated beside it, with the same visibility:
/// //   fn invalidate_list_folders(user_id: &str, provider: &str) -> cache_core::Invalidated<usize>
/// //   fn invalidate_list_folders_key(user_id: &str, provider: &str, folder_id: &str)
/// //       -> cache_core::Invalidated<bool>
/// //   async fn refresh_list_folders(user_id: &str, provider: &str, folder_id: &str)
/// //       -> Result<Arc<Vec<Folder>>, ApiError>
/// //   fn list_folders_cache() -> &'static cache_core::CacheHandle
/// ```
///
/// # Arguments
///
/// | argument | meaning |
/// |---|---|
/// | `ttl` | Required. Whole seconds (`ttl = 60`, no literal suffix), a duration string (`"250ms"`, `"90s"`, `"5m"`, `"1h30m"`), or the path of a `const` or `static` holding a [`Duration`](std::time::Duration) or whole seconds (`ttl = LISTING_TTL`; see [`TtlSetting`]). A written zero, or one that does not parse, is a compile error; a named zero panics when the cache is made (its first use). |
/// | `key` | The key template. `<name>` is a parameter, `<name.field.field>` a field path from a parameter or from `self` (`<self.account_id>`), `<pair.0>` a tuple field. Text between placeholders is for display only: the key is the list of placeholder values, compared part by part. Default: every parameter except `self` and those in `ignore`, in order. |
/// | `group` | A template whose placeholders are the first placeholders of `key`: the unit of invalidation. Default: the whole key. |
/// | `capacity` | Most entries held at once: a number, or the path of a `usize` `const` or `static` (`capacity = LISTINGS`). Default 10 000. |
/// | `ignore` | Parameters deliberately left out of the key: `ignore = [self, http]`. |
/// | `store_if` | A predicate choosing which results are stored: a function or non-capturing closure from `&value` to `bool`, where the value is the return type, or its `Ok` type for a `Result` (`store_if = \|listing\| !listing.is_empty()`, `store_if = Option::is_some`). Default: every value is stored. |
/// | `store_none` | `store_none = false`: a `None` is returned but not stored (the value must be an `Option`, or a `Result` of one). Default `true`: `None` is stored for the full TTL, like any value. |
/// | `stale` | `stale = "30s"` (or whole seconds): serve stale while revalidating. For that long after a value's TTL ran out, a call returns the expired value at once and starts one background refresh of the key (single-flight: none if a fetch of the key is running), a task on the caller's tokio runtime running the body over owned copies of the parameters. On a `&self` method the body runs on a clone of `self` (which must be `Clone + Send + Sync + 'static`); `self` and `self: Arc<Self>` are moved in; `&mut self` is a compile error. Each parameter must be owned (moved in) or a reference to a type without lifetimes (`&str`, `&[u8]`, `&Config`: copied with `ToOwned`, only when the body runs), and the body's future must be `Send`. An invalidated value is never served stale, and a refresh whose key, group, scope or cache was invalidated while it ran is not stored. |
/// | `stale_if_error` | `stale_if_error = "5m"` (or whole seconds): for that long after a value's TTL ran out, a call whose fetch returns `Err` or panics gets the expired value instead (not if the value was invalidated). |
/// | `jitter` | `jitter = "10%"`: each value's TTL is shortened by a pseudo-random share of up to that much, drawn from its key. |
/// | `crate` | The path the expansion names this crate by, for a renamed or re-exported dependency: `crate = "ttlc"` with `ttlc = { package = "cache-core", .. }` in `Cargo.toml`. Default `::cache_core`. |
///
/// Every parameter, the receiver `self` included, must appear in `key` or in `ignore`: nothing
/// that could change the result is silently left out of the key. A destructured parameter
/// (`(a, b): (u32, u32)`) cannot be part of the key: ignore every one of its bindings, or bind
/// it to a name and use `<arg>` or `<arg.0>`. A parameter named with a raw identifier is
/// written `<r#type>` and `ignore = [r#type]`. A typo, a group that is not a
/// prefix of the key, a non-`async` or generic function, a key part that is not `Hash + Eq`, a
/// return type that cannot be stored: each is a compile error on your code, saying the fix.
///
/// ```compile_fail
/// # use cache_core::ttl_cached;
/// // error: parameter `folder_id` is not part of the key: add `<folder_id>` to `key`, or add
/// //        `ignore = [folder_id]` if the result does not depend on it
/// #[ttl_cached(ttl = 60, key = "<user_id>")]
/// async fn list(user_id: &str, folder_id: &str) -> Vec<String> { vec![] }
/// ```
///
/// # Generated companions
///
/// For `fn list_folders`, beside it and with its visibility:
/// - `invalidate_list_folders(<group parameters>) -> Invalidated<usize>`: evicts every entry of
///   the group when called, and returns a future yielding how many there were (see
///   [`Invalidated`]: awaiting it is optional). It takes the parameters the group's placeholders
///   are rooted in, with their declared types, in order; when the group uses `<self...>` it is
///   a method taking `&self`. It costs O(entries in the group).
/// - `invalidate_list_folders_key(<key parameters>) -> Invalidated<bool>`: the same for one key
///   (its stored value and its fetch in flight), yielding whether a value was stored. It takes
///   the parameters the key's placeholders are rooted in, in order, and `&self` for a
///   `<self...>` key.
/// - `async refresh_list_folders(<the function's parameters>) -> <its return type>`: runs the
///   body now, without reading the cache and without joining a call of the same key already
///   running (whose result then goes to its own callers only and is not stored), stores the
///   result as a call would (unless the key is invalidated meanwhile, or the result is not
///   stored anyway), and returns it. From the moment it starts, the key's stored value is gone:
///   calls of the key that arrive meanwhile wait for the refresh and receive its result. It is
///   a method when the function is one.
/// - `list_folders_cache() -> &'static CacheHandle`: `len()`, `stats()`, `clear()` and the
///   configuration, which can be changed at run time with
///   [`set_ttl`](CacheHandle::set_ttl) and [`set_capacity`](CacheHandle::set_capacity); see
///   [`CacheHandle`].
///
/// # Behaviour
///
/// - A hit returns a clone of the cached value (make it an `Arc` to make that cheap) without
///   allocating: the key is looked up by its borrowed parts.
/// - A miss runs the body; concurrent callers for the same key share that one run. If the
///   running caller is cancelled, a waiting caller takes over; if the body panics, the panic
///   reaches that caller only and the waiters retry.
/// - `Err` results are returned and never stored, for any `Result`, aliases such as
///   `anyhow::Result<T>` included. If the error type is `Clone`, callers waiting on the failed
///   run receive a clone of the error instead of retrying one after another.
/// - Every other value is stored, `None` included: a "not found" is served for the full TTL
///   (a file created just after it stays invisible until then). `store_none = false`, or
///   `store_if = PREDICATE`, returns the values they reject without storing them; the callers
///   that joined that run receive them too (they asked while it ran), and the next call runs the
///   body again.
///
/// ```
/// # use cache_core::ttl_cached;
/// # use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
/// static LOOKUPS: AtomicU32 = AtomicU32::new(0);
///
/// #[ttl_cached(ttl = 60, store_none = false)]
/// async fn find_file(name: &str) -> Option<String> {
///     LOOKUPS.fetch_add(1, SeqCst);
///     None // not there (yet)
/// }
///
/// #[ttl_cached(ttl = 60, store_if = |listing| !listing.is_empty())]
/// async fn list_folder(folder_id: u64) -> Result<Vec<String>, String> {
///     Ok(Vec::new())
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(find_file("report.pdf").await, None);
/// assert_eq!(find_file("report.pdf").await, None);
/// assert_eq!(LOOKUPS.load(SeqCst), 2); // asked the upstream again
/// assert_eq!(list_folder(1).await, Ok(vec![]));
/// assert!(list_folder_cache().is_empty());
/// # }
/// ```
/// - Entries expire exactly `ttl` after they were stored (on tokio's clock with the `test-util`
///   feature, so that `tokio::time::pause` and `advance` drive them in tests).
/// - A call that begins after `invalidate_*` (or `clear`) returned never receives a value whose
///   fetch began before that return.
///
/// ```
/// # use cache_core::ttl_cached;
/// # use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
/// static VERSION: AtomicU32 = AtomicU32::new(0);
///
/// #[ttl_cached(ttl = 60, key = "<user_id>:<folder_id>", group = "<user_id>")]
/// async fn list_folder(user_id: &str, folder_id: &str) -> String {
///     format!("{folder_id} v{}", VERSION.fetch_add(1, SeqCst))
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(list_folder("u1", "root").await, "root v0");
/// assert_eq!(list_folder("u1", "root").await, "root v0"); // cached
/// // The user pressed "refresh" on this folder:
/// assert_eq!(refresh_list_folder("u1", "root").await, "root v1");
/// assert_eq!(list_folder("u1", "root").await, "root v1"); // the refreshed value, stored
/// // The folder was deleted: evict it alone, not every folder of u1.
/// assert!(invalidate_list_folder_key("u1", "root").await);
/// # }
/// ```
///
/// # Methods and trait impls
///
/// One cache serves every instance of the type, which is why `self` must be in the key (through
/// its fields) or ignored on purpose:
///
/// ```
/// # use cache_core::ttl_cached;
/// struct DriveClient { account_id: String }
///
/// impl DriveClient {
///     #[ttl_cached(ttl = 60, key = "<self.account_id>:<folder_id>", group = "<self.account_id>")]
///     async fn list_folder(&self, folder_id: &str) -> Vec<String> {
///         vec![format!("{}/{folder_id}", self.account_id)]
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = DriveClient { account_id: "acct-1".into() };
/// client.list_folder("root").await;
/// assert_eq!(client.invalidate_list_folder().await, 1); // a `<self...>` group: a method
/// assert_eq!(DriveClient::list_folder_cache().len(), 0);
/// # }
/// ```
///
/// A trait impl cannot hold extra items, so mark the impl block too, above `#[async_trait]` if
/// you use it; the companions go into an inherent impl of the type:
///
/// ```
/// # use cache_core::ttl_cached;
/// use async_trait::async_trait;
///
/// #[async_trait]
/// trait CloudProvider {
///     async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<String>, String>;
/// }
///
/// struct GoogleDrive;
///
/// #[ttl_cached]
/// #[async_trait]
/// impl CloudProvider for GoogleDrive {
///     #[ttl_cached(ttl = 60, key = "<user_id>:<folder_id>", group = "<user_id>", ignore = [self])]
///     async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<String>, String> {
///         Ok(vec![format!("{user_id}/{folder_id}")])
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// GoogleDrive.list_folders("u1", "root").await.unwrap();
/// assert_eq!(GoogleDrive::invalidate_list_folders("u1").await, 1);
/// # }
/// ```
///
/// Parameters typed with the trait's associated types (`tenant: Self::Id`) are fine: the
/// companions take them as `<GoogleDrive as CloudProvider>::Id`.
///
/// # Where the caches and companions live
///
/// - A free function's companions are free functions beside it; its cache is named
///   `<module path>::<fn>`.
/// - A method's companions are associated functions of its type, whether the impl block is
///   marked `#[ttl_cached]` or not (a trait impl must be: see above). Its cache is named after
///   the type's full path, `<type path>::<method>`, so that `GoogleDrive::list_folders` and
///   `Dropbox::list_folders` are told apart in [`CacheHandle::name`], statistics and traces.
/// - An associated function without `self` whose signature does not mention `Self` is the same:
///   the expansion cannot see that it is in an impl, and its code works both there and as a free
///   function, so the impl block need not be marked (`Catalog::price_cache()`).
/// - A method of a generic impl (`impl<T: Resource> Client<T>`) has one cache per instantiation,
///   with or without `self`: `Client::<Photo>::get_cache()` and `Client::<Doc>::get_cache()` are
///   different caches, and `Client::<Doc>::invalidate_get(..)` evicts from the second only.
///   (The impl-level `#[ttl_cached]` of a trait impl does not take generic parameters:
///   implement the trait for each concrete type.)
///
/// ```
/// # use cache_core::ttl_cached;
/// struct Client<T>(std::marker::PhantomData<T>);
///
/// impl<T: Default + Clone + Send + Sync + 'static> Client<T> {
///     #[ttl_cached(ttl = 60, ignore = [self])]
///     async fn get(&self, id: u32) -> T {
///         let _ = id;
///         T::default()
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// Client::<u8>(Default::default()).get(1).await;
/// Client::<String>(Default::default()).get(1).await;
/// assert_eq!(Client::<u8>::get_cache().len(), 1);
/// assert!(Client::<String>::get_cache().name().ends_with("Client<alloc::string::String>::get"));
/// # }
/// ```
///
/// The impl-level attribute takes two optional arguments: `crate = "..."` (for every method of
/// the block) and `companion_prefix = "..."`. A type whose two trait impls cache a method of
/// the same name would get two `find_cache()` and two `invalidate_find`. Give one of the impls
/// a prefix; without one, the build fails with one error on the second impl's method naming the
/// prefix to add (also for a trait impl caching a name that an inherent impl of the type caches:
/// the error is on the trait impl's method). An expansion sees only its own impl, so it reads
/// the impls around it from the source file: this covers impls in one file and one module,
/// compiled with Rust 1.88 or later. Elsewhere (two files or modules, an older compiler, an impl
/// written by another macro) rustc reports the clash: E0592, `duplicate definitions`, once per
/// companion.
///
/// ```
/// # use cache_core::ttl_cached;
/// trait Files { async fn find(&self, name: &str) -> Option<String>; }
/// trait Photos { async fn find(&self, name: &str) -> Option<String>; }
/// struct Drive;
///
/// #[ttl_cached]
/// impl Files for Drive {
///     #[ttl_cached(ttl = 60, ignore = [self])]
///     async fn find(&self, name: &str) -> Option<String> { Some(format!("file {name}")) }
/// }
///
/// #[ttl_cached(companion_prefix = "photos_")]
/// impl Photos for Drive {
///     #[ttl_cached(ttl = 60, ignore = [self])]
///     async fn find(&self, name: &str) -> Option<String> { Some(format!("photo {name}")) }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// Files::find(&Drive, "a").await;
/// Photos::find(&Drive, "a").await;
/// assert_eq!(Drive::find_cache().len(), 1);
/// assert_eq!(Drive::invalidate_photos_find("a").await, 1); // `Photos`'s cache only
/// assert_eq!(Drive::photos_find_cache().len(), 0);
/// assert!(Drive::photos_find_cache().name().ends_with("Drive::photos_find"));
/// # }
/// ```
///
/// With a renamed dependency, `crate` says where the runtime is:
///
/// ```
/// extern crate cache_core as ttlc; // as `ttlc = { package = "cache-core", .. }` would
///
/// #[ttlc::ttl_cached(ttl = 60, crate = "ttlc")]
/// async fn lookup(n: u32) -> u32 { n * 2 }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(lookup(2).await, 4);
/// assert_eq!(lookup_cache().len(), 1);
/// # }
/// ```
///
/// Shapes that have no place for the companions are compile errors:
///
/// - a trait implemented for a type of another crate (`impl Directory for String`) or for a
///   reference (`impl Directory for &'static Ldap`), where no inherent impl can be written:
///   one error saying to implement the trait for a type of your crate, such as a newtype
///   `struct Names(String);`;
/// - `#[ttl_cached(...)]` on a trait's default method, on a method declaration, or
///   `#[ttl_cached]` on a whole `trait`: the companions would become items of the trait, which
///   implementors could override; one error saying to cache the method in each impl. (Nothing
///   in a method tells a trait from an impl, so the default-method case is a check on `Self`
///   being sized: a method of an unsized type, `impl dyn Trait`, needs its impl block marked.
///   A default method with neither `self` nor `Self` in its signature cannot be told from a
///   free function at all, and its companions do become items of the trait: don't cache one.)
/// - a method-level `#[ttl_cached(...)]` in a trait impl without the impl-level attribute:
///   one error saying to mark the impl block. The method-level expansion cannot see whether it
///   is in a trait impl, where nothing can be added, or in an inherent impl, where the
///   companions must be; it reads the impl around it from the source file, as above. Where it
///   cannot, rustc reports "method `<fn>_cache` is not a member of trait" (E0407), once per
///   companion.
///
/// ```compile_fail
/// # use cache_core::ttl_cached;
/// trait Directory {
///     // error: `#[ttl_cached]` on a trait's method would add its companions `<method>_cache`
///     //        and `invalidate_<method>` to the trait
///     #[ttl_cached(ttl = 60, ignore = [self])]
///     async fn lookup(&self, name: &str) -> Option<String> { Some(name.to_string()) }
/// }
/// ```
#[doc(inline)]
pub use cache_macros::ttl_cached;

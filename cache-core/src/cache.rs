//! [`TtlCache`]: the runtime every `#[ttl_cached]` function stands on.
//!
//! # How it fits together
//!
//! - `index` (`scc::HashIndex`, lock-free reads) maps `(group, rest)` to a stored [`Node`]. A hit
//!   is one `peek` by borrowed key, a clock read, two loads of generation counters and a clone of
//!   the value: no lock, no allocation.
//! - `groups` maps a group key to its [`Group`]: a generation counter and the list of its stored
//!   nodes. Invalidating a group bumps the generation, which makes every value of the group that
//!   was stored or is being fetched unreadable at once, and then removes the listed nodes: O(group
//!   size), whatever the cache size.
//! - `flights` maps keys being fetched to their [`Flight`], for single-flight. A flight records
//!   the stamp (group generation, cache epoch) its fetch began under; nobody joins a flight with an
//!   old stamp and its result is never stored, so a fetch that began before an invalidation can
//!   neither be served to a later call nor written back over newer state.
//! - `order` keeps stored nodes in store order. With one TTL per cache, store order is expiry
//!   order, so expired entries are always at the front: maintenance pops them there, a bounded
//!   number per operation, and capacity eviction takes them first before falling back to a CLOCK
//!   scan (approximate LRU) of the oldest entries.
//!
//! Lock order, to stay deadlock-free: a flight entry may be held while touching `index`,
//! `groups` and the plain mutexes; nothing is locked while holding an `index` or `groups` entry,
//! and the plain mutexes are never held across an `.await`. No scc entry or lock is held while
//! user code (the fetch, a value's `Clone` or `Drop`) runs.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use foldhash::fast::RandomState;
use scc::hash_index::Entry as IndexEntry;
use scc::hash_map::Entry as MapEntry;
use scc::{Equivalent, HashIndex, HashMap};
use tokio::time::Instant;

use crate::borrowed::ToKey;
use crate::builder::CacheBuilder;
use crate::flight::{Ending, Flight, FlightKey, Lead, Start};
use crate::group::{Group, GroupKey};
use crate::node::{Node, NodeKey, Stamp};
use crate::order::StoreOrder;
use crate::policy::{Plain, Policy, TryRetry, TryShared};
use crate::probe::{ByGroup, ByKey, GroupLookup, GroupOnly, GroupProbe, KeyLookup, KeyProbe, Pair};
use crate::stats::{bump, CacheStats, Counters};
use crate::trace;

/// How many expired entries one operation removes from the front of the store order, at most.
const SWEEP_BUDGET: usize = 8;
/// How many of the oldest entries the CLOCK scan looks at to choose a capacity victim.
const EVICTION_WINDOW: usize = 16;

/// Points on the miss path where a test can take control, to force an interleaving that no
/// public call can produce. Not part of the API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// A caller missed and is about to take the key's flight entry.
    BeforeFlightEntry,
    /// A leader found its flight current and is about to store its value.
    BeforeStore,
    /// A leader holds a slot of capacity for its value, which is not in the index yet.
    AfterReserve,
    /// A full cache took a victim off the store order and is about to remove it.
    BeforeEvict,
    /// A leader has just made its value visible, before checking it did not go stale.
    AfterInsert,
}

#[doc(hidden)]
pub type Hook =
    Arc<dyn Fn(HookPoint) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Why a node left the cache, for the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Expired,
    Capacity,
    Invalidated,
}

type Deferred<G, K, V> = Vec<Chore<G, K, V>>;

/// One piece of deferred housekeeping.
enum Chore<G, K, V> {
    /// A flight that ended without being taken out of the flight map.
    Flight(Arc<Flight<G, K, V>>),
    /// A group whose pin count reached zero.
    Group(Arc<Group<G, K, V>>),
}

/// A victim taken off the store order: put back at its front unless its removal finished, so a
/// cancelled eviction leaves the entry evictable.
struct Evicting<'c, G, K, V> {
    order: &'c StoreOrder<G, K, V>,
    node: Arc<Node<G, K, V>>,
    done: bool,
}

impl<G, K, V> Drop for Evicting<'_, G, K, V> {
    fn drop(&mut self) {
        if !self.done {
            self.order.lock().push_front(Arc::clone(&self.node));
        }
    }
}

/// A chore taken off the deferred list: put back unless it was done.
struct Pending<'c, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: &'c TtlCache<G, K, V>,
    chore: Option<Chore<G, K, V>>,
}

impl<G, K, V> Drop for Pending<'_, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if let Some(chore) = self.chore.take() {
            self.cache.defer(chore);
        }
    }
}

/// A slot of capacity reserved for a node not in the index yet: given back, with the node's
/// group pin and member entry, unless the insert finished.
struct Reserved<'c, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: &'c TtlCache<G, K, V>,
    node: Arc<Node<G, K, V>>,
    inserted: bool,
}

impl<G, K, V> Drop for Reserved<'_, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if !self.inserted {
            self.cache.release(&self.node, None);
        }
    }
}

/// Nodes taken out of the cache while a flight entry was locked, dropped after it is released
/// (dropping the last reference runs the value's destructor, which is user code).
type Graveyard<G, K, V> = Vec<Arc<Node<G, K, V>>>;

type FlightMap<G, K, V> = HashMap<FlightKey<G, K, V>, Arc<Flight<G, K, V>>, RandomState>;

/// A node chosen for removal, and why.
type Victim<G, K, V> = (Arc<Node<G, K, V>>, Reason);

/// A concurrent, async, TTL-bounded cache keyed by a *group* part `G` and a *rest* part `K`,
/// with single-flight fetches and O(group) invalidation.
///
/// - **Get-or-fetch**: [`get_with`](Self::get_with), [`try_get_with`](Self::try_get_with) and
///   [`try_get_with_shared`](Self::try_get_with_shared) return a clone of the cached value or run
///   the fetch; concurrent misses for one key share one fetch.
/// - **Invalidation**: [`invalidate_group`](Self::invalidate_group),
///   [`invalidate`](Self::invalidate), [`clear`](Self::clear). A call that begins after one of
///   these returned never receives a value whose fetch began before it.
/// - **Bounds**: entries expire `ttl` after they were stored, on tokio's clock (so tests can
///   pause time); at most `capacity` entries are stored, expired entries leaving first.
///
/// Keys are structured values, compared part by part, never joined into strings: group
/// `("a:b", "c")` and group `("a", "b:c")` are different groups. Lookups take borrowed forms
/// (`&str` for `String`), so a hit builds no owned key.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::TtlCache;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// // group = (user, provider), rest = folder id
/// let cache: TtlCache<(String, String), String, Arc<Vec<String>>> = TtlCache::builder()
///     .ttl(Duration::from_secs(60))
///     .capacity(10_000)
///     .build()
///     .unwrap();
///
/// let group = ("u1".to_string(), "drive".to_string());
/// let listing = cache
///     .get_with(&group, "root", || async { Arc::new(vec!["docs".to_string()]) })
///     .await;
/// assert_eq!(listing[0], "docs");
///
/// // Credentials changed: drop everything cached for (u1, drive).
/// assert_eq!(cache.invalidate_group(&group).await, 1);
/// assert!(cache.get(&group, "root").is_none());
/// # }
/// ```
pub struct TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    index: HashIndex<NodeKey<G, K, V>, (), RandomState>,
    groups: HashIndex<GroupKey<G, K, V>, (), RandomState>,
    flights: FlightMap<G, K, V>,
    order: StoreOrder<G, K, V>,
    deferred: Mutex<Deferred<G, K, V>>,
    has_deferred: AtomicBool,
    live: AtomicUsize,
    epoch: AtomicU64,
    ttl: Duration,
    capacity: usize,
    name: Cow<'static, str>,
    counters: Counters,
    hook: Option<Hook>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // These mutexes guard plain bookkeeping and are never held across user code, so poisoning
    // can only follow an allocation failure, after which the data is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Starts configuring a cache; see [`CacheBuilder`].
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u64, String> =
    ///     TtlCache::builder().ttl(Duration::from_secs(30)).build().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn builder() -> CacheBuilder<G, K, V> {
        CacheBuilder::default()
    }

    pub(crate) fn from_parts(
        ttl: Duration,
        capacity: usize,
        name: Cow<'static, str>,
        hook: Option<Hook>,
    ) -> Self {
        Self {
            index: HashIndex::with_hasher(RandomState::default()),
            groups: HashIndex::with_hasher(RandomState::default()),
            flights: HashMap::with_hasher(RandomState::default()),
            order: StoreOrder::new(),
            deferred: Mutex::new(Vec::new()),
            has_deferred: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            ttl,
            capacity,
            name,
            counters: Counters::new(),
            hook,
        }
    }

    /// Returns the value for `(group, key)`, running `fetch` on a miss and storing its result.
    ///
    /// Concurrent calls for the same key while `fetch` runs wait for it and receive a clone of
    /// its value. If the caller running `fetch` is cancelled, or `fetch` panics (the panic
    /// reaches that caller only), a waiting caller runs `fetch` in its place.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, String> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// let v = cache.get_with("alice", &1, || async { "profile".to_string() }).await;
    /// assert_eq!(v, "profile");
    /// # }
    /// ```
    pub async fn get_with<QG, QK, F, Fut>(&self, group: &QG, key: &QK, fetch: F) -> V
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        self.run(&Pair { group, rest: key }, &Plain::<V>::NEW, fetch)
            .await
    }

    /// Like [`get_with`](Self::get_with) for a fallible fetch: `Ok` values are stored, an `Err`
    /// is returned to the caller that ran the fetch and never stored. Callers that were waiting
    /// on a failed fetch retry it, one at a time; use
    /// [`try_get_with_shared`](Self::try_get_with_shared) to hand them the error instead.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// let err = cache.try_get_with("u", &1, || async { Err::<u64, _>("rate limited") }).await;
    /// assert_eq!(err, Err("rate limited"));
    /// assert!(cache.is_empty()); // errors are never stored
    /// # }
    /// ```
    pub async fn try_get_with<QG, QK, F, Fut, E>(
        &self,
        group: &QG,
        key: &QK,
        fetch: F,
    ) -> Result<V, E>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.run(&Pair { group, rest: key }, &TryRetry::<V, E>::NEW, fetch)
            .await
    }

    /// Like [`try_get_with`](Self::try_get_with), but the callers waiting on a fetch that fails
    /// receive a clone of its error (it is still not stored), so a stampede against a failing
    /// upstream makes one call, not one per waiter.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returned, to its caller and to the callers that waited on it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// let r = cache.try_get_with_shared("u", &1, || async { Ok::<_, String>(7) }).await;
    /// assert_eq!(r, Ok(7));
    /// # }
    /// ```
    pub async fn try_get_with_shared<QG, QK, F, Fut, E>(
        &self,
        group: &QG,
        key: &QK,
        fetch: F,
    ) -> Result<V, E>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Clone + Send + Sync + 'static,
    {
        self.run(&Pair { group, rest: key }, &TryShared::<V, E>::NEW, fetch)
            .await
    }

    /// Returns a clone of the live value for `(group, key)`, without fetching. Never blocks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.get("u", &1), None);
    /// cache.get_with("u", &1, || async { 5 }).await;
    /// assert_eq!(cache.get("u", &1), Some(5));
    /// # }
    /// ```
    pub fn get<QG, QK>(&self, group: &QG, key: &QK) -> Option<V>
    where
        QG: ?Sized + Hash + Equivalent<G>,
        QK: ?Sized + Hash + Equivalent<K>,
    {
        self.lookup(&Pair { group, rest: key })
    }

    /// Removes every entry of `group` and returns how many were removed. Fetches of the group
    /// that are still running are not stored and not joined by later calls.
    ///
    /// Costs O(entries in the group), however large the cache is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// for folder in 0..3 {
    ///     cache.get_with("alice", &folder, || async { 1 }).await;
    /// }
    /// cache.get_with("bob", &0, || async { 2 }).await;
    /// assert_eq!(cache.invalidate_group("alice").await, 3);
    /// assert_eq!(cache.len(), 1);
    /// # }
    /// ```
    pub async fn invalidate_group<QG>(&self, group: &QG) -> usize
    where
        QG: ?Sized + Hash + Equivalent<G>,
    {
        self.invalidate_group_by(&GroupOnly(group)).await
    }

    /// Removes the entry for `(group, key)`, if any, and returns whether there was one. A fetch
    /// of that key still running is not stored and not joined by later calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// assert!(cache.invalidate("alice", &1).await);
    /// assert!(!cache.invalidate("alice", &1).await);
    /// # }
    /// ```
    pub async fn invalidate<QG, QK>(&self, group: &QG, key: &QK) -> bool
    where
        QG: ?Sized + Hash + Equivalent<G>,
        QK: ?Sized + Hash + Equivalent<K>,
    {
        self.invalidate_key_by(&Pair { group, rest: key }).await
    }

    /// Removes every entry and returns how many were removed; fetches still running are not
    /// stored and not joined by later calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// assert_eq!(cache.clear().await, 1);
    /// assert!(cache.is_empty());
    /// # }
    /// ```
    pub async fn clear(&self) -> usize {
        self.epoch.fetch_add(1, AcqRel);
        let mut groups = Vec::new();
        self.groups
            .iter_async(|key, ()| {
                groups.push(Arc::clone(&key.0));
                true
            })
            .await;
        let mut removed = 0;
        for group in groups {
            for node in group.take_members() {
                if self.remove_node(&node, Reason::Invalidated).await {
                    removed += 1;
                }
            }
        }
        trace::cleared(&self.name, removed);
        Self::hasten_reclamation();
        self.maintain().await;
        removed
    }

    /// Removes every expired entry now and returns how many were removed.
    ///
    /// Not needed for correctness or to bound memory: every miss and invalidation already
    /// removes a few expired entries, and an expired entry is never served. Useful before
    /// reading [`len`](Self::len) in a quiet period.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// cache.get_with("alice", &1, || async { 1 }).await;
    /// tokio::time::advance(Duration::from_secs(61)).await;
    /// assert_eq!(cache.purge_expired().await, 1);
    /// assert!(cache.is_empty());
    /// # }
    /// ```
    pub async fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let epoch = self.epoch.load(Acquire);
        let mut removed = 0;
        while let Some((node, reason)) = self.pop_dead_front(now, epoch) {
            let mut evicting = Evicting {
                order: &self.order,
                node,
                done: false,
            };
            if self.remove_node(&evicting.node, reason).await {
                removed += 1;
            }
            evicting.done = true;
        }
        self.run_deferred().await;
        Self::hasten_reclamation();
        removed
    }

    /// The number of stored entries (expired ones included until they are removed).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.live.load(Relaxed)
    }

    /// Whether no entry is stored.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the counters; see [`CacheStats`].
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(cache.stats(), cache_core::CacheStats::default());
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }

    /// The name given at build time.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).name("acl").build().unwrap();
    /// assert_eq!(cache.name(), "acl");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long a value stays fresh after it was stored.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(9)).build().unwrap();
    /// assert_eq!(cache.ttl(), Duration::from_secs(9));
    /// ```
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The most entries stored at once.
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<String, u32, u64> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.capacity(), cache_core::DEFAULT_CAPACITY);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sizes of the internal maps `(entries, groups, flights)`, for tests that check memory is
    /// reclaimed. Not part of the API.
    #[doc(hidden)]
    pub fn __internal_sizes(&self) -> (usize, usize, usize) {
        (self.index.len(), self.groups.len(), self.flights.len())
    }

    // ---- the machinery shared by the public verbs and the macro's entry points ----

    pub(crate) async fn run<P, Pol, F, Fut>(&self, probe: &P, policy: &Pol, fetch: F) -> Pol::Output
    where
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Pol::Output>,
    {
        if let Some(value) = self.lookup(probe) {
            return policy.answer(value);
        }
        // Boxed: only misses pay for the miss path's state machine.
        let lead = match Box::pin(self.start(probe, policy)).await {
            Start::Done(outcome) => return outcome,
            Start::Lead(lead) => lead,
        };
        let outcome = fetch().await;
        lead.finish(outcome, policy).await
    }

    /// The hit path: a lock-free read by borrowed key.
    #[inline]
    pub(crate) fn lookup<P: ?Sized + KeyLookup<G, K>>(&self, probe: &P) -> Option<V> {
        let epoch = self.epoch.load(Acquire);
        let value = self
            .index
            .peek_with(&ByKey::new(probe), |key, ()| {
                let node = &key.0;
                // The clock is read after the lookup: it costs about as much as the rest of a
                // hit, and reading it here lets its latency overlap the lookup's memory accesses
                // (measured: 64 -> 59 ns a hit). Reading it after the value's clone instead was
                // slower: the clone's atomic increment serializes.
                if node.is_live(Instant::now(), epoch) {
                    node.touch();
                    node.value()
                } else {
                    None
                }
            })
            .flatten()?;
        self.counters.hits.incr();
        Some(value)
    }

    fn peek_live<P: ?Sized + KeyLookup<G, K>>(&self, probe: &P) -> Option<Arc<Node<G, K, V>>> {
        let now = Instant::now();
        let epoch = self.epoch.load(Acquire);
        self.index
            .peek_with(&ByKey::new(probe), |key, ()| {
                key.0.is_live(now, epoch).then(|| Arc::clone(&key.0))
            })
            .flatten()
    }

    async fn hook(&self, point: HookPoint) {
        if let Some(hook) = &self.hook {
            hook(point).await;
        }
    }

    fn stamp(&self, group: &Group<G, K, V>) -> Stamp {
        Stamp {
            gen: group.gen.load(Acquire),
            epoch: self.epoch.load(Acquire),
        }
    }

    /// Answers from a running fetch, or makes this caller the leader of a new flight. Callers
    /// look the key up first; this looks again only when it retries, after the flight it waited
    /// on was abandoned or failed without a shared error.
    pub(crate) async fn start<'c, P, Pol>(
        &'c self,
        probe: &P,
        policy: &Pol,
    ) -> Start<Pol::Output, Lead<'c, G, K, V>>
    where
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
    {
        loop {
            self.hook(HookPoint::BeforeFlightEntry).await;
            let group = self.pin_group(probe).await;
            let stamp = self.stamp(&group);
            let key = FlightKey {
                group: Arc::clone(&group),
                rest: probe.owned_rest(),
            };
            let mut entry = self.flights.entry_async(key).await;
            let joinable = match &mut entry {
                MapEntry::Occupied(o) if o.get().joinable(stamp) => Some(Arc::clone(o.get())),
                _ => None,
            };
            let flight = if let Some(flight) = joinable {
                drop(entry);
                self.unpin(&group);
                flight
            } else {
                // A leader that finished between our lookup and this entry stored its value
                // before releasing the entry: look again rather than fetch twice.
                if let Some(node) = self.peek_live(probe) {
                    drop(entry);
                    self.unpin(&group);
                    if let Some(value) = node.value() {
                        self.counters.hits.incr();
                        return Start::Done(policy.answer(value));
                    }
                    // Removed in the meantime: start over.
                    continue;
                }
                let rest = match &entry {
                    MapEntry::Occupied(o) => o.key().rest.clone(),
                    MapEntry::Vacant(v) => v.key().rest.clone(),
                };
                // The group pin taken above now belongs to the flight.
                let flight = Arc::new(Flight::new(group, rest, stamp));
                let replaced = match entry {
                    MapEntry::Occupied(mut o) => Some(o.insert(Arc::clone(&flight))),
                    MapEntry::Vacant(v) => {
                        v.insert_entry(Arc::clone(&flight));
                        None
                    }
                };
                if let Some(old) = replaced {
                    // A flight from before an invalidation, or abandoned: its map pin goes with it.
                    self.unpin(&old.group);
                }
                bump(&self.counters.misses, 1);
                trace::fetch(&self.name);
                return Start::Lead(Lead {
                    cache: self,
                    flight,
                    armed: true,
                });
            };
            match flight.wait().await {
                Ending::Ready => {
                    if let Some(value) = flight.value() {
                        bump(&self.counters.coalesced, 1);
                        return Start::Done(policy.answer(value.clone()));
                    }
                }
                Ending::Failed => {
                    if let Some(outcome) = flight.failure().and_then(|s| policy.answer_shared(s)) {
                        bump(&self.counters.coalesced, 1);
                        return Start::Done(outcome);
                    }
                }
                Ending::Abandoned => {}
            }
            // Retrying: someone may have stored the value meanwhile.
            if let Some(value) = self.lookup(probe) {
                return Start::Done(policy.answer(value));
            }
        }
    }

    /// Finds or creates the group of `probe` and pins it (see [`Group::pins`]).
    async fn pin_group<P: ?Sized + GroupProbe<G>>(&self, probe: &P) -> Arc<Group<G, K, V>> {
        if let Some(entry) = self.groups.get_async(&ByGroup::new(probe)).await {
            let group = Arc::clone(&entry.key().0);
            group.pins.fetch_add(1, Relaxed);
            return group;
        }
        let fresh = Arc::new(Group::new(probe.owned_group()));
        match self.groups.entry_async(GroupKey(Arc::clone(&fresh))).await {
            IndexEntry::Occupied(entry) => {
                let group = Arc::clone(&entry.key().0);
                group.pins.fetch_add(1, Relaxed);
                group
            }
            IndexEntry::Vacant(entry) => {
                entry.insert_entry(());
                fresh
            }
        }
    }

    pub(crate) fn unpin(&self, group: &Arc<Group<G, K, V>>) {
        if group.pins.fetch_sub(1, AcqRel) == 1 {
            self.defer(Chore::Group(Arc::clone(group)));
        }
    }

    /// Queues a flight that ended (or was abandoned) without leaving the flight map.
    pub(crate) fn defer_flight(&self, flight: Arc<Flight<G, K, V>>) {
        self.defer(Chore::Flight(flight));
    }

    fn defer(&self, chore: Chore<G, K, V>) {
        lock(&self.deferred).push(chore);
        self.has_deferred.store(true, Release);
    }

    /// The leader's success path: store the value (unless the flight went stale), publish it to
    /// the waiters and retire the flight, all under the flight's map entry so that a concurrent
    /// `invalidate(group, key)` is ordered either wholly before or wholly after the store.
    pub(crate) async fn commit(&self, flight: &Arc<Flight<G, K, V>>, value: V) {
        // Clones happen before any scc lock is taken: they are user code.
        let expires_at = Instant::now()
            .checked_add(self.ttl)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        let node = Arc::new(Node::new(
            Arc::clone(&flight.group),
            flight.rest.clone(),
            value.clone(),
            expires_at,
            flight.stamp,
        ));
        let mut graveyard = Graveyard::new();
        {
            let stored = flight.stored();
            let entry = self.flights.get_async(&ByKey::new(&stored)).await;
            let ours = entry.as_ref().is_some_and(|e| Arc::ptr_eq(e.get(), flight));
            let fresh =
                ours && !flight.is_key_invalidated() && flight.stamp == self.stamp(&flight.group);
            if fresh {
                self.hook(HookPoint::BeforeStore).await;
                self.store(node, &mut graveyard).await;
            }
            trace::fetched(&self.name, fresh);
            flight.publish_value(value);
            if let (true, Some(entry)) = (ours, entry) {
                drop(entry.remove_entry());
                self.unpin(&flight.group);
            }
        }
        drop(graveyard);
        self.maintain().await;
    }

    /// The leader's path for an outcome that is not stored.
    pub(crate) async fn fail(
        &self,
        flight: &Arc<Flight<G, K, V>>,
        shared: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) {
        flight.publish_failure(shared);
        trace::fetched(&self.name, false);
        let stored = flight.stored();
        let removed = self
            .flights
            .remove_if_async(&ByKey::new(&stored), |f| Arc::ptr_eq(f, flight))
            .await;
        if removed.is_some() {
            self.unpin(&flight.group);
        }
        self.maintain().await;
    }

    /// Inserts `node`, replacing the previous node of its key and making room if full.
    /// Called with the key's flight entry held.
    async fn store(&self, node: Arc<Node<G, K, V>>, graveyard: &mut Graveyard<G, K, V>) {
        let now = Instant::now();
        let epoch = self.epoch.load(Acquire);
        if let Some(entry) = self.index.get_async(&ByKey::new(&node.stored())).await {
            let old = Arc::clone(&entry.key().0);
            entry.remove_entry();
            self.release(&old, Some(self.reason(&old, now, epoch)));
            graveyard.push(old);
        }
        if !self.reserve(now, epoch, graveyard).await {
            // Full of entries being inserted right now by other callers: serve without storing.
            return;
        }
        // The flight's pin keeps the count above zero, so this increment cannot race the
        // group's removal from the index.
        node.group.pins.fetch_add(1, Relaxed);
        // Listed in the group before it becomes visible, so an invalidation that can see it
        // can also find it.
        node.group.add_member(&node);
        let mut reserved = Reserved {
            cache: self,
            node: Arc::clone(&node),
            inserted: false,
        };
        self.hook(HookPoint::AfterReserve).await;
        // The flight entry serializes stores of a key, so the key cannot be present; if it
        // were, `reserved` gives everything back.
        reserved.inserted = self
            .index
            .insert_async(NodeKey(Arc::clone(&node)), ())
            .await
            .is_ok();
        if !reserved.inserted {
            return;
        }
        drop(reserved);
        bump(&self.counters.inserts, 1);
        self.push_order(&node);
        self.hook(HookPoint::AfterInsert).await;
        // An invalidation that bumped the group while we stored has already emptied the
        // member list; the node is unreadable, take it out now rather than at expiry.
        if node.is_stale(self.epoch.load(Acquire))
            && self.remove_node(&node, Reason::Invalidated).await
        {
            graveyard.push(node);
        }
    }

    /// Takes one slot of capacity, evicting if the cache is full. Returns false if nothing could
    /// be evicted (every slot is held by an insert still in progress).
    async fn reserve(&self, now: Instant, epoch: u64, graveyard: &mut Graveyard<G, K, V>) -> bool {
        loop {
            let live = self.live.load(Relaxed);
            if live < self.capacity {
                if self
                    .live
                    .compare_exchange_weak(live, live + 1, AcqRel, Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            let Some((victim, reason)) = self.pick_victim(now, epoch) else {
                return false;
            };
            let mut evicting = Evicting {
                order: &self.order,
                node: victim,
                done: false,
            };
            self.hook(HookPoint::BeforeEvict).await;
            if self.remove_node(&evicting.node, reason).await {
                graveyard.push(Arc::clone(&evicting.node));
            }
            evicting.done = true;
        }
    }

    fn reason(&self, node: &Node<G, K, V>, now: Instant, epoch: u64) -> Reason {
        if node.is_stale(epoch) {
            Reason::Invalidated
        } else if now >= node.expires_at {
            Reason::Expired
        } else {
            Reason::Capacity
        }
    }

    fn push_order(&self, node: &Arc<Node<G, K, V>>) {
        self.order.lock().push_back(node);
    }

    /// Returns the oldest node if it is expired or stale, taken out of the store order. Expired
    /// entries are all at the front: one TTL, in store order.
    fn pop_dead_front(&self, now: Instant, epoch: u64) -> Option<Victim<G, K, V>> {
        let mut order = self.order.lock();
        if order.front()?.is_live(now, epoch) {
            return None;
        }
        let node = order.pop_front()?;
        drop(order);
        let reason = self.reason(&node, now, epoch);
        Some((node, reason))
    }

    /// Chooses a node to evict: an expired (or invalidated) one if there is any, else the first
    /// of the oldest [`EVICTION_WINDOW`] entries that was not read since the last scan (CLOCK's
    /// second chance), else the oldest.
    fn pick_victim(&self, now: Instant, epoch: u64) -> Option<Victim<G, K, V>> {
        if let Some(found) = self.pop_dead_front(now, epoch) {
            return Some(found);
        }
        let mut order = self.order.lock();
        let mut chosen = None;
        let mut oldest = None;
        for (slot, node) in order.oldest(EVICTION_WINDOW) {
            if !node.is_live(now, epoch) || !node.accessed.swap(false, Relaxed) {
                chosen = Some(slot);
                break;
            }
            oldest.get_or_insert(slot);
        }
        let node = order.remove(chosen.or(oldest)?)?;
        drop(order);
        let reason = self.reason(&node, now, epoch);
        Some((node, reason))
    }

    /// Removes `node` from the index if it is still there, and accounts for it.
    async fn remove_node(&self, node: &Arc<Node<G, K, V>>, reason: Reason) -> bool {
        let Some(entry) = self.index.get_async(&ByKey::new(&node.stored())).await else {
            return false;
        };
        if !Arc::ptr_eq(&entry.key().0, node) {
            return false;
        }
        entry.remove_entry();
        self.release(node, Some(reason));
        true
    }

    /// Bookkeeping for a node that left the index (or never made it in): once per node.
    fn release(&self, node: &Arc<Node<G, K, V>>, reason: Option<Reason>) {
        if node.removed.swap(true, AcqRel) {
            return;
        }
        self.live.fetch_sub(1, AcqRel);
        node.take_value();
        let member = node.group.remove_member(node);
        let ordered = self.order.lock().unlink(node);
        self.unpin(&node.group);
        match reason {
            Some(Reason::Expired) => bump(&self.counters.evicted_expired, 1),
            Some(Reason::Capacity) => bump(&self.counters.evicted_capacity, 1),
            Some(Reason::Invalidated) => bump(&self.counters.invalidated, 1),
            None => {}
        }
        drop((member, ordered));
    }

    /// Bounded housekeeping after each miss and invalidation: a few expired entries off the
    /// front, abandoned flights out of the flight map, empty groups out of the group index.
    /// After removing many entries at once, asks epoch-based reclamation to move on, so their
    /// values are dropped soon rather than after the next few hundred operations.
    fn hasten_reclamation() {
        sdd::Guard::new().accelerate();
    }

    async fn maintain(&self) {
        let now = Instant::now();
        let epoch = self.epoch.load(Acquire);
        for _ in 0..SWEEP_BUDGET {
            let Some((node, reason)) = self.pop_dead_front(now, epoch) else {
                break;
            };
            let mut evicting = Evicting {
                order: &self.order,
                node,
                done: false,
            };
            self.remove_node(&evicting.node, reason).await;
            evicting.done = true;
        }
        if self.has_deferred.load(Acquire) {
            self.run_deferred().await;
        }
    }

    async fn run_deferred(&self) {
        loop {
            let chore = {
                let mut deferred = lock(&self.deferred);
                let Some(chore) = deferred.pop() else {
                    self.has_deferred.store(false, Release);
                    return;
                };
                chore
            };
            // Requeued if this future is dropped before the chore is done.
            let mut pending = Pending {
                cache: self,
                chore: Some(chore),
            };
            match pending.chore.as_ref() {
                Some(Chore::Flight(flight)) => self.retire_flight(flight).await,
                Some(Chore::Group(group)) => self.retire_group(group).await,
                None => {}
            }
            pending.chore = None;
        }
    }

    /// Takes an ended flight out of the flight map, if it is still there.
    async fn retire_flight(&self, flight: &Arc<Flight<G, K, V>>) {
        let stored = flight.stored();
        let removed = self
            .flights
            .remove_if_async(&ByKey::new(&stored), |f| {
                Arc::ptr_eq(f, flight) && !f.is_running()
            })
            .await;
        if removed.is_some() {
            self.unpin(&flight.group);
        }
    }

    /// Takes a group nothing points at any more out of the group index.
    async fn retire_group(&self, group: &Arc<Group<G, K, V>>) {
        if group.pins.load(Acquire) != 0 {
            return;
        }
        let probe = crate::probe::Stored::<G, ()> {
            group: &group.key,
            rest: &(),
        };
        if let Some(entry) = self.groups.get_async(&ByGroup::new(&probe)).await {
            // Pins only grow under this lock, so zero here is final.
            if Arc::ptr_eq(&entry.key().0, group) && group.pins.load(Acquire) == 0 {
                entry.remove_entry();
            }
        }
    }

    pub(crate) async fn invalidate_group_by<P: ?Sized + GroupLookup<G>>(&self, probe: &P) -> usize {
        let mut removed = 0;
        let mut done: Option<Arc<Group<G, K, V>>> = None;
        loop {
            let Some(group) = self
                .groups
                .peek_with(&ByGroup::new(probe), |key, ()| Arc::clone(&key.0))
            else {
                break;
            };
            if done.as_ref().is_some_and(|d| Arc::ptr_eq(d, &group)) {
                break;
            }
            // From here on, nothing fetched before is readable or joinable.
            group.gen.fetch_add(1, AcqRel);
            for node in group.take_members() {
                if self.remove_node(&node, Reason::Invalidated).await {
                    removed += 1;
                }
            }
            // Loop in case the group emptied, left the index and was created anew meanwhile.
            done = Some(group);
        }
        trace::invalidated_group(&self.name, removed);
        Self::hasten_reclamation();
        self.maintain().await;
        removed
    }

    pub(crate) async fn invalidate_key_by<P: ?Sized + KeyLookup<G, K>>(&self, probe: &P) -> bool {
        let flight = self.flights.get_async(&ByKey::new(probe)).await;
        if let Some(entry) = &flight {
            entry.get().invalidate_key();
        }
        // Removed while the flight entry is held, so the leader's store is wholly before
        // (and removed here) or wholly after (and refused) this point.
        let node = match self.index.get_async(&ByKey::new(probe)).await {
            Some(entry) => {
                let node = Arc::clone(&entry.key().0);
                entry.remove_entry();
                self.release(&node, Some(Reason::Invalidated));
                Some(node)
            }
            None => None,
        };
        drop(flight);
        let removed = node.is_some();
        drop(node);
        trace::invalidated_key(&self.name, removed);
        self.maintain().await;
        removed
    }
}

impl<G, K, V> fmt::Debug for TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<G, K, V> Drop for TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        // Nodes point at their group and groups list their nodes: break the cycles.
        let guard = scc::Guard::new();
        for (key, ()) in self.groups.iter(&guard) {
            drop(key.0.take_members());
        }
        drop(self.order.lock().drain());
    }
}

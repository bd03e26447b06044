//! The cache: one cache's state ([`Inner`], a thin value-typed shell around a [`Core`] that
//! knows the key types only), composed from the engine, with its miss path and its
//! invalidation protocol. Every [`TtlCache`](crate::TtlCache) clone, and every
//! `#[ttl_cached]` function's [`CacheHandle`](crate::CacheHandle), stands on one of these.
//! Uses `engine/`, `keys/` and `seam/`; the features, the public API, the expansions and the
//! backplane stand on it.
//!
//! # How it fits together
//!
//! The crate is built in layers, each a folder whose files use only the layers below it (the
//! list runs from the bottom up):
//!
//! 1. `keys/`: what a key is (borrowed and owned forms, the lookup contract, the wire encoding).
//! 2. `engine/`: the data structures. [`store`](crate::engine::store) holds the entries: a
//!    lock-free index, the capacity bound, eviction and expiry sweeping.
//!    [`groups`](crate::engine::groups) maps a group key to its
//!    [`Group`](crate::engine::group): a generation counter and the list of its stored nodes.
//!    Invalidating a group bumps the generation, which makes every value of the group that was
//!    stored or is being fetched unreadable at once, and removes the listed nodes: O(group
//!    size), whatever the cache size. [`flight`](crate::engine::flight) is single-flight: one
//!    fetch per cold key. A flight records the stamp (group generation, cache epoch) its fetch
//!    began under; nobody joins a flight with an old stamp and its result is never stored, so
//!    a fetch that began before an invalidation can neither be served to a later call nor
//!    written back over newer state. The [`fence`](crate::engine::fence)s cover exactly what
//!    each invalidation in progress invalidates.
//! 3. `seam/` (feature `redis`), beside the engine: how the layers beyond this process see a
//!    cache and act on it, defined here, below the cache, so that the cache names only it.
//! 4. `cache/`, here: `fetch.rs` is the miss path that ties the engine together,
//!    `invalidation.rs` the protocol that makes the invalidation guarantee hold for fetches
//!    that began while an invalidation ran (a key invalidation takes the key's flight out of
//!    the flight map, leaving its siblings' alone), `fallback.rs` stale-if-error,
//!    `invalidated.rs` what an invalidation returns.
//! 5. `features/`: serving stale while revalidating, `refresh_<fn>`, scopes.
//! 6. `api/`: [`TtlCache`](crate::TtlCache), [`FlatCache`](crate::FlatCache), the builder,
//!    [`CacheHandle`](crate::CacheHandle), [`CacheStats`](crate::CacheStats).
//! 7. The crate's root: what `#[ttl_cached]` expansions name (`private.rs` and `private/`, the
//!    key parts in `parts.rs`, the value policies in `policy.rs`, the named settings in
//!    `setting.rs`), and `lib.rs`.
//! 8. `backplane/` (feature `redis`): the Redis backplane, on top. It implements the seam's
//!    observer and finds each cache's way to apply a remote invalidation in the seam's roster;
//!    nothing below names it.
//!
//! Lock order, to stay deadlock-free: a flight entry may be held while touching the index, the
//! group index and the plain mutexes; an index entry is never held while taking a flight entry,
//! and the plain mutexes are innermost. Every lock is held for a synchronous section only, never
//! across an `.await` or user code (the fetch, a value's `Clone` or `Drop`), which is what makes
//! the synchronous scc calls safe on a single-threaded runtime.

use std::borrow::Cow;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::engine::clock::Instant;

use crate::engine::expiry::{Jitter, Windows};
use crate::engine::fence::Fences;
use crate::engine::flight::Flights;
use crate::engine::hook::Hooks;
use crate::engine::policy::Classifier;
use crate::engine::store::{Graveyard, Store};
use crate::engine::throttle::FailSafe;
use crate::engine::timeout::TimeoutError;
use crate::keys::lookup::KeyLookup;
#[cfg(feature = "redis")]
use crate::keys::wire::WireCodec;
#[cfg(feature = "redis")]
use crate::seam::{CacheId, Membership};

#[cfg(feature = "metrics")]
pub(crate) mod census;
mod fallback;
pub(crate) mod fetch;
pub(crate) mod invalidated;
pub(crate) mod invalidation;
#[cfg(feature = "redis-tier")]
pub(crate) mod tier;
pub(crate) mod trace;
pub(crate) mod upstream;

/// How many expired entries one miss or invalidation removes from the front of the store order,
/// at most.
const SWEEP_BUDGET: usize = 8;

/// A scope a cache joined, as this layer sees it (the scope itself is a feature above, in
/// `features/scope.rs`): what an error that revokes invalidates.
pub(crate) trait JoinedScope: Sync {
    /// Evicts `group` (a member's owned group, erased; `hash` its shared hash) from every member
    /// of the scope, on this replica.
    fn invalidate_erased(
        &self,
        group: &(dyn std::any::Any + Send + Sync),
        hash: u64,
    ) -> invalidated::Invalidated<usize>;
    /// The name other replicas know the scope by.
    #[cfg(feature = "redis")]
    fn path(&self) -> &'static str;
}

/// What a cache is built from: a configuration that passed the builder's checks (a TTL and a
/// capacity that are not zero, a jitter fraction in range).
pub(crate) struct Config {
    pub(crate) ttl: Duration,
    pub(crate) jitter: Jitter,
    pub(crate) stale: Windows,
    pub(crate) fail_safe: FailSafe,
    pub(crate) classify: Option<Classifier>,
    pub(crate) timeout_error: Option<TimeoutError>,
    pub(crate) capacity: usize,
    pub(crate) name: Cow<'static, str>,
    pub(crate) hooks: Hooks,
}

/// What every clone of one [`TtlCache`](crate::TtlCache) shares: the [`Core`], which knows the
/// key types only, and what needs the value type too (the shared tier's decoder). Everything
/// that does not read or write values is the core's, reached through `Deref`, so that a crate
/// with many caches of one key shape and many value types compiles it once per key shape.
pub(crate) struct Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    core: Core<G, K>,
    /// The shared tier this cache reads before fetching and writes what it fetched to, if
    /// built with one (feature `redis-tier`): see `tier.rs`.
    #[cfg(feature = "redis-tier")]
    pub(crate) tier: OnceLock<tier::TierSetup<V>>,
    /// The value type: only the typed code that reads and publishes values knows it (see
    /// `engine/node.rs`).
    values: PhantomData<fn() -> V>,
}

impl<G, K, V> std::ops::Deref for Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Target = Core<G, K>;

    #[inline(always)]
    fn deref(&self) -> &Core<G, K> {
        &self.core
    }
}

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache with nothing stored, as `config` describes it.
    pub(crate) fn new(config: Config) -> Self {
        Self {
            core: Core::new(config),
            #[cfg(feature = "redis-tier")]
            tier: OnceLock::new(),
            values: PhantomData,
        }
    }

    /// A hit, or `None`: no fetch, no flight.
    #[inline]
    pub(crate) fn lookup<P>(&self, probe: &P) -> Option<V>
    where
        P: ?Sized + KeyLookup<G, K>,
    {
        self.store.lookup(probe, self.current_epoch())
    }
}

/// One cache's state that does not depend on its value type: the entries (whose values it
/// reaches only through their nodes' type-erased tables, see `engine/node.rs`), the flights, the
/// fences and the settings.
pub(crate) struct Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    pub(crate) store: Store<G, K>,
    pub(crate) flights: Flights<G, K>,
    /// Bumped by every `clear`.
    pub(crate) epoch: AtomicU64,
    /// The fences of the invalidations (of a group, a key, or everything) in progress. A fetch
    /// whose key one covers runs unshared: see `invalidation.rs`.
    pub(crate) fences: Arc<Fences>,
    /// The fences of the scope this cache joined (a `#[ttl_cached]` function's `scope = ...`):
    /// its invalidations in progress fence this cache's fetches of their group too. See
    /// `features/scope.rs`.
    pub(crate) scope: OnceLock<&'static Fences>,
    /// The same scope, as an error that revokes reaches it: the group is invalidated in every
    /// member of the scope, not only here (see `Settle::revoke`).
    pub(crate) joined: OnceLock<&'static dyn JoinedScope>,
    /// The TTL in nanoseconds (saturating at about 584 years), read once per store: a setting
    /// changed at run time applies to the values stored after it.
    ttl_nanos: AtomicU64,
    /// The stale windows, fixed at build time: see `engine/expiry.rs`.
    pub(crate) stale: Windows,
    /// The fail-safe throttle and refresh back-off, fixed at build time: see
    /// `engine/throttle.rs`.
    pub(crate) fail_safe: FailSafe,
    /// The error classifier of the `TtlCache` verbs whose error type it knows.
    pub(crate) classify: Option<Classifier>,
    /// How those verbs say a fetch timed out (`engine/timeout.rs`).
    pub(crate) timeout_error: Option<TimeoutError>,
    /// TTL jitter, fixed at build time: see `engine/expiry.rs`.
    pub(crate) jitter: Jitter,
    name: Cow<'static, str>,
    pub(crate) hooks: Hooks,
    /// How this cache takes part beyond this process (feature `redis`), once it joined: see
    /// `seam/` and `api/remote.rs`.
    #[cfg(feature = "redis")]
    pub(crate) fleet: OnceLock<Membership>,
}

/// The verbs' work that needs no value type.
impl<G, K> Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// A cache with nothing stored, as `config` describes it.
    pub(crate) fn new(config: Config) -> Self {
        // From here, hits may read the coarse clock (see `engine/clock.rs`).
        Instant::prepare();
        Self {
            store: Store::new(config.capacity),
            flights: Flights::new(),
            epoch: AtomicU64::new(0),
            fences: Arc::new(Fences::new()),
            scope: OnceLock::new(),
            joined: OnceLock::new(),
            ttl_nanos: AtomicU64::new(ttl_nanos(config.ttl)),
            stale: config.stale,
            fail_safe: config.fail_safe,
            classify: config.classify,
            timeout_error: config.timeout_error,
            jitter: config.jitter,
            name: config.name,
            hooks: config.hooks,
            #[cfg(feature = "redis")]
            fleet: OnceLock::new(),
        }
    }

    pub(crate) async fn purge_expired(&self) -> usize {
        let mut graveyard = Graveyard::new();
        // Inside a window that reaches back past the clock's origin, nothing has aged out.
        let Some(now) = self.stale.retained_after(Instant::now()) else {
            return 0;
        };
        self.store.purge(now, self.current_epoch(), &mut graveyard)
    }

    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn ttl(&self) -> Duration {
        Duration::from_nanos(self.ttl_nanos.load(Relaxed))
    }

    /// Changes the TTL of the values stored from now on. Never zero: the verbs refuse a zero
    /// TTL before they get here.
    pub(crate) fn set_ttl(&self, ttl: Duration) {
        debug_assert!(!ttl.is_zero(), "a zero ttl is refused above");
        let old = Duration::from_nanos(self.ttl_nanos.swap(ttl_nanos(ttl), Relaxed));
        if ttl < old {
            // Values stored from now on may expire before values stored earlier.
            self.store.ttl_lowered(Instant::now(), old);
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.store.capacity()
    }

    /// Changes the capacity, evicting down to it before it returns. Never zero: the verbs
    /// refuse a zero capacity before they get here.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        debug_assert!(capacity != 0, "a zero capacity is refused above");
        let mut graveyard = Graveyard::new();
        self.store.set_capacity(
            capacity,
            Instant::now(),
            self.current_epoch(),
            &mut graveyard,
        );
        drop(graveyard);
    }

    pub(crate) fn internal_sizes(&self) -> (usize, usize, usize) {
        let (entries, groups) = self.store.sizes();
        (entries, groups, self.flights.len())
    }

    pub(crate) fn current_epoch(&self) -> u64 {
        self.epoch.load(SeqCst)
    }

    /// Bounded housekeeping after each miss and invalidation: a few expired entries off the
    /// front of the store order.
    pub(crate) fn maintain(&self) {
        self.maintain_at(Instant::now());
    }

    /// [`maintain`](Self::maintain) with the caller's clock reading.
    pub(crate) fn maintain_at(&self, now: Instant) {
        let mut graveyard = Graveyard::new();
        // Entries inside a stale window are kept: the sweep sees them as of the window's start.
        if let Some(now) = self.stale.retained_after(now) {
            self.store
                .sweep(now, self.current_epoch(), SWEEP_BUDGET, &mut graveyard);
        }
    }
}

/// How the cache meets the layers beyond this process (feature `redis`): see `seam/`.
#[cfg(feature = "redis")]
impl<G, K> Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// This cache, as the layers beyond this process know it.
    pub(crate) fn cache_id(&self) -> CacheId<'_> {
        CacheId {
            name: &self.name,
            identity: std::ptr::from_ref(self) as usize,
        }
    }

    /// Whether this cache may store now: always, unless it joined the roster and its
    /// observers say otherwise (the backplane: not while its subscription is unhealthy).
    pub(crate) fn storing_allowed(&self) -> bool {
        self.fleet.get().is_none_or(Membership::storing_allowed)
    }

    /// As whom, and with which codec, this cache tells its own invalidations (an error that
    /// revokes) and names its values in the shared tier: `Some` once it joined, unless refused
    /// for a name another cache holds (whose keys and values it must not touch). A
    /// `#[ttl_cached]` cache's companions tell theirs with the function's part lists, the same
    /// encoding.
    pub(crate) fn teller(&self) -> Option<(CacheId<'_>, WireCodec)> {
        let fleet = self.fleet.get()?;
        let codec = fleet.codec.filter(|_| !fleet.refused)?;
        let cache = CacheId {
            name: &self.name,
            identity: fleet.identity,
        };
        Some((cache, codec))
    }
}

/// `ttl` in nanoseconds, saturating: about 584 years at most.
fn ttl_nanos(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX)
}

impl<G, K> Drop for Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        self.store.drain();
    }
}

/// A dropped cache leaves the metrics' registry with its counters (the tier's among them) before
/// its core drains the store.
#[cfg(feature = "metrics")]
impl<G, K, V> Drop for Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        census::dropped(self);
    }
}

//! Serving stale: expired values served for a window after their TTL, while one background
//! refresh runs (stale-while-revalidate), or in place of a fetch that failed (stale-if-error).
//!
//! - **Keeping them.** An entry stays stored until the longer window after its TTL has passed:
//!   sweeps and [`purge_expired`](TtlCache::purge_expired) look at the store as of
//!   `now - longest window`. It still counts against the capacity (so `len() <= capacity`
//!   holds as before), and an expired entry, stale or not, is still the first to go when the
//!   cache is full: eviction compares with the real clock. The hit path is unchanged: it
//!   serves live values only, and everything here runs after it missed.
//! - **Stale while revalidating** ([`get_with_stale`](TtlCache::get_with_stale)): a call that
//!   misses finds the expired node, takes the key's flight entry exactly as a miss does (same
//!   stamp, same "invalidation in progress" rule), and if no fetch of the key is running, makes
//!   a new flight and hands it to a task spawned on the caller's runtime; the caller returns
//!   the expired value at once. Callers that miss meanwhile without a window join that flight
//!   (single-flight), and its value is stored by the same `commit` as any fetch, under the
//!   flight entry and only if its stamp is still current: a refresh whose group, key, scope or
//!   cache was invalidated while it ran is not stored. With no tokio runtime
//!   (`Handle::try_current` fails) or during an invalidation, the call fetches inline instead.
//! - **Stale if error**: a leader whose key had an expired node inside its window when its
//!   fetch began keeps that node in its [`Lead`]; if the fetch returns a non-storable outcome
//!   (`Err`) or panics, the leader answers itself and its waiters with the node's value, not
//!   stored.
//! - **Invalidation wins.** A value is served stale only if its node is still in the index
//!   (an invalidation of its key, group, scope, or a clear removes it and takes its value out
//!   before it returns) and still current (its stamp's group generation and epoch unchanged):
//!   both are read when it is served, after the fetch for stale-if-error. So a call that begins
//!   after an invalidation returned never receives a value fetched before it, stale or not.

use std::any::Any;
use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use scc::Equivalent;
use tokio::time::Instant;

use crate::borrowed::ToKey;
use crate::cache::{Inner, TtlCache};
use crate::flight::{Claim, Flight, Lead, Settle};
use crate::node::Node;
use crate::policy::{Plain, Policy, TryRetry};
use crate::probe::{KeyProbe, Pair};
use crate::stats::bump;
use crate::trace;

/// A cache's stale windows, fixed when it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    /// Stale-while-revalidate: how long after its TTL a value is served while refreshed.
    pub(crate) revalidate: Duration,
    /// Stale-if-error: how long after its TTL a value stands in for a failed fetch.
    pub(crate) if_error: Duration,
}

impl Windows {
    pub(crate) const NONE: Self = Self {
        revalidate: Duration::ZERO,
        if_error: Duration::ZERO,
    };

    /// The clock reading at which an entry that must be kept at `now` would still be live:
    /// `now` less the longer window. Sweeps compare with it, so entries inside a window stay.
    pub(crate) fn retained_after(&self, now: Instant) -> Option<Instant> {
        let longest = self.revalidate.max(self.if_error);
        // `None` when `now` is closer to the clock's origin than the window (a window of
        // `Duration::MAX`, "forever", always is): no entry can be past its window yet, since
        // every entry expired after the origin. Nothing is swept by age then.
        now.checked_sub(longest)
    }
}

/// What a `#[ttl_cached]` attribute sets beyond the TTL and capacity: `stale`,
/// `stale_if_error` and `jitter`, carried by its handle to the cache it makes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Options {
    /// `stale = "30s"`: the stale-while-revalidate window.
    pub(crate) stale: Duration,
    pub(crate) stale_if_error: Duration,
    /// A fraction of the TTL (checked by the macro, and again by the builder).
    pub(crate) jitter: f64,
}

impl Options {
    pub(crate) const NONE: Self = Self {
        stale: Duration::ZERO,
        stale_if_error: Duration::ZERO,
        jitter: 0.0,
    };
}

/// Whether `now` is before `expires_at + window`.
fn within(expires_at: Instant, window: Duration, now: Instant) -> bool {
    expires_at.checked_add(window).is_none_or(|end| now < end)
}

/// Polls `fetch`, catching a panic so that stale-if-error can answer instead; the caller
/// resumes the panic if it cannot.
pub(crate) async fn catch_unwind<F: Future>(fetch: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut fetch = std::pin::pin!(fetch);
    std::future::poll_fn(move |cx| poll_catching(fetch.as_mut(), cx)).await
}

/// One poll of the fetch under `catch_unwind`. Kept out of line: its landing pad would
/// otherwise be inlined into the cached function's own state machine, hit path included.
#[inline(never)]
fn poll_catching<F: Future>(
    fetch: std::pin::Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<F::Output, Box<dyn Any + Send>>> {
    // Unwind safety: after a panic the fetch is never polled again, and what the cache shares
    // is only touched by the settling code, which runs after this returns.
    match std::panic::catch_unwind(AssertUnwindSafe(|| fetch.poll(cx))) {
        Ok(Poll::Ready(outcome)) => Poll::Ready(Ok(outcome)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(payload) => Poll::Ready(Err(payload)),
    }
}

impl<G, K, V> TtlCache<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Like [`get_with`](Self::get_with), serving stale while revalidating: within the
    /// [`stale_while_revalidate`](crate::CacheBuilder::stale_while_revalidate) window after
    /// the key's value expired, returns that value at once and refreshes it in the background,
    /// once: `fetch` runs in a task spawned on the caller's tokio runtime, unless a fetch of
    /// the key is already running (which callers then share, as with any fetch). Its value is
    /// stored unless the key, its group, or the cache was invalidated while it ran. Outside the
    /// window, or with no tokio runtime, it behaves as `get_with`.
    ///
    /// `fetch` is called by the caller, and the future it returns must be `Send + 'static`
    /// (it may become a task, which holds a clone of this handle); `fetch` itself may borrow.
    /// An invalidated value is never served, stale or not. A panic in a background refresh is
    /// caught and counted ([`refreshes_failed`](crate::CacheStats::refreshes_failed)); the
    /// stale value stays until its window ends.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, String> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// cache.get_with_stale("alice", &1, || async { "v1".to_string() }).await;
    /// tokio::time::advance(Duration::from_secs(70)).await; // expired, inside the window
    ///
    /// // Answered at once with the expired value; the refresh runs in the background.
    /// let v = cache.get_with_stale("alice", &1, || async { "v2".to_string() }).await;
    /// assert_eq!(v, "v1");
    /// assert_eq!(cache.stats().refreshes_started, 1);
    /// tokio::task::yield_now().await; // let the refresh run
    /// assert_eq!(cache.get("alice", &1).as_deref(), Some("v2"));
    /// # }
    /// ```
    pub async fn get_with_stale<QG, QK, F, Fut>(&self, group: &QG, key: &QK, fetch: F) -> V
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let probe = Pair { group, rest: key };
        let inner = &self.inner;
        if let Some(value) = inner.lookup(&probe) {
            return value;
        }
        match inner.serve_stale(inner, &probe, Plain::<V>::NEW, fetch) {
            Ok(value) => value,
            Err(fetch) => inner.run(&probe, &Plain::<V>::NEW, fetch).await,
        }
    }

    /// [`get_with_stale`](Self::get_with_stale) for a fallible fetch, as
    /// [`try_get_with`](Self::try_get_with) is for `get_with`: an `Err` of a background
    /// refresh is counted ([`refreshes_failed`](crate::CacheStats::refreshes_failed)), not
    /// stored, and leaves the stale value in place until its window ends.
    ///
    /// # Errors
    ///
    /// Whatever `fetch` returned, when it ran inline (outside the window) and no
    /// [`stale_if_error`](crate::CacheBuilder::stale_if_error) value could stand in for it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use cache_core::TtlCache;
    /// use std::time::Duration;
    ///
    /// let cache: TtlCache<String, u32, u64> = TtlCache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// let first = cache.try_get_with_stale("u", &1, || async { Ok::<_, String>(1) }).await;
    /// assert_eq!(first, Ok(1));
    /// tokio::time::advance(Duration::from_secs(61)).await;
    /// // The upstream fails: callers keep getting the stale value meanwhile.
    /// let stale = cache
    ///     .try_get_with_stale("u", &1, || async { Err::<u64, _>("429".to_string()) })
    ///     .await;
    /// assert_eq!(stale, Ok(1));
    /// tokio::task::yield_now().await;
    /// assert_eq!(cache.stats().refreshes_failed, 1);
    /// # }
    /// ```
    pub async fn try_get_with_stale<QG, QK, F, Fut, E>(
        &self,
        group: &QG,
        key: &QK,
        fetch: F,
    ) -> Result<V, E>
    where
        QG: ?Sized + Hash + Equivalent<G> + ToKey<G>,
        QK: ?Sized + Hash + Equivalent<K> + ToKey<K>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + 'static,
    {
        let probe = Pair { group, rest: key };
        let inner = &self.inner;
        if let Some(value) = inner.lookup(&probe) {
            return Ok(value);
        }
        match inner.serve_stale(inner, &probe, TryRetry::<V, E>::NEW, fetch) {
            Ok(outcome) => outcome,
            Err(fetch) => inner.run(&probe, &TryRetry::<V, E>::NEW, fetch).await,
        }
    }

    /// The stale-while-revalidate window given at build time (zero if none).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.stale_while_revalidate(), Duration::ZERO);
    /// ```
    pub fn stale_while_revalidate(&self) -> Duration {
        self.inner.stale.revalidate
    }

    /// The stale-if-error window given at build time (zero if none).
    ///
    /// ```
    /// # use cache_core::TtlCache;
    /// # use std::time::Duration;
    /// let cache: TtlCache<u32, u32, u32> =
    ///     TtlCache::builder().ttl(Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(cache.stale_if_error(), Duration::ZERO);
    /// ```
    pub fn stale_if_error(&self) -> Duration {
        self.inner.stale.if_error
    }
}

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Stale-while-revalidate, after the caller's lookup missed: the expired value if the key
    /// has one inside the window (starting a background refresh unless a fetch of the key is
    /// running), a live value stored meanwhile, or `fetch` back for the caller to run inline.
    /// `fetch` is called here, by the caller, only when a refresh is started: only the future
    /// it returns goes to the task.
    fn serve_stale<C, P, Pol, F, Fut>(
        &self,
        owner: &C,
        probe: &P,
        policy: Pol,
        fetch: F,
    ) -> Result<Pol::Output, F>
    where
        C: Deref<Target = Self> + Clone + Send + Sync + 'static,
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V> + Send + Sync + 'static,
        Pol::Output: Send,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Pol::Output> + Send + 'static,
    {
        let Some((answer, refresh)) = self.claim_stale(owner, probe, &policy) else {
            return Err(fetch);
        };
        if let Some(refresh) = refresh {
            // Should `fetch` panic, `refresh` is dropped unspawned and abandons its flight.
            refresh.spawn(fetch(), policy);
        }
        Ok(answer)
    }

    /// The first half of [`serve_stale`](Self::serve_stale), which needs no fetch: `None` if
    /// the caller must fetch (no window, no expired value inside it, no runtime, an
    /// invalidation in progress); else its answer (the expired value, or a live value stored
    /// meanwhile) and, when it leads the key's new flight, the refresh to spawn.
    pub(crate) fn claim_stale<C, P, Pol>(
        &self,
        owner: &C,
        probe: &P,
        policy: &Pol,
    ) -> Option<Claimed<Pol::Output, C, G, K, V>>
    where
        C: Deref<Target = Self> + Clone + Send + Sync + 'static,
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
    {
        if self.stale.revalidate.is_zero() {
            return None;
        }
        let probe = &self.store.hasher.hashed(probe);
        let node = self.store.peek_current(probe, self.current_epoch())?;
        let now = Instant::now();
        if now < node.expires_at || !within(node.expires_at, self.stale.revalidate, now) {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        // As in `start`: the refresh "begins" here; the stamp is read after the group is pinned.
        let group = self.store.groups.pin(probe);
        let stamp = self.stamp(&group);
        let keys = self.fences.key_seq();
        // The value is read after the stamp, and served only if no invalidation came between
        // its fetch and the stamp; read after the stamp, as in `start`, an invalidation in
        // progress sends the caller inline (where its fetch runs unshared), and so does an
        // invalidation of the key found when the flight entry is taken below.
        let stale = if node.is_current(stamp.epoch) && !self.fenced(&group, probe.key) {
            node.value()
        } else {
            None
        };
        let Some(stale) = stale else {
            self.store.groups.unpin(&group);
            return None;
        };
        // Built here, not under the flight entry: a key part's `Clone` is user code.
        let ours = Arc::new(Flight::new(
            Arc::clone(&group),
            probe.owned_rest(),
            probe.key,
            stamp,
        ));
        let claim = self.flights.claim(
            ours,
            stamp,
            || self.fences.key_invalidated_since(keys, probe.key),
            || self.store.peek_live(probe, stamp.epoch),
        );
        let refreshing = match claim {
            Claim::Fenced(_) | Claim::Retry => {
                // Fetched inline instead, where it begins again.
                self.store.groups.unpin(&group);
                return None;
            }
            Claim::Join(_) => {
                // A fetch of the key is running: it is the refresh.
                self.store.groups.unpin(&group);
                None
            }
            Claim::Found(live) => {
                self.store.groups.unpin(&group);
                let value = live.value()?;
                self.store.counters.hits.incr();
                return Some((policy.answer(value), None));
            }
            Claim::Lead { flight, replaced } => {
                if let Some(old) = replaced {
                    self.store.groups.unpin(&old.group);
                }
                Some(flight)
            }
        };
        let answer = policy.answer(stale);
        bump(&self.store.counters.stale_served, 1);
        trace::stale_served(self.name(), refreshing.is_some());
        let refresh = refreshing.map(|flight| {
            bump(&self.store.counters.refreshes_started, 1);
            self.store
                .counters
                .refreshes_in_flight
                .fetch_add(1, Relaxed);
            trace::refresh_started(self.name());
            // From here the guard abandons the flight and counts the refresh out of
            // `refreshes_in_flight` if it is dropped, spawned or not.
            Background {
                owner: owner.clone(),
                flight: Some(flight),
                runtime,
            }
        });
        Some((answer, refresh))
    }

    /// Gives `lead` the key's expired node to fall back on if it is inside the stale-if-error
    /// window (see [`Lead::panicked`] and `Lead::finish`).
    pub(crate) fn with_fallback<'c, P>(
        &self,
        lead: Lead<'c, G, K, V>,
        probe: &P,
    ) -> Lead<'c, G, K, V>
    where
        P: ?Sized + crate::probe::KeyLookup<G, K> + crate::probe::KnownHash,
    {
        if self.stale.if_error.is_zero() {
            return lead;
        }
        let fallback = self
            .store
            .peek_current(probe, lead.flight.stamp.epoch)
            .filter(|node| within(node.expires_at, self.stale.if_error, Instant::now()));
        if let Some(node) = fallback {
            // Set once, by the leader, before its fetch runs.
            let _ = lead.flight.fallback.set(node);
        }
        lead
    }

    /// Stale-if-error, once the fetch failed: `node`'s value if it is still inside its window,
    /// still current and still stored (an invalidation removes it before it returns).
    pub(crate) fn serve_on_error(&self, node: &Node<G, K, V>, panicked: bool) -> Option<V> {
        if !node.is_current(self.current_epoch())
            || !within(node.expires_at, self.stale.if_error, Instant::now())
        {
            return None;
        }
        // `None` once the node left the index, whatever the reason.
        let value = node.value()?;
        bump(&self.store.counters.stale_on_error, 1);
        trace::stale_on_error(self.name(), panicked);
        Some(value)
    }
}

/// What [`Inner::claim_stale`] answers a caller with: its answer, and the refresh it leads.
pub(crate) type Claimed<O, C, G, K, V> = (O, Option<Background<C, G, K, V>>);

/// A background refresh: owns a handle on the cache, the runtime it is spawned on and, until
/// the task first runs, the flight it leads. Dropped unrun (before it was spawned, or the
/// runtime shut down), it abandons the flight, so callers waiting on it take over; it counts
/// the refresh out of `refreshes_in_flight` either way.
pub(crate) struct Background<C, G, K, V>
where
    C: Deref<Target = Inner<G, K, V>>,
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    owner: C,
    flight: Option<Arc<Flight<G, K, V>>>,
    /// The caller's runtime, where the refresh runs.
    runtime: tokio::runtime::Handle,
}

impl<C, G, K, V> Background<C, G, K, V>
where
    C: Deref<Target = Inner<G, K, V>>,
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Spawns the refresh, running `fetch`, on the caller's runtime. Detached: the task
    /// settles the flight itself, and its handle is not needed.
    pub(crate) fn spawn<Pol, Fut>(self, fetch: Fut, policy: Pol)
    where
        C: Send + Sync + 'static,
        Pol: Policy<Value = V> + Send + Sync + 'static,
        Pol::Output: Send,
        Fut: Future<Output = Pol::Output> + Send + 'static,
    {
        let runtime = self.runtime.clone();
        drop(runtime.spawn(self.run(fetch, policy)));
    }

    async fn run<Pol, Fut>(mut self, fetch: Fut, policy: Pol)
    where
        Pol: Policy<Value = V>,
        Fut: Future<Output = Pol::Output>,
    {
        let Some(flight) = self.flight.take() else {
            return;
        };
        let cache: &Inner<G, K, V> = &self.owner;
        // From here the lead abandons the flight if this task is dropped or the fetch panics.
        let lead = Lead {
            owner: cache,
            hooks: &cache.hooks,
            flight: Arc::clone(&flight),
            armed: true,
        };
        match catch_unwind(fetch).await {
            Ok(outcome) => {
                drop(lead.finish(outcome, &policy).await);
                if flight.value().is_none() {
                    bump(&cache.store.counters.refreshes_failed, 1);
                    trace::refresh_failed(cache.name(), false);
                }
            }
            Err(_panic) => {
                drop(lead);
                bump(&cache.store.counters.refreshes_failed, 1);
                trace::refresh_failed(cache.name(), true);
            }
        }
    }
}

impl<C, G, K, V> Drop for Background<C, G, K, V>
where
    C: Deref<Target = Inner<G, K, V>>,
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.owner.abandon(&flight);
        }
        self.owner
            .store
            .counters
            .refreshes_in_flight
            .fetch_sub(1, Relaxed);
    }
}

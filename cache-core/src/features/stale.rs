//! Serving stale while revalidating: within a window after a value's TTL ran out, a call gets
//! the expired value at once while one background refresh of its key runs. Used by
//! [`TtlCache::get_with_stale`](crate::TtlCache::get_with_stale) and by `stale = ".."`
//! functions.
//!
//! The rest of serving stale lies lower, in the layers this one stands on:
//!
//! - **Keeping them.** An entry stays stored until the longer window after its TTL has passed
//!   (`engine/expiry.rs`, [`Windows`](crate::engine::expiry::Windows)): sweeps and purges look at
//!   the store as of `now - longest window`. It still counts against the capacity (so
//!   `len() <= capacity` holds as before), and an expired entry, stale or not, is still the
//!   first to go when the cache is full: eviction compares with the real clock. The hit path
//!   is unchanged: it serves live values only, and everything here runs after it missed.
//! - **Stale if error** (`cache/fallback.rs`): a leader whose key had an expired node inside
//!   its window when its fetch began keeps that node in its flight; if the fetch returns a
//!   non-storable outcome (`Err`) or panics, the leader answers itself and its waiters with the
//!   node's value, not stored. It is part of the miss path, so it lives beside it.
//! - **Fail-safe** (`engine/throttle.rs`, `cache/fallback.rs`): a failure papered over leaves the
//!   key's upstream alone for a while (its node remembers until when); here, a failed refresh
//!   backs off the same way, and a call that finds the key backing off is served stale without
//!   starting a refresh.
//!
//! Here, **stale while revalidating**: a call that misses finds the expired node, takes the
//! key's flight entry exactly as a miss does (same stamp, same "invalidation in progress"
//! rule), and if no fetch of the key is running, makes a new flight and hands it to a task
//! spawned on the caller's runtime ([`Background`]); the caller returns the expired value at
//! once. Callers that miss meanwhile without a window join that flight (single-flight), and its
//! value is stored by the same `commit` as any fetch, under the flight entry and only if its
//! stamp is still current: a refresh whose group, key, scope or cache was invalidated while it
//! ran is not stored. With no tokio runtime (`Handle::try_current` fails) or during an
//! invalidation, the call fetches inline instead.
//!
//! **Invalidation wins.** A value is served stale only if its node is still in the index (an
//! invalidation of its key, group, scope, or a clear removes it and takes its value out before
//! it returns) and still current (its stamp's group generation and epoch unchanged): both are
//! read when it is served, after the fetch for stale-if-error. So a call that begins after an
//! invalidation returned never receives a value fetched before it, stale or not.

use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::engine::clock::Instant;

use crate::cache::fetch::settle;
#[cfg(feature = "redis-tier")]
use crate::cache::tier::Tiered;
use crate::cache::trace;
use crate::cache::upstream::{Outcome, Upstream};
use crate::cache::Inner;
use crate::engine::expiry::within;
use crate::engine::flight::{Claim, Flight, Lead, Settle, Start};
use crate::engine::node::NodeRef;
use crate::engine::policy::Policy;
use crate::engine::stats::bump;
use crate::engine::timeout::Fetched;
use crate::keys::lookup::KeyProbe;

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
    pub(crate) fn serve_stale<C, P, Pol, F, Fut>(
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
            node.value::<V>()
        } else {
            None
        };
        let Some(stale) = stale else {
            self.store.groups.unpin(&group);
            return None;
        };
        // A refresh of the key failed lately: back off, serving the value without one.
        if node.throttle.holds(node.expires_at, now) {
            self.store.groups.unpin(&group);
            bump(&self.store.counters.stale_served, 1);
            bump(&self.store.counters.throttled, 1);
            trace::throttled(self.name());
            return Some((policy.answer(stale), None));
        }
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
                let value = live.value::<V>()?;
                self.store.counters.hits.incr();
                return Some((policy.answer(value), None));
            }
            Claim::Lead { flight, replaced } => {
                if let Some(old) = replaced {
                    self.store.groups.unpin(&old.group);
                }
                // Inside the stale-if-error window, a failed refresh answers the callers that
                // joined it with the expired value, as any failed fetch does, rather than
                // sending each to the upstream after it.
                if within(node.expires_at, self.stale.if_error, now) {
                    let _ = flight.fallback.set(node.clone());
                }
                Some(flight)
            }
        };
        let answer = policy.answer(stale);
        bump(&self.store.counters.stale_served, 1);
        trace::stale_served(self.name(), refreshing.is_some());
        let refresh = refreshing
            .map(|flight| Background::started(owner.clone(), flight, node, runtime, true));
        Some((answer, refresh))
    }
}

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The miss path of a caller that serves stale while revalidating, once
    /// [`claim_stale`](Self::claim_stale) found nothing to serve here: as
    /// [`start_tiered`](Self::start_tiered), except that an expired value only the shared tier
    /// still kept (another replica's, inside the revalidation window) is answered at once, and
    /// the flight goes on as its background refresh, as if it had been this replica's own.
    #[cfg_attr(not(feature = "redis-tier"), allow(unused_variables))]
    pub(crate) async fn start_revalidating<'c, C, P, Pol>(
        &'c self,
        owner: &C,
        probe: &P,
        policy: &Pol,
    ) -> Revalidating<Pol::Output, Lead<'c, G, K, V>, Background<C, G, K, V>>
    where
        C: Deref<Target = Self> + Clone + Send + Sync + 'static,
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
    {
        let lead = match self.start(probe, policy).await {
            Start::Done(outcome) => return Revalidating::Done(outcome),
            Start::Lead(lead) => lead,
        };
        #[cfg(feature = "redis-tier")]
        if self.tier.get().is_some() {
            let serve = !self.stale.revalidate.is_zero();
            match self.through_tier(&lead.flight, serve).await {
                Tiered::Value(value) => {
                    return Revalidating::Done(lead.finish(policy.answer(value), policy).await)
                }
                Tiered::Stale(node) => {
                    let runtime = tokio::runtime::Handle::try_current();
                    // Read last, as `claim_stale` does: `None` once an invalidation removed it.
                    let stale = node
                        .is_current(self.current_epoch())
                        .then(|| node.value::<V>())
                        .flatten();
                    if let (Ok(runtime), Some(stale)) = (runtime, stale) {
                        let ask_tier = !Self::tier_leased(&lead.flight);
                        let flight = lead.hand_over();
                        bump(&self.store.counters.stale_served, 1);
                        trace::stale_served(self.name(), true);
                        let refresh =
                            Background::started(owner.clone(), flight, node, runtime, ask_tier);
                        return Revalidating::Stale(policy.answer(stale), refresh);
                    }
                }
                Tiered::Fetch => {}
            }
        }
        Revalidating::Lead(lead)
    }

    /// A leader's fetch under the soft timeout: where its key has an expired value to stand in
    /// (its flight's fallback, inside the stale-if-error window) and a soft timeout is set, the
    /// fetch runs in a task spawned on the caller's runtime, which settles the flight as a
    /// background refresh does; the caller waits for its outcome until the soft timeout, and
    /// past it gets the expired value (if still current and stored) while the fetch goes on and
    /// is stored when it ends (if still current). Anywhere else, the fetch runs inline, as
    /// without it.
    pub(crate) async fn lead_soft<C, Pol, Fut>(
        &self,
        owner: &C,
        lead: Lead<'_, G, K, V>,
        fetch: Fut,
        policy: Pol,
    ) -> Pol::Output
    where
        C: Deref<Target = Self> + Clone + Send + Sync + 'static,
        Pol: Policy<Value = V> + Send + Sync + 'static,
        Pol::Output: Send,
        Fut: Future<Output = Pol::Output> + Send + 'static,
    {
        let node = lead.flight.fallback.get().cloned();
        let runtime = tokio::runtime::Handle::try_current().ok();
        let (Some(soft), Some(node), Some(runtime)) = (self.fail_safe.soft_timeout, node, runtime)
        else {
            let upstream = Upstream::begin(self.name());
            let fetched = {
                let fetch = std::pin::pin!(upstream.watch(fetch));
                lead.fetch(fetch, &policy).await
            };
            return settle(lead, upstream, fetched, &policy).await;
        };
        let flight = lead.hand_over();
        self.store
            .counters
            .refreshes_in_flight
            .fetch_add(1, Relaxed);
        let policy = Arc::new(policy);
        let (answer, answered) = tokio::sync::oneshot::channel();
        Background {
            owner: owner.clone(),
            flight: Some(flight),
            node: node.clone(),
            runtime,
            // Its leader asked already.
            ask_tier: false,
        }
        .spawn_answering(fetch, Arc::clone(&policy), answer);
        let mut answered = std::pin::pin!(answered);
        if let Ok(outcome) = tokio::time::timeout(soft, &mut answered).await {
            return match outcome {
                Ok(outcome) => outcome,
                // The fetch panicked (its task caught it): as inline, the panic reaches the
                // caller, unless the expired value may stand in.
                Err(_) => match self.serve_on_error(&node, true, None) {
                    Some(stale) => policy.answer(stale),
                    None => panic!("the fetch of `{}` panicked", self.name()),
                },
            };
        }
        // Past the soft timeout: the expired value, read now (an invalidation since removed it).
        if let Some(stale) = self.soft_stale(&node) {
            return policy.answer(stale);
        }
        match answered.await {
            Ok(outcome) => outcome,
            Err(_) => panic!("the fetch of `{}` panicked", self.name()),
        }
    }

    /// The expired value of `node` for a caller past the soft timeout: still current, stored,
    /// inside its stale-if-error window, and no invalidation of it in progress.
    fn soft_stale(&self, node: &NodeRef<G, K>) -> Option<V> {
        let now = Instant::now();
        if !node.is_current(self.current_epoch())
            || !within(node.expires_at, self.stale.if_error, now)
            || self.fenced(&node.group, node.hash)
        {
            return None;
        }
        let value = node.value::<V>()?;
        bump(&self.store.counters.soft_timeouts, 1);
        trace::soft_timeout(self.name());
        Some(value)
    }
}

/// What [`Inner::start_revalidating`] answers a caller with: answered, or to fetch inline,
/// or an expired value from the shared tier and the background refresh to spawn.
pub(crate) enum Revalidating<O, L, B> {
    Done(O),
    Lead(L),
    #[cfg_attr(not(feature = "redis-tier"), allow(dead_code))]
    Stale(O, B),
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
    flight: Option<Arc<Flight<G, K>>>,
    /// The expired node refreshed: where a failure backs off (see `engine/throttle.rs`).
    node: NodeRef<G, K>,
    /// The caller's runtime, where the refresh runs.
    runtime: tokio::runtime::Handle,
    /// Whether the refresh asks the shared tier before fetching (feature `redis-tier`, where
    /// the cache has one): unless its leader asked already and took the key's lease. Another
    /// replica may have refreshed the key, or be refreshing it: its value is then taken, with
    /// no upstream call.
    #[cfg_attr(not(feature = "redis-tier"), allow(dead_code))]
    ask_tier: bool,
}

impl<C, G, K, V> Background<C, G, K, V>
where
    C: Deref<Target = Inner<G, K, V>>,
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A refresh of `node`'s key, leading `flight`, counted as started and in flight. From
    /// here the guard abandons the flight and counts the refresh out of `refreshes_in_flight`
    /// if it is dropped, spawned or not.
    fn started(
        owner: C,
        flight: Arc<Flight<G, K>>,
        node: NodeRef<G, K>,
        runtime: tokio::runtime::Handle,
        ask_tier: bool,
    ) -> Self {
        let counters = &owner.store.counters;
        bump(&counters.refreshes_started, 1);
        counters.refreshes_in_flight.fetch_add(1, Relaxed);
        trace::refresh_started(owner.name());
        Self {
            owner,
            flight: Some(flight),
            node,
            runtime,
            ask_tier,
        }
    }

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
        drop(runtime.spawn(self.run::<Pol, _, _>(fetch, policy, None)));
    }

    /// As [`spawn`](Self::spawn), sending what the fetch's caller would have received to
    /// `answer` (the caller of a fetch past its soft timeout may still be waiting for it).
    fn spawn_answering<Pol, Fut>(
        self,
        fetch: Fut,
        policy: Arc<Pol>,
        answer: tokio::sync::oneshot::Sender<Pol::Output>,
    ) where
        C: Send + Sync + 'static,
        Pol: Policy<Value = V> + Send + Sync + 'static,
        Pol::Output: Send,
        Fut: Future<Output = Pol::Output> + Send + 'static,
    {
        let runtime = self.runtime.clone();
        drop(runtime.spawn(self.run::<Pol, _, _>(fetch, policy, Some(answer))));
    }

    async fn run<Pol, P, Fut>(
        mut self,
        fetch: Fut,
        policy: P,
        answer: Option<tokio::sync::oneshot::Sender<Pol::Output>>,
    ) where
        Pol: Policy<Value = V>,
        P: std::borrow::Borrow<Pol>,
        Fut: Future<Output = Pol::Output>,
    {
        let policy: &Pol = policy.borrow();
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
        #[cfg(feature = "redis-tier")]
        if self.ask_tier && cache.tier.get().is_some() {
            if let Tiered::Value(value) = cache.through_tier(&flight, false).await {
                let answered = lead.finish(policy.answer(value), policy).await;
                if let Some(answer) = answer {
                    let _ = answer.send(answered);
                }
                return;
            }
        }
        let upstream = Upstream::begin(cache.name());
        let fetched = {
            let fetch = std::pin::pin!(upstream.watch(fetch));
            lead.fetch(fetch, policy).await
        };
        match lead.fetched(fetched, policy) {
            Fetched::TimedOut(_) => unreachable!("a fetch is limited only where it can time out"),
            Fetched::Done(outcome) => {
                upstream.end(Outcome::of(policy.failed(&outcome)));
                // User code (a classifier), before the outcome is settled.
                let failed = policy
                    .failed(&outcome)
                    .then(|| policy.classify(&outcome).retry_after());
                let answered = lead.finish(outcome, policy).await;
                if let Some(answer) = answer {
                    // The caller may have been answered stale and gone: nothing to do then.
                    let _ = answer.send(answered);
                }
                if let Some(retry_after) = failed {
                    self.back_off(retry_after);
                    bump(&cache.store.counters.refreshes_failed, 1);
                    trace::refresh_failed(cache.name(), false);
                }
            }
            Fetched::Panicked(_panic) => {
                upstream.end(Outcome::Panic);
                drop(lead);
                self.back_off(None);
                bump(&cache.store.counters.refreshes_failed, 1);
                trace::refresh_failed(cache.name(), true);
            }
        }
    }

    /// After a failed refresh: no other refresh of the key for the back-off, doubled for each
    /// refresh of it that failed in a row (see `engine/throttle.rs`).
    fn back_off(&self, retry_after: Option<std::time::Duration>) {
        let cache: &Inner<G, K, V> = &self.owner;
        let failures = self.node.throttle.refresh_failed();
        let period = cache.fail_safe.backoff(failures);
        cache.throttle(&self.node, Instant::now(), period, retry_after);
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

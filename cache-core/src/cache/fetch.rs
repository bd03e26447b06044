//! The miss path: join a running fetch or lead a new one, then settle the leader's outcome
//! (store, publish to the waiters, retire the flight).

use std::any::Any;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::clock::Instant;

use super::trace;
use super::upstream::{Outcome, Upstream};
use super::{Core, Inner};
use crate::engine::fence::shared_hash;
use crate::engine::flight::{Claim, Ending, Flight, Lead, Settle, Start};
use crate::engine::hook::HookPoint;
use crate::engine::node::{NodeGroup, NodeRef, Stamp};
use crate::engine::policy::Policy;
use crate::engine::probe::Hashed;
use crate::engine::stats::bump;
use crate::engine::store::Graveyard;
use crate::engine::timeout::Fetched;
use crate::keys::lookup::KeyProbe;

/// The rest of a leader's miss once its fetch ended (the fetch itself already dropped): a
/// panic answered stale or resumed, else the outcome stored (if the policy keeps it),
/// published and returned. Compiled once per cache and policy type, whatever the fetch.
pub(crate) async fn settle<G, K, V, P: Policy<Value = V>>(
    lead: Lead<'_, G, K, V>,
    upstream: Upstream<'_>,
    fetched: Fetched<P::Output>,
    policy: &P,
) -> P::Output {
    let outcome = match lead.fetched(fetched, policy) {
        Fetched::Done(outcome) => outcome,
        Fetched::Panicked(payload) => {
            upstream.end(Outcome::Panic);
            return lead.panicked(payload, policy);
        }
        Fetched::TimedOut(_) => unreachable!("a fetch is limited only where it can time out"),
    };
    upstream.end(Outcome::of(policy.failed(&outcome)));
    lead.finish(outcome, policy).await
}

/// What one [`Core::step`] of the miss path came to.
pub(crate) enum Step<G, K> {
    /// A value stored meanwhile (gone again if it was removed since: claim again).
    Found(NodeRef<G, K>),
    /// A new flight this caller leads.
    Lead(Arc<Flight<G, K>>),
    /// The running flight this caller joined ended, as it says.
    Ended(Arc<Flight<G, K>>, Ending),
}

/// What one claim under a key's flight entry found ([`Core::begin`]).
pub(crate) enum Begun<G, K> {
    /// A value stored meanwhile.
    Found(NodeRef<G, K>),
    /// A running flight to wait on.
    Join(Arc<Flight<G, K>>),
    /// A new flight this caller leads.
    Lead(Arc<Flight<G, K>>),
    /// Nothing decided: claim again.
    Retry,
}

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Get-or-fetch for the public verbs, after the caller looked the key up and missed: each
    /// verb looks up in its own body and awaits this only on a miss, so a hit neither builds
    /// nor drops the miss path's state machine.
    pub(crate) async fn miss<P, Pol, F, Fut>(
        &self,
        probe: &P,
        policy: &Pol,
        fetch: F,
    ) -> Pol::Output
    where
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Pol::Output>,
    {
        // Not boxed: the miss path's state makes the future 376 bytes instead of 312, and a
        // box would cost every miss an allocation.
        let lead = match self.start_tiered(probe, policy).await {
            Start::Done(outcome) => return outcome,
            Start::Lead(lead) => lead,
        };
        let upstream = Upstream::begin(self.name());
        let fetched = {
            let fetch = std::pin::pin!(upstream.watch(fetch()));
            lead.fetch(fetch, policy).await
        };
        settle(lead, upstream, fetched, policy).await
    }

    /// [`start`](Self::start), then, for a leader whose cache has a shared tier (feature
    /// `redis-tier`), the tier before any fetch (`tier.rs`): a value found there (or brought by
    /// another replica's fetch within the wait) answers the flight, with no upstream call.
    pub(crate) async fn start_tiered<'c, P, Pol>(
        &'c self,
        probe: &P,
        policy: &Pol,
    ) -> Start<Pol::Output, Lead<'c, G, K, V>>
    where
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
    {
        let started = self.start(probe, policy).await;
        #[cfg(feature = "redis-tier")]
        let started = match started {
            Start::Lead(lead) if self.tier.get().is_some() => {
                match self.through_tier(&lead.flight, false).await {
                    super::tier::Tiered::Value(value) => {
                        Start::Done(lead.finish(policy.answer(value), policy).await)
                    }
                    _ => Start::Lead(lead),
                }
            }
            started => started,
        };
        started
    }

    /// Answers from a running fetch, or makes this caller the leader of a new flight. Callers
    /// look the key up first; this looks again under the flight entry, and after a flight it
    /// waited on was abandoned or failed without a shared error.
    pub(crate) async fn start<'c, P, Pol>(
        &'c self,
        probe: &P,
        policy: &Pol,
    ) -> Start<Pol::Output, Lead<'c, G, K, V>>
    where
        P: ?Sized + KeyProbe<G, K>,
        Pol: Policy<Value = V>,
    {
        // Hashed once, for the group index, the flight map and the entry index alike.
        let probe = &self.store.hasher.hashed(probe);
        // Fail-safe: a key whose upstream just failed is answered stale, without a fetch.
        if let Some(stale) = self.throttled(probe) {
            return Start::Done(policy.answer(stale));
        }
        loop {
            match self.step(probe).await {
                Step::Found(node) => {
                    if let Some(value) = node.value::<V>() {
                        self.store.counters.hits.incr();
                        return Start::Done(policy.answer(value));
                    }
                    // Removed in the meantime: start over.
                    continue;
                }
                Step::Lead(flight) => return Start::Lead(self.lead(flight)),
                Step::Ended(flight, Ending::Ready) => {
                    if let Some(value) = flight.value::<V>() {
                        bump(&self.store.counters.coalesced, 1);
                        return Start::Done(policy.answer(value.clone()));
                    }
                }
                Step::Ended(flight, Ending::Failed) => {
                    if let Some(outcome) = flight.failure().and_then(|s| policy.answer_shared(s)) {
                        bump(&self.store.counters.coalesced, 1);
                        return Start::Done(outcome);
                    }
                }
                Step::Ended(_, Ending::Abandoned) => {}
            }
            // Retrying: someone may have stored the value meanwhile.
            if let Some(value) = self.store.lookup(probe, self.current_epoch()) {
                return Start::Done(policy.answer(value));
            }
        }
    }

    /// Makes the caller the leader of a refresh of `probe`'s key: a new flight that takes the
    /// key's flight entry from the flight running (which then neither stores its value nor
    /// takes later callers), while the stored value, if any, is removed, so that every call
    /// from here on either joins the refresh or begins after it. The same rules as any fetch
    /// apply: while an invalidation of the key (its group, its scope, the cache) is in progress
    /// the refresh runs unshared.
    pub(crate) fn lead_refresh<P>(&self, probe: &P) -> Lead<'_, G, K, V>
    where
        P: ?Sized + KeyProbe<G, K>,
    {
        let flight = self.displacing_flight(probe);
        self.lead(flight)
    }

    /// The flight for a value given by the caller (`insert`): like a refresh's, but no fetch
    /// runs, so it is not counted as a miss nor traced as a fetch.
    pub(crate) fn lead_insert<P>(&self, probe: &P) -> Lead<'_, G, K, V>
    where
        P: ?Sized + KeyProbe<G, K>,
    {
        Lead {
            owner: self,
            hooks: &self.hooks,
            flight: self.displacing_flight(probe),
            armed: true,
        }
    }

    /// Makes the caller the leader of `flight`: counted as a miss, and traced.
    fn lead(&self, flight: Arc<Flight<G, K>>) -> Lead<'_, G, K, V> {
        bump(&self.store.counters.misses, 1);
        trace::fetch(self.name());
        Lead {
            owner: self,
            hooks: &self.hooks,
            flight,
            armed: true,
        }
    }

    /// When `flight`'s value, stored at `now`, expires: a TTL from now, or what a value read
    /// from the shared tier had left there, if less.
    fn expiry_of(&self, flight: &Flight<G, K>, now: Instant) -> Instant {
        let expiry = self.expiry(now, flight.hash);
        #[cfg(feature = "redis-tier")]
        if let Some(deadline) = self.tier.get().and_then(|_| Self::tier_deadline(flight)) {
            if deadline < expiry {
                // Store order is no longer expiry order, as with jitter.
                self.store.ttl_lowered(now, self.ttl());
                return deadline;
            }
        }
        expiry
    }
}

/// The miss path's work that needs no value type: compiled once per key shape.
impl<G, K> Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// The untyped part of a leader's commit: under `flight`'s map entry, stores `node` (if
    /// given, the flight is still the entry's and current, and this cache may store) and runs
    /// `publish`; then retires the flight. Returns whether `node` was stored. A node not stored
    /// is dropped after the entry is released: dropping its value may run user code.
    fn settle_flight(
        &self,
        flight: &Arc<Flight<G, K>>,
        node: Option<NodeRef<G, K>>,
        now: Instant,
        publish: &mut dyn FnMut(),
    ) -> bool {
        let mut graveyard = Graveyard::new();
        let ((stored, unstored), retired) = self.flights.settle(flight, |ours| {
            let fresh = ours && flight.stamp == self.stamp(&flight.group) && self.storing_allowed();
            let (stored, unstored) = match node {
                Some(node) if fresh => {
                    self.hooks.at_sync(HookPoint::StoreLocked);
                    self.store
                        .insert(node, now, &self.epoch, &self.hooks, &mut graveyard);
                    (true, None)
                }
                node => (false, node),
            };
            publish();
            (stored, unstored)
        });
        drop(unstored);
        if retired {
            self.store.groups.unpin(&flight.group);
        }
        trace::fetched(self.name(), stored);
        drop(graveyard);
        stored
    }

    /// An error that revokes ended `flight`'s fetch: its group is invalidated at once, in the
    /// scope this cache joined if any, and on the other replicas.
    fn revoke_flight(&self, flight: &Arc<Flight<G, K>>) {
        let group = &flight.group.key;
        let invalidated = match self.joined.get() {
            // In a scope: the group of every member, as the scope's `invalidate` does.
            Some(scope) => {
                let invalidated = scope.invalidate_erased(group, shared_hash(group));
                #[cfg(feature = "redis")]
                let invalidated = invalidated.delivering(self.teller().and_then(|(_, codec)| {
                    crate::seam::scope_invalidated(scope.path(), |out| (codec.group)(group, out))
                }));
                invalidated
            }
            None => {
                let invalidated = self.invalidate_group_by(&flight.stored());
                // The other replicas', as `invalidate_group` does (see `backplane`).
                #[cfg(feature = "redis")]
                let invalidated =
                    invalidated.delivering(self.teller().and_then(|(cache, codec)| {
                        crate::seam::group_invalidated(cache, |out| (codec.group)(group, out))
                    }));
                invalidated
            }
        };
        // Done when made: taking the count ends it, and awaiting it would add nothing here.
        let removed = invalidated.count();
        bump(&self.store.counters.revoked, 1);
        trace::revoked(self.name(), removed);
    }

    pub(crate) fn stamp(&self, group: &NodeGroup<G, K>) -> Stamp {
        Stamp {
            gen: group.gen.load(SeqCst),
            epoch: self.current_epoch(),
        }
    }

    /// The untyped part of [`start`](Inner::start), compiled once per key shape rather than once
    /// per value type: claims `probe`'s key (again, while a claim decides nothing) and, when it
    /// joined a running flight, waits for that flight to end. The caller reads the value.
    pub(crate) async fn step<P>(&self, probe: &Hashed<'_, P>) -> Step<G, K>
    where
        P: ?Sized + KeyProbe<G, K>,
    {
        loop {
            self.hooks.at(HookPoint::BeforeFlightEntry).await;
            match self.begin(probe) {
                Begun::Found(node) => return Step::Found(node),
                Begun::Lead(flight) => return Step::Lead(flight),
                Begun::Retry => continue,
                Begun::Join(flight) => {
                    let ending = flight.wait().await;
                    return Step::Ended(flight, ending);
                }
            }
        }
    }

    /// One claim of `probe`'s key under its flight entry, for [`step`](Self::step): a value
    /// stored meanwhile, a running flight to join, a new flight this caller leads (given its
    /// stale-if-error fallback), or begin again. The group pin taken here is given back, or
    /// belongs to the flight from here on.
    pub(crate) fn begin<P>(&self, probe: &Hashed<'_, P>) -> Begun<G, K>
    where
        P: ?Sized + KeyProbe<G, K>,
    {
        // The fetch "begins" here, for the invalidation guarantee: the stamp is read after
        // the group is pinned, so an invalidation either finds the group or came before.
        let group = self.store.groups.pin(probe);
        let stamp = self.stamp(&group);
        let keys = self.fences.key_seq();
        // Built here, not under the flight entry: a key part's `Clone` is user code.
        let ours = Arc::new(Flight::new(
            Arc::clone(&group),
            probe.owned_rest(),
            probe.key,
            stamp,
        ));
        let epoch = stamp.epoch;
        // The fences are asked after the stamp (see `invalidation.rs`); under the flight
        // entry, whether this key was invalidated since the fetch began.
        let claim = if self.fenced(&group, probe.key) {
            Claim::Fenced(ours)
        } else {
            self.hooks.at_sync(HookPoint::StampTaken);
            self.flights.claim(
                ours,
                stamp,
                || self.fences.key_invalidated_since(keys, probe.key),
                || self.store.peek_live(probe, epoch),
            )
        };
        match claim {
            Claim::Join(flight) => {
                self.store.groups.unpin(&group);
                Begun::Join(flight)
            }
            Claim::Found(node) => {
                self.store.groups.unpin(&group);
                Begun::Found(node)
            }
            Claim::Lead { flight, replaced } => {
                // The group pin taken above now belongs to the flight; a replaced flight
                // (stale or abandoned) gives its own back.
                if let Some(old) = replaced {
                    self.store.groups.unpin(&old.group);
                }
                self.set_fallback(&flight, probe);
                Begun::Lead(flight)
            }
            Claim::Fenced(flight) => {
                // Not in the map: the flight holds no pin on its group.
                self.store.groups.unpin(&group);
                self.set_fallback(&flight, probe);
                Begun::Lead(flight)
            }
            Claim::Retry => {
                self.store.groups.unpin(&group);
                Begun::Retry
            }
        }
    }

    /// A new flight for the key that takes the flight map's entry from any flight already
    /// running (which is then neither joined nor stored), after removing the stored value.
    fn displacing_flight<P>(&self, probe: &P) -> Arc<Flight<G, K>>
    where
        P: ?Sized + KeyProbe<G, K>,
    {
        let probe = &self.store.hasher.hashed(probe);
        loop {
            let group = self.store.groups.pin(probe);
            let stamp = self.stamp(&group);
            let keys = self.fences.key_seq();
            // Read after the stamp, as in `start`.
            let fenced = self.fenced(&group, probe.key);
            let flight = Arc::new(Flight::new(
                Arc::clone(&group),
                probe.owned_rest(),
                probe.key,
                stamp,
            ));
            let mut graveyard = Graveyard::new();
            // Under the entry, as in `start`: fenced where it began, or its key invalidated
            // since.
            let displaced = self.flights.displace_for(
                &flight,
                fenced,
                || self.fences.key_invalidated_since(keys, probe.key),
                || {
                    // Under the flight entry: a store of the displaced flight is wholly before
                    // (and its value removed here) or wholly after (and refused: not ours).
                    self.store.remove_key(probe, &mut graveyard);
                },
            );
            let Some((displaced, shared)) = displaced else {
                // Too many key invalidations to tell: begin again.
                self.store.groups.unpin(&group);
                continue;
            };
            if let Some(old) = displaced {
                self.store.groups.unpin(&old.group);
            }
            if !shared {
                // Not in the map: the flight holds no pin on its group.
                self.store.groups.unpin(&group);
            }
            drop(graveyard);
            return flight;
        }
    }

    /// Whether an invalidation in progress covers the key with hash `key` in `group`: of the
    /// key, of its group, of the group in the scope this cache joined, or of the whole cache. A
    /// fetch that asks this after its stamp and is answered yes runs unshared (see
    /// `invalidation.rs` and `features/scope.rs`).
    pub(crate) fn fenced(&self, group: &NodeGroup<G, K>, key: u64) -> bool {
        self.fences.covers(group.hash, key)
            || self
                .scope
                .get()
                .is_some_and(|scope| scope.covers_group(|| shared_hash(&group.key)))
    }

    /// Without the layers beyond this process, a cache may always store (with them, see
    /// `cache/mod.rs`).
    #[cfg(not(feature = "redis"))]
    #[inline(always)]
    fn storing_allowed(&self) -> bool {
        true
    }

    fn expiry(&self, now: Instant, key_hash: u64) -> Instant {
        let ttl = self.ttl();
        if !self.jitter.is_none() {
            // Store order is no longer expiry order: see `engine/expiry.rs`.
            self.store.ttl_lowered(now, ttl);
        }
        now.checked_add(self.jitter.apply(ttl, key_hash))
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
    }
}

impl<G, K, V> Settle<G, K, V> for Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Stores the value (if `store`, and unless the flight went stale), publishes it to the
    /// waiters and retires the flight, all under the flight's map entry, so that a concurrent key
    /// invalidation is ordered wholly before the store (and refuses it) or wholly after (and
    /// removes it). A value not stored still goes to the waiters: they asked while it was fetched.
    fn name(&self) -> &str {
        Core::name(self)
    }

    fn commit(&self, flight: &Arc<Flight<G, K>>, value: V, store: bool) {
        // One clock read for the whole miss: the expiry, and what counts as expired while making
        // room and sweeping. Read before the locks, it is at most as late as the truth, so
        // nothing is taken for expired early.
        // Debug builds without `test-util`: a paused, advanced tokio clock is a test that
        // expects TTLs to follow it; say so rather than run it on the real clock.
        crate::engine::clock::check_not_paused();
        let now = Instant::now();
        // Clones happen before any lock is taken: they are user code.
        let expiry = store.then(|| self.expiry_of(flight, now));
        let node = expiry.map(|expiry| {
            NodeRef::new(
                Arc::clone(&flight.group),
                flight.rest.clone(),
                value.clone(),
                expiry,
                flight.stamp,
                flight.hash,
            )
        });
        #[cfg(feature = "redis-tier")]
        let written = self.tier.get().is_some().then(|| value.clone());
        // Published under the flight's entry; a value nobody waited for is dropped after it.
        let mut value = Some(value);
        let mut unread = None;
        #[cfg_attr(not(feature = "redis-tier"), allow(unused_variables))]
        let stored = self.settle_flight(flight, node, now, &mut || {
            unread = value.take().and_then(|value| flight.publish_value(value));
        });
        drop(unread);
        #[cfg(feature = "redis-tier")]
        if let Some(value) = written {
            let kept = expiry.filter(|_| stored);
            self.tier_settled(flight, kept.map(|expiry| (&value, expiry, now)));
        }
        self.maintain_at(now);
    }

    fn fail(&self, flight: &Arc<Flight<G, K>>, shared: Option<Box<dyn Any + Send + Sync>>) {
        flight.publish_failure(shared);
        trace::fetched(self.name(), false);
        #[cfg(feature = "redis-tier")]
        self.tier_abandoned(flight);
        if self.flights.retire(flight) {
            self.store.groups.unpin(&flight.group);
        }
        self.maintain();
    }

    fn stale_on_error(
        &self,
        flight: &Arc<Flight<G, K>>,
        node: &NodeRef<G, K>,
        panicked: bool,
        retry_after: Option<Duration>,
    ) -> Option<V> {
        let stale = self.serve_on_error(node, panicked, retry_after)?;
        // The waiters asked while this fetch ran: they receive what its caller receives.
        self.commit(flight, stale.clone(), false);
        Some(stale)
    }

    fn revoke(&self, flight: &Arc<Flight<G, K>>) {
        self.revoke_flight(flight);
    }

    fn fetch_timeout(&self) -> Option<Duration> {
        self.fail_safe.timeout
    }

    fn timed_out(&self) {
        bump(&self.store.counters.timeouts, 1);
        trace::timed_out(self.name());
    }

    fn abandon(&self, flight: &Arc<Flight<G, K>>) {
        // Cancelled or unwinding: wake the waiters (one takes over) and leave the map, all
        // synchronously, so nothing is left for later clean-up.
        flight.abandon();
        if self.flights.retire(flight) {
            self.store.groups.unpin(&flight.group);
        }
        #[cfg(feature = "redis-tier")]
        self.tier_abandoned(flight);
    }
}

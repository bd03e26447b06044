//! Single-flight: one fetch per cold key, shared by every caller that arrives while it runs.
//!
//! A flight lives in the flight map from the moment its leader starts fetching until the leader
//! settles it. Waiters hold an `Arc` to it and sleep on its `Notify`. The leader holds a
//! [`Lead`] guard: if the leader's future is dropped (cancelled) or unwinds (its fetch
//! panicked), the guard reports the flight abandoned, which wakes the waiters; the first of them
//! to reach the flight map becomes the new leader. Neither event needs a special case: both are
//! "the guard was dropped before it was finished".
//!
//! The guard does not know the cache: it reports its outcome to an owner through [`Settle`],
//! which is how storing stays in the cache and this module stays below it.

use std::any::Any;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU8,
    Ordering::{AcqRel, Acquire, Relaxed},
};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use crate::engine::erased::{downcast, downcast_arc, Map, Record, Then};
use crate::engine::fence::Since;
use crate::engine::hook::{HookPoint, Hooks};
use crate::engine::node::{NodeGroup, NodeRef, Stamp};
use crate::engine::policy::Policy;
use crate::engine::probe::{KnownHash, Stored};
use crate::engine::throttle::ErrorClass;
use crate::engine::timeout::{Fetched, Fetching};
use crate::keys::lookup::KeyLookup;

const RUNNING: u8 = 0;
const READY: u8 = 1;
const FAILED: u8 = 2;
const ABANDONED: u8 = 3;

/// How a flight ended, as a waiter sees it.
pub(crate) enum Ending {
    Ready,
    Failed,
    Abandoned,
}

/// A fetch in progress. Its value is kept type-erased (see `node.rs` for why): a waiter reads it
/// back as its cache's value type, checked.
pub(crate) struct Flight<G, K> {
    pub(crate) group: Arc<NodeGroup<G, K>>,
    pub(crate) rest: K,
    /// The key's hash (see `probe.rs`).
    pub(crate) hash: u64,
    pub(crate) stamp: Stamp,
    state: AtomicU8,
    value: OnceLock<Box<dyn Any + Send + Sync>>,
    /// Whether a caller joined the flight to wait for it: set under the key's map entry, and
    /// read there when the leader publishes, where no caller can join any more. A flight
    /// nobody waits for publishes no value (one allocation less per miss).
    joined: AtomicBool,
    failure: OnceLock<Box<dyn Any + Send + Sync>>,
    notify: Notify,
    /// The expired node of the key inside its stale-if-error window when the fetch began, if
    /// any: what a failed fetch may answer with instead (see `cache/fallback.rs`). Kept here
    /// rather than in the [`Lead`], so that a cached function's future, which holds the lead,
    /// stays as small to drop as it was without stale serving: on a hit, that drop is part of
    /// the cost.
    pub(crate) fallback: OnceLock<NodeRef<G, K>>,
    /// What the shared tier said of this key when the leader last asked it (feature
    /// `redis-tier`; a background refresh may ask again): see `cache/tier.rs`. Taken when the
    /// flight settles.
    #[cfg(feature = "redis-tier")]
    pub(crate) tier: std::sync::Mutex<Option<TierTicket>>,
}

/// What the shared tier told a flight's leader (feature `redis-tier`): the deadline a value
/// read from it brings, or the generations to write the fetched value back under.
#[cfg(feature = "redis-tier")]
#[derive(Debug)]
pub(crate) struct TierTicket {
    /// The key's parts in the wire encoding: where it lives in the tier.
    pub(crate) group: Vec<u8>,
    pub(crate) key: Vec<u8>,
    pub(crate) answer: TierAnswer,
}

/// See [`TierTicket`].
#[cfg(feature = "redis-tier")]
#[derive(Debug)]
pub(crate) enum TierAnswer {
    /// The value came from the tier and lives until then, not a whole TTL.
    Read(crate::engine::clock::Instant),
    /// Not in the tier under these generations: the fetched value is written back under them
    /// (if they are still current then). `leased`: this replica holds the key's fetch lease.
    Fetch { tag: Vec<u8>, leased: bool },
}

impl<G, K> Flight<G, K> {
    pub(crate) fn new(group: Arc<NodeGroup<G, K>>, rest: K, hash: u64, stamp: Stamp) -> Self {
        Self {
            group,
            rest,
            hash,
            stamp,
            state: AtomicU8::new(RUNNING),
            value: OnceLock::new(),
            joined: AtomicBool::new(false),
            failure: OnceLock::new(),
            notify: Notify::new(),
            fallback: OnceLock::new(),
            #[cfg(feature = "redis-tier")]
            tier: std::sync::Mutex::new(None),
        }
    }

    /// Whether a caller whose current stamp is `stamp` may wait for this flight.
    pub(crate) fn joinable(&self, stamp: Stamp) -> bool {
        self.stamp == stamp && self.state.load(Acquire) == RUNNING
    }

    pub(crate) fn stored(&self) -> Stored<'_, G, K> {
        Stored {
            group: &self.group.key,
            rest: &self.rest,
            key_hash: self.hash,
            group_hash: self.group.hash,
            identity: std::ptr::from_ref(self).cast(),
        }
    }

    fn end(&self, state: u8) -> bool {
        let ended = self
            .state
            .compare_exchange(RUNNING, state, AcqRel, Acquire)
            .is_ok();
        if ended {
            self.notify.notify_waiters();
        }
        ended
    }

    /// Ends the flight with `value`, which its waiters then read. Called under the key's map
    /// entry (see `joined`); hands `value` back if nobody waits for it, for the caller to drop
    /// once it holds no lock (dropping a value may run user code).
    #[must_use]
    pub(crate) fn publish_value<V: Send + Sync + 'static>(&self, value: V) -> Option<V> {
        let unread = if self.joined.load(Relaxed) {
            // Set before the state flips; waiters read it only after seeing READY.
            let _ = self.value.set(Box::new(value));
            None
        } else {
            Some(value)
        };
        self.end(READY);
        unread
    }

    pub(crate) fn publish_failure(&self, shared: Option<Box<dyn Any + Send + Sync>>) {
        if let Some(shared) = shared {
            let _ = self.failure.set(shared);
        }
        self.end(FAILED);
    }

    /// Returns whether this call abandoned the flight (false if it had already ended).
    pub(crate) fn abandon(&self) -> bool {
        self.end(ABANDONED)
    }

    /// The published value, as the cache's value type `V` (the type it was published as).
    pub(crate) fn value<V: 'static>(&self) -> Option<&V> {
        let value = self.value.get()?;
        let typed = value.downcast_ref::<V>();
        debug_assert!(
            typed.is_some(),
            "a flight read as another value type than its cache's"
        );
        typed
    }

    pub(crate) fn failure(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.failure.get().map(|b| &**b)
    }

    /// Waits until the flight has ended.
    pub(crate) async fn wait(&self) -> Ending {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registering before reading the state closes the window in which the leader could
            // publish and notify between our read and our sleep.
            notified.as_mut().enable();
            match self.state.load(Acquire) {
                READY => return Ending::Ready,
                FAILED => return Ending::Failed,
                ABANDONED => return Ending::Abandoned,
                _ => notified.await,
            }
        }
    }
}

/// A flight is its own entry's key in the flight map: the `(group, rest)` of the flight that
/// created the entry, under its key hash like every other key of the cache. A later flight of
/// the key (after the first went stale or was abandoned) replaces the entry's value, not its
/// key.
impl<G, K> Record for Flight<G, K>
where
    G: Eq + Send + Sync + 'static,
    K: Eq + Send + Sync + 'static,
{
    fn record_hash(&self) -> u64 {
        self.hash
    }

    fn same_key(&self, other: &dyn Record) -> bool {
        downcast::<Self>(other)
            .is_some_and(|other| other.rest == self.rest && other.group.key == self.group.key)
    }
}

/// What a caller that missed found in the flight map.
pub(crate) enum Claim<G, K, T> {
    /// A running flight with the caller's stamp: wait for it.
    Join(Arc<Flight<G, K>>),
    /// What the caller's `peek` found under the entry: a value stored meanwhile.
    Found(T),
    /// Nothing to join: the caller leads this new flight. `replaced` is the unjoinable flight it
    /// took the place of, whose group pin the caller must drop.
    Lead {
        flight: Arc<Flight<G, K>>,
        replaced: Option<Arc<Flight<G, K>>>,
    },
    /// The key was invalidated since the caller began: the caller leads the flight it brought,
    /// which is not in the map (nobody joins it, it is not stored, it holds no group pin).
    Fenced(Arc<Flight<G, K>>),
    /// Too many key invalidations since the caller began to tell whether one was of its key:
    /// nothing was joined or registered; the caller begins again.
    Retry,
}

/// What [`Flights::displace_for`] did: the flight it displaced, if any, and whether the new
/// flight took the entry (else it runs unshared).
pub(crate) type Displaced<G, K> = (Option<Arc<Flight<G, K>>>, bool);

/// The flight map, on the erased map (`erased.rs`): its hash-table code is compiled once, in
/// this crate, whatever the cache's key types. Its entries are locked only for short
/// synchronous sections, never across an `.await` or user code, so its synchronous calls are
/// safe on any runtime.
pub(crate) struct Flights<G, K> {
    map: Map,
    _flights: PhantomData<Arc<Flight<G, K>>>,
}

impl<G, K> Flights<G, K>
where
    G: Hash + Eq + Send + Sync + 'static,
    K: Hash + Eq + Send + Sync + 'static,
{
    pub(crate) fn new() -> Self {
        Self {
            // A minimum capacity: an empty scc map frees its bucket array, and the flight map
            // is empty between misses, so without one every miss allocates and frees it.
            map: Map::with_capacity(64),
            _flights: PhantomData,
        }
    }

    /// The entry value `record` as a flight.
    fn flight(record: &Arc<dyn Record>) -> &Flight<G, K> {
        match downcast::<Flight<G, K>>(&**record) {
            Some(flight) => flight,
            None => unreachable!("the flight map holds flights of one type"),
        }
    }

    /// Whether the entry value `record` is `flight`.
    fn is(record: &Arc<dyn Record>, flight: &Arc<Flight<G, K>>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(record), Arc::as_ptr(flight))
    }

    /// The entry whose key is `probe`'s key.
    fn matching<P>(probe: &P) -> impl Fn(&dyn Record) -> bool + '_
    where
        P: ?Sized + KeyLookup<G, K>,
    {
        move |record| {
            downcast::<Flight<G, K>>(record).is_some_and(|key| {
                probe.is(std::ptr::from_ref(key).cast())
                    || (probe.rest_matches(&key.rest) && probe.group_matches(&key.group.key))
            })
        }
    }

    /// Joins the running flight of `flight`'s key, or, if `peek` (run under the key's entry, so
    /// no flight for the key can end meanwhile) finds nothing, registers `flight`, a new flight
    /// led by the caller. The caller built `flight` (and so cloned the key's parts, which is
    /// user code) before the entry is locked; it is dropped unused if the caller joins.
    ///
    /// `since` is asked first, under the entry: whether the key was invalidated since the
    /// caller began (see `cache/invalidation.rs`); if so, or if it cannot tell, nothing is joined
    /// or registered.
    pub(crate) fn claim<T>(
        &self,
        flight: Arc<Flight<G, K>>,
        stamp: Stamp,
        since: impl FnOnce() -> Since,
        peek: impl FnOnce() -> Option<T>,
    ) -> Claim<G, K, T> {
        let (mut since, mut peek) = (Some(since), Some(peek));
        let mut claim = None;
        let replaced = self
            .map
            .entry(Arc::clone(&flight) as Arc<dyn Record>, &mut |held| {
                match since.take().map(|since| since()) {
                    Some(Since::Untouched) => {}
                    Some(Since::Invalidated) => {
                        claim = Some(Claim::Fenced(Arc::clone(&flight)));
                        return Then::Keep;
                    }
                    Some(Since::Unknown) | None => {
                        claim = Some(Claim::Retry);
                        return Then::Keep;
                    }
                }
                if let Some(held) = held {
                    let running = Self::flight(held);
                    if running.joinable(stamp) {
                        running.joined.store(true, Relaxed);
                        claim = Some(Claim::Join(downcast_arc(Arc::clone(held))));
                        return Then::Keep;
                    }
                }
                // A leader that finished between the caller's lookup and this entry stored its
                // value before releasing the entry: look again rather than fetch twice.
                if let Some(found) = peek.take().and_then(|peek| peek()) {
                    claim = Some(Claim::Found(found));
                    return Then::Keep;
                }
                Then::Put(Arc::clone(&flight) as Arc<dyn Record>)
            });
        claim.unwrap_or_else(|| Claim::Lead {
            flight,
            replaced: replaced.map(downcast_arc),
        })
    }

    /// For a refresh or an insert: takes the key's entry from whatever flight holds it, for
    /// `flight` (which later callers then join), or for nobody if the refresh is `fenced` (where
    /// it began) or `since` (asked under the entry, as in [`claim`](Self::claim)) says its key
    /// was invalidated since: the refresh then runs unshared. `under` runs while the entry is
    /// held. Returns the flight displaced, whose group pin the caller must drop (it is no
    /// longer `ours` when it settles, so its value is handed to its waiters and not stored), and
    /// whether `flight` took the entry; or `None`, with nothing done, if `since` cannot tell
    /// (the caller begins again).
    pub(crate) fn displace_for(
        &self,
        flight: &Arc<Flight<G, K>>,
        fenced: bool,
        since: impl FnOnce() -> Since,
        under: impl FnOnce(),
    ) -> Option<Displaced<G, K>> {
        let (mut since, mut under) = (Some(since), Some(under));
        let mut took = None;
        let displaced = self
            .map
            .entry(Arc::clone(flight) as Arc<dyn Record>, &mut |_| {
                let unshared = match since.take().map(|since| since()) {
                    Some(Since::Unknown) | None => return Then::Keep,
                    Some(Since::Invalidated) => true,
                    Some(Since::Untouched) => fenced,
                };
                if let Some(under) = under.take() {
                    under();
                }
                took = Some(!unshared);
                if unshared {
                    Then::Remove
                } else {
                    Then::Put(Arc::clone(flight) as Arc<dyn Record>)
                }
            });
        let took = took?;
        Some((displaced.map(downcast_arc), took))
    }

    /// For a key invalidation: takes the key's flight, if any, out of the map, running `under`
    /// while the entry is held. Returns the flight taken out, whose group pin the caller must
    /// drop; it is no longer `ours` when it settles, so it is not stored, and nobody joins it.
    pub(crate) fn displace<P>(&self, probe: &P, under: impl FnOnce()) -> Option<Arc<Flight<G, K>>>
    where
        P: ?Sized + KeyLookup<G, K> + KnownHash,
    {
        let mut under = Some(under);
        let taken = self
            .map
            .find(probe.key_hash(), &Self::matching(probe), &mut |_| {
                if let Some(under) = under.take() {
                    under();
                }
                Then::Remove
            });
        taken.map(downcast_arc)
    }

    /// Runs `settle(ours)` under the entry of `flight`'s key, where `ours` says whether the
    /// entry still holds `flight`, and then takes `flight` out of the map. Returns `settle`'s
    /// result and whether `flight` was taken out (its group pin is then the caller's to drop).
    pub(crate) fn settle<R>(
        &self,
        flight: &Arc<Flight<G, K>>,
        settle: impl FnOnce(bool) -> R,
    ) -> (R, bool) {
        let stored = flight.stored();
        let mut settle = Some(settle);
        let mut result = None;
        let mut ours = false;
        let taken = self
            .map
            .find(flight.hash, &Self::matching(&stored), &mut |held| {
                ours = held.is_some_and(|held| Self::is(held, flight));
                result = settle.take().map(|settle| settle(ours));
                if ours {
                    Then::Remove
                } else {
                    Then::Keep
                }
            });
        drop(taken);
        match result {
            Some(result) => (result, ours),
            None => unreachable!("the map runs `decide` once"),
        }
    }

    /// Runs `f` under `flight`'s map entry without retiring it: `f(true)` if the entry is still
    /// `flight`'s, as [`settle`](Self::settle) does. Used to store what stands in for the
    /// value while the fetch runs (the shared tier's expired value, see `cache/tier.rs`).
    #[cfg(feature = "redis-tier")]
    pub(crate) fn holding<R>(&self, flight: &Arc<Flight<G, K>>, f: impl FnOnce(bool) -> R) -> R {
        let stored = flight.stored();
        let mut f = Some(f);
        let mut result = None;
        let taken = self
            .map
            .find(flight.hash, &Self::matching(&stored), &mut |held| {
                let ours = held.is_some_and(|held| Self::is(held, flight));
                result = f.take().map(|f| f(ours));
                Then::Keep
            });
        drop(taken);
        match result {
            Some(result) => result,
            None => unreachable!("the map runs `decide` once"),
        }
    }

    /// Takes `flight` out of the map if it is still there. Returns whether it was.
    pub(crate) fn retire(&self, flight: &Arc<Flight<G, K>>) -> bool {
        let stored = flight.stored();
        let matches = Self::matching(&stored);
        let taken = self.map.find(flight.hash, &matches, &mut |held| {
            if held.is_some_and(|held| Self::is(held, flight)) {
                Then::Remove
            } else {
                Then::Keep
            }
        });
        taken.is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// What a leader's flight became. The owner (the cache) stores, publishes and retires.
pub(crate) trait Settle<G, K, V>: Sync {
    /// The cache's name, for the fetch's span and latency histogram.
    fn name(&self) -> &str;
    /// The fetch produced a value to hand to waiters, and to store if `store` (the policy keeps
    /// it) and the flight did not go stale.
    fn commit(&self, flight: &Arc<Flight<G, K>>, value: V, store: bool);
    /// The fetch produced an outcome that is not stored; `shared` is what waiters receive.
    fn fail(&self, flight: &Arc<Flight<G, K>>, shared: Option<Box<dyn Any + Send + Sync>>);
    /// The leader was cancelled or its fetch panicked.
    fn abandon(&self, flight: &Arc<Flight<G, K>>);
    /// Stale-if-error (see `cache/fallback.rs`): if `node`, the expired node `flight`'s fetch
    /// failed to replace, may still be served, hands its value to the waiters (not stored),
    /// settles the flight, leaves the upstream alone for the fail-safe throttle (or `retry_after`,
    /// if longer; see `throttle.rs`) and returns the value; counted and traced. Else does nothing.
    fn stale_on_error(
        &self,
        flight: &Arc<Flight<G, K>>,
        node: &NodeRef<G, K>,
        panicked: bool,
        retry_after: Option<std::time::Duration>,
    ) -> Option<V>;
    /// The fetch failed with an error that revokes ([`ErrorClass::Revoke`]): invalidates
    /// `flight`'s group at once.
    fn revoke(&self, flight: &Arc<Flight<G, K>>);
    /// How long a fetch may run (`timeout.rs`).
    fn fetch_timeout(&self) -> Option<std::time::Duration>;
    /// A fetch ran past it and was dropped: counted and traced.
    fn timed_out(&self);
}

/// What [`TtlCache::start`](crate::TtlCache) decided.
#[doc(hidden)]
#[derive(Debug)]
pub enum Start<O, L> {
    /// Answered from the cache or from another caller's fetch.
    Done(O),
    /// This caller must run the fetch and hand its outcome to [`Lead::finish`].
    Lead(L),
}

/// The leader's obligation to finish a flight. Dropping it unfinished (cancellation, or a panic
/// unwinding through the fetch) abandons the flight, and a waiter takes over.
#[doc(hidden)]
pub struct Lead<'c, G, K, V> {
    pub(crate) owner: &'c dyn Settle<G, K, V>,
    pub(crate) hooks: &'c Hooks,
    pub(crate) flight: Arc<Flight<G, K>>,
    pub(crate) armed: bool,
}

impl<G, K, V> std::fmt::Debug for Lead<'_, G, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lead")
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}

impl<G, K, V> Lead<'_, G, K, V> {
    /// Stores (if the policy says so) and publishes the fetch's outcome, and returns it.
    pub async fn finish<P: Policy<Value = V>>(
        mut self,
        outcome: P::Output,
        policy: &P,
    ) -> P::Output {
        // User code (the value's `Clone`, a `store_if` predicate) runs here, before any lock.
        let storable = policy.storable(&outcome);
        let store = storable.as_ref().is_some_and(|value| policy.keep(value));
        let shared = match &storable {
            Some(_) => None,
            None => policy.share(&outcome),
        };
        // The last await of the miss path: cancelling here abandons the flight like any other
        // cancellation. From here on, settling runs to the end without yielding.
        self.hooks.at(HookPoint::BeforeStore).await;
        match storable {
            Some(value) => self.owner.commit(&self.flight, value, store),
            None => {
                // User code (a classifier), before any lock.
                let class = policy.classify(&outcome);
                if class == ErrorClass::Revoke {
                    self.owner.revoke(&self.flight);
                } else if class.papered_over() {
                    if let Some(stale) = self.stale_on_error(false, class.retry_after()) {
                        return policy.answer(stale);
                    }
                }
                self.owner.fail(&self.flight, shared);
            }
        }
        self.armed = false;
        outcome
    }

    /// The leader's `fetch`, to await: polled catching a panic, and for at most the cache's
    /// fetch timeout where the outcome type can say it timed out (else with no limit); past it,
    /// the fetch is no longer polled (the caller drops it), and [`fetched`](Self::fetched) makes
    /// its outcome the policy's "timed out" (an `Err`). The caller pins the fetch. Only
    /// [`Fetching`] depends on the fetch's type: the rest of a miss is compiled once per cache
    /// and policy type, not once per cached function.
    pub(crate) fn fetch<'f, P, F>(&self, fetch: Pin<&'f mut F>, policy: &P) -> Fetching<'f, F>
    where
        P: Policy<Value = V>,
        F: std::future::Future<Output = P::Output>,
    {
        Fetching::new(fetch, self.fetch_limit(policy.times_out()))
    }

    /// The limit of a leader's fetch: the cache's fetch timeout, where the policy `times_out`.
    /// Not generic over the fetch, so that it is compiled once per cache rather than once per
    /// cached function.
    fn fetch_limit(&self, times_out: bool) -> Option<std::time::Duration> {
        self.owner.fetch_timeout().filter(|_| times_out)
    }

    /// How [`fetch`](Self::fetch) ended, under the policy: a fetch past its limit has the
    /// policy's "timed out" outcome, counted, where the policy has one.
    pub(crate) fn fetched<P: Policy<Value = V>>(
        &self,
        fetched: Fetched<P::Output>,
        policy: &P,
    ) -> Fetched<P::Output> {
        match fetched {
            Fetched::TimedOut(timed_out) => match policy.timed_out(timed_out) {
                Some(outcome) => {
                    self.owner.timed_out();
                    Fetched::Done(outcome)
                }
                None => Fetched::TimedOut(timed_out),
            },
            done => done,
        }
    }

    /// Gives the flight up to whoever settles it from here (a task: see `features/stale.rs`),
    /// disarmed: dropping it no longer abandons the flight.
    pub(crate) fn hand_over(mut self) -> Arc<Flight<G, K>> {
        self.armed = false;
        Arc::clone(&self.flight)
    }

    /// The fetch panicked: answers with the stale value if there is one to fall back on, else
    /// resumes the panic (which abandons the flight, as an uncaught panic would).
    pub(crate) fn panicked<P: Policy<Value = V>>(
        mut self,
        payload: Box<dyn Any + Send>,
        policy: &P,
    ) -> P::Output {
        match self.stale_on_error(true, None) {
            Some(stale) => policy.answer(stale),
            None => std::panic::resume_unwind(payload),
        }
    }

    /// Stale-if-error: the fallback's value if it may still be served, the flight then settled.
    fn stale_on_error(
        &mut self,
        panicked: bool,
        retry_after: Option<std::time::Duration>,
    ) -> Option<V> {
        let node = self.flight.fallback.get()?.clone();
        let stale = self
            .owner
            .stale_on_error(&self.flight, &node, panicked, retry_after)?;
        self.armed = false;
        Some(stale)
    }
}

impl<G, K, V> Drop for Lead<'_, G, K, V> {
    fn drop(&mut self) {
        if self.armed {
            self.owner.abandon(&self.flight);
        }
    }
}

//! The shared tier on the miss path (feature `redis-tier`): the leader of a flight asks the
//! tier (`seam/tier.rs`) before it fetches.
//!
//! - Found under the current generations: the value is stored here with what is left of its
//!   lifetime in the tier (never a whole TTL more), and handed to the leader and its waiters; no
//!   upstream call.
//! - Not found, and this replica took the key's fetch lease: it fetches, and once the value is
//!   stored here (the flight did not go stale: no invalidation of the key since it began, here
//!   or delivered from another replica), writes it back under the generations it read, which
//!   the tier refuses if any was bumped since.
//! - Not found, and another replica holds the lease: waits for its value, at most the tier's
//!   `wait`, reading again when the tier's channel says the key was written or its lease given
//!   back (or, failing that, every 2 ms doubling to 100 ms); then fetches itself (and writes
//!   back as above).
//! - The tier is closed (the backplane is not healthy, or an invalidation made here has not
//!   reached Redis yet), slow (past its `timeout`), or holds something that does not decode:
//!   it fetches, as without the tier.
//!
//! Every path ends in the flight's usual settling (`fetch.rs`), so single-flight, the stamp
//! check and the fences hold as they do without the tier.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use super::Inner;
use crate::engine::clock::Instant;
use crate::engine::expiry::within;
use crate::engine::flight::{Flight, TierAnswer, TierTicket};
use crate::engine::node::NodeRef;
use crate::engine::stats::bump;
use crate::engine::store::Graveyard;
use crate::seam::{self, Life, TierKey, TierRead};

/// How long a waiter sleeps between two reads, at most, unless the tier's channel wakes it
/// first (the lease's holder announces its write, or its giving the lease back; an
/// announcement can be lost, as any pub/sub message can, and the poll catches that).
const MAX_POLL: Duration = Duration::from_millis(100);

/// A cache's tier, set by the builder: the value codec (type-erased there, where `V`'s serde
/// bounds are known) and the settings.
pub(crate) struct TierSetup<V> {
    pub(crate) encode: fn(&V, u32) -> Option<Vec<u8>>,
    pub(crate) decode: fn(&[u8], u32) -> Option<V>,
    pub(crate) version: u32,
    pub(crate) lease: Duration,
    pub(crate) wait: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
    pub(crate) counters: Arc<TierCounters>,
}

/// What the tier did for one cache.
#[derive(Debug, Default)]
pub(crate) struct TierCounters {
    pub(crate) hits: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) waited: AtomicU64,
    pub(crate) waited_out: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) undecodable: AtomicU64,
    pub(crate) too_large: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) writes_refused: AtomicU64,
    pub(crate) write_errors: AtomicU64,
}

/// What the tier answered a flight's leader.
pub(crate) enum Tiered<G, K, V> {
    /// A live value: no fetch.
    Value(V),
    /// Only an expired value inside the revalidation window, stored here as an expired node,
    /// for a caller that serves stale while revalidating (`serve_stale`); the flight goes on as
    /// its refresh.
    Stale(NodeRef<G, K>),
    /// Fetch.
    Fetch,
}

impl<G, K, V> Inner<G, K, V>
where
    G: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Asks the tier for `flight`'s key, as its leader, before fetching: the value, if the tier
    /// has it under the current generations (or another replica's fetch brought it within the
    /// wait). Records on the flight what the commit must do.
    ///
    /// An expired value the tier still keeps for its stale windows (and that is inside one of
    /// this cache's) is stored here as an expired node, under the flight's stamp as a fetched
    /// value is: the flight's fallback if the fetch fails (stale-if-error), and what the
    /// fail-safe throttle and every invalidation act on, as a node of this replica's own. With
    /// `serve_stale`, inside the revalidation window, it is answered at once ([`Tiered::Stale`]).
    pub(crate) async fn through_tier(
        &self,
        flight: &Arc<Flight<G, K>>,
        serve_stale: bool,
    ) -> Tiered<G, K, V> {
        let Some(setup) = self.tier.get() else {
            return Tiered::Fetch;
        };
        let Some(tier) = seam::tier() else {
            return Tiered::Fetch;
        };
        // Only a cache that joined the fleet under its own name (an attached `TtlCache`, a
        // `#[ttl_cached]` function after its first miss) has its invalidations bump the tier's
        // generations.
        let Some((_, codec)) = self.teller() else {
            return Tiered::Fetch;
        };
        if !tier.usable() || !self.storing_allowed() {
            bump(&setup.counters.skipped, 1);
            return Tiered::Fetch;
        }
        let (mut group, mut key) = (Vec::new(), Vec::new());
        if !((codec.group)(&flight.group.key, &mut group) && (codec.key)(&flight.rest, &mut key)) {
            return Tiered::Fetch;
        }
        let at = self.tier_key(&group, &key);
        let give_up = tokio::time::Instant::now() + setup.wait;
        let mut pause = Duration::from_millis(2);
        let mut waiting = false;
        let mut stale_seen = false;
        let notify = tier.watch(at);
        loop {
            // Enabled before the read: a write announced after it wakes this wait.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let sent = Instant::now();
            let pending = PendingRead { tier, at };
            let read = tokio::time::timeout(setup.timeout, tier.read(at, setup.lease))
                .await
                .unwrap_or(TierRead::Unavailable);
            if matches!(read, TierRead::Unavailable) {
                drop(pending);
            } else {
                // Answered: any lease it took is in the answer.
                std::mem::forget(pending);
            }
            let (tag, leased) = match read {
                TierRead::Hit {
                    payload,
                    remaining,
                    tag,
                } => {
                    if let Some(value) = (setup.decode)(&payload, setup.version) {
                        bump(&setup.counters.hits, 1);
                        let deadline = sent.checked_add(remaining).unwrap_or(sent);
                        self.ticket(flight, group, key, TierAnswer::Read(deadline));
                        return Tiered::Value(value);
                    }
                    // Another build's value, or garbage: fetched, and written over.
                    bump(&setup.counters.undecodable, 1);
                    tracing::debug!(target: "cache_core::tier", cache = self.name(), "a value in the shared tier did not decode: fetched instead");
                    (tag, None)
                }
                TierRead::Stale {
                    payload,
                    expired,
                    tag,
                    leased,
                } => {
                    if !stale_seen {
                        stale_seen = true;
                        match (setup.decode)(&payload, setup.version) {
                            Some(value) => {
                                let expired_at = sent.checked_sub(expired).unwrap_or(sent);
                                if let Some(node) = self.keep_stale(flight, value, expired_at) {
                                    bump(&setup.counters.stale, 1);
                                    let now = Instant::now();
                                    if serve_stale && within(expired_at, self.stale.revalidate, now)
                                    {
                                        let answer = TierAnswer::Fetch { tag, leased };
                                        self.ticket(flight, group, key, answer);
                                        return Tiered::Stale(node);
                                    }
                                }
                            }
                            None => {
                                bump(&setup.counters.undecodable, 1);
                                tracing::debug!(target: "cache_core::tier", cache = self.name(), "an expired value in the shared tier did not decode");
                            }
                        }
                    }
                    (tag, Some(leased))
                }
                TierRead::Miss { tag, leased } => (tag, Some(leased)),
                TierRead::Unavailable => {
                    bump(&setup.counters.unavailable, 1);
                    return Tiered::Fetch;
                }
            };
            let answer = match leased {
                // Undecodable: not leased (the read took no lease), fetched at once.
                None => TierAnswer::Fetch { tag, leased: false },
                Some(true) => {
                    bump(&setup.counters.misses, 1);
                    TierAnswer::Fetch { tag, leased: true }
                }
                Some(false) => {
                    let now = tokio::time::Instant::now();
                    if now >= give_up {
                        bump(&setup.counters.waited_out, 1);
                        TierAnswer::Fetch { tag, leased: false }
                    } else {
                        if !waiting {
                            waiting = true;
                            bump(&setup.counters.waited, 1);
                        }
                        let _ = tokio::time::timeout(pause.min(give_up - now), notified).await;
                        pause = (pause * 2).min(MAX_POLL);
                        continue;
                    }
                }
            };
            self.ticket(flight, group, key, answer);
            return Tiered::Fetch;
        }
    }

    /// Stores `value`, which the tier kept past its lifetime (it ran out at `expired_at`), as
    /// an expired node of `flight`'s key, under the flight's entry and only if its stamp is
    /// still current, as the commit stores a fetched value: an invalidation since the fetch
    /// began refuses it, one after removes it. Inside the stale-if-error window it becomes the
    /// flight's fallback. Nothing is stored if the key has a node here already (the one a
    /// background refresh refreshes, or the flight's fallback: its throttle state stays) or
    /// `expired_at` is outside both of this cache's windows.
    fn keep_stale(
        &self,
        flight: &Arc<Flight<G, K>>,
        value: V,
        expired_at: Instant,
    ) -> Option<NodeRef<G, K>> {
        let now = Instant::now();
        let window = self.stale.if_error.max(self.stale.revalidate);
        if !within(expired_at, window, now)
            || self
                .store
                .peek_current(&flight.stored(), self.current_epoch())
                .is_some()
        {
            return None;
        }
        // Made before the locks: a key part's `Clone` is user code.
        let node = NodeRef::new(
            Arc::clone(&flight.group),
            flight.rest.clone(),
            value,
            expired_at,
            flight.stamp,
            flight.hash,
        );
        // Its expiry is behind those stored since: store order is no longer expiry order.
        self.store.ttl_lowered(now, self.ttl());
        let mut graveyard = Graveyard::new();
        let stored = self.flights.holding(flight, |ours| {
            let fresh = ours && flight.stamp == self.stamp(&flight.group) && self.storing_allowed();
            if fresh {
                self.store
                    .insert(node.clone(), now, &self.epoch, &self.hooks, &mut graveyard);
            }
            fresh
        });
        drop(graveyard);
        // `None` if an invalidation took it out meanwhile.
        node.value::<V>()?;
        if !stored {
            return None;
        }
        if within(expired_at, self.stale.if_error, now) {
            let _ = flight.fallback.set(node.clone());
        }
        Some(node)
    }

    /// A refresh's leader (`refresh_<fn>`, `TtlCache::refresh`), before it fetches: once the
    /// refresh's own key invalidation (`replaced`) reached Redis, reads the generations it left
    /// there, taking the key's lease if it is free, and records them on `flight`, so that the
    /// value it fetches is written back under them if nothing bumped them since. Read before
    /// the fetch begins, they cover every invalidation the value could predate; read after its
    /// own, they let it replace the value it displaced. Whatever the tier holds is not taken:
    /// a refresh fetches. Not delivered within the tier's `timeout` (or the tier closed): the
    /// refresh fetches without writing back.
    pub(crate) async fn before_refresh(
        &self,
        flight: &Arc<Flight<G, K>>,
        replaced: Option<seam::Delivery>,
    ) {
        let (Some(setup), Some(tier), Some(replaced)) = (self.tier.get(), seam::tier(), replaced)
        else {
            return;
        };
        let Some((_, codec)) = self.teller() else {
            return;
        };
        if !matches!(
            tokio::time::timeout(setup.timeout, replaced).await,
            Ok(Ok(()))
        ) {
            bump(&setup.counters.unavailable, 1);
            return;
        }
        if !tier.usable() || !self.storing_allowed() {
            bump(&setup.counters.skipped, 1);
            return;
        }
        let (mut group, mut key) = (Vec::new(), Vec::new());
        if !((codec.group)(&flight.group.key, &mut group) && (codec.key)(&flight.rest, &mut key)) {
            return;
        }
        let at = self.tier_key(&group, &key);
        let pending = PendingRead { tier, at };
        let read = tokio::time::timeout(setup.timeout, tier.read(at, setup.lease))
            .await
            .unwrap_or(TierRead::Unavailable);
        let (tag, leased) = match read {
            TierRead::Hit { tag, .. } => (tag, false),
            TierRead::Stale { tag, leased, .. } | TierRead::Miss { tag, leased } => (tag, leased),
            TierRead::Unavailable => {
                drop(pending);
                bump(&setup.counters.unavailable, 1);
                return;
            }
        };
        std::mem::forget(pending);
        self.ticket(flight, group, key, TierAnswer::Fetch { tag, leased });
    }

    /// Where the key whose parts encode as `group` and `key` lives in the tier.
    fn tier_key<'a>(&'a self, group: &'a [u8], key: &'a [u8]) -> TierKey<'a> {
        TierKey {
            cache: self.name(),
            group,
            key,
            scope: self.joined.get().map(|scope| scope.path()),
        }
    }

    fn ticket(&self, flight: &Flight<G, K>, group: Vec<u8>, key: Vec<u8>, answer: TierAnswer) {
        *lock(&flight.tier) = Some(TierTicket { group, key, answer });
    }

    /// The deadline a value read from the tier brought, if `flight`'s did.
    pub(crate) fn tier_deadline(flight: &Flight<G, K>) -> Option<Instant> {
        match lock(&flight.tier).as_ref()?.answer {
            TierAnswer::Read(deadline) => Some(deadline),
            TierAnswer::Fetch { .. } => None,
        }
    }

    /// Whether `flight`'s leader holds the key's fetch lease (a background refresh that does
    /// not asks the tier again before fetching).
    pub(crate) fn tier_leased(flight: &Flight<G, K>) -> bool {
        matches!(
            lock(&flight.tier).as_ref(),
            Some(TierTicket {
                answer: TierAnswer::Fetch { leased: true, .. },
                ..
            })
        )
    }

    /// After the commit: writes the value back if `flight` fetched it after a miss in the tier
    /// and stored it here (`expiry`: its deadline here), kept there for this cache's longer
    /// stale window past it, else gives the lease back.
    pub(crate) fn tier_settled(
        &self,
        flight: &Flight<G, K>,
        stored: Option<(&V, Instant, Instant)>,
    ) {
        let Some(TierTicket {
            group,
            key,
            answer: TierAnswer::Fetch { tag, leased },
        }) = lock(&flight.tier).take()
        else {
            return;
        };
        let (Some(setup), Some(tier)) = (self.tier.get(), seam::tier()) else {
            return;
        };
        let at = self.tier_key(&group, &key);
        let payload = stored.and_then(|(value, expiry, now)| {
            let payload = (setup.encode)(value, setup.version)?;
            if payload.len() > setup.max_bytes {
                bump(&setup.counters.too_large, 1);
                return None;
            }
            Some((payload, expiry.saturating_duration_since(now)))
        });
        match payload {
            Some((payload, fresh)) if !fresh.is_zero() => {
                bump(&setup.counters.writes, 1);
                let life = Life {
                    fresh,
                    window: self
                        .stale
                        .if_error
                        .max(self.stale.revalidate)
                        .min(MAX_WINDOW),
                };
                let write = tier.write(at, tag, payload, life);
                let counters = Arc::clone(&setup.counters);
                let timeout = setup.timeout;
                spawn(async move {
                    match tokio::time::timeout(timeout, write).await {
                        Ok(Some(true)) => {}
                        Ok(Some(false)) => bump(&counters.writes_refused, 1),
                        Ok(None) | Err(_) => bump(&counters.write_errors, 1),
                    }
                });
            }
            _ if leased => tier.release(at),
            _ => {}
        }
    }

    /// The flight failed or was abandoned: its lease, if it holds one, goes back.
    pub(crate) fn tier_abandoned(&self, flight: &Flight<G, K>) {
        self.tier_settled(flight, None);
    }
}

/// The longest a value is kept in the tier past its lifetime, whatever the stale windows.
const MAX_WINDOW: Duration = Duration::from_secs(30 * 86_400);

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A tier read not answered (timed out, or the miss cancelled while waiting for it): it may
/// still run in Redis and take the key's lease, which then holds the other replicas until it
/// expires. Dropped, it gives the lease back, if the read took it (the release runs after the
/// read: one connection, in order). Forgotten once the read is answered.
struct PendingRead<'a> {
    tier: &'static dyn seam::TierStore,
    at: TierKey<'a>,
}

impl Drop for PendingRead<'_> {
    fn drop(&mut self) {
        self.tier.release(self.at);
    }
}

/// Runs `future` on the current runtime, if there is one (the tier's writes and releases are
/// best effort: a lease not given back expires).
pub(crate) fn spawn(future: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn(future));
    }
}

/// How many kinds of event the tier counts.
pub(crate) const TIER_EVENT_COUNT: usize = 12;

/// Every counter of a tier, in the order of `TIER_EVENTS`.
pub(crate) type TierCounts = [u64; TIER_EVENT_COUNT];

/// The tier's events, in the order of [`TierCounters::counts`]: the `event` label of the
/// `metrics` feature's `cache_tier_events_total`.
#[cfg(feature = "metrics")]
pub(crate) const TIER_EVENTS: [&str; TIER_EVENT_COUNT] = [
    "hit",
    "stale",
    "miss",
    "waited",
    "waited_out",
    "skipped",
    "unavailable",
    "undecodable",
    "too_large",
    "write",
    "write_refused",
    "write_error",
];

impl TierCounters {
    pub(crate) fn load(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    /// Every counter, in the order of [`TIER_EVENTS`].
    #[cfg(feature = "metrics")]
    pub(crate) fn counts(&self) -> [u64; TIER_EVENT_COUNT] {
        [
            &self.hits,
            &self.stale,
            &self.misses,
            &self.waited,
            &self.waited_out,
            &self.skipped,
            &self.unavailable,
            &self.undecodable,
            &self.too_large,
            &self.writes,
            &self.writes_refused,
            &self.write_errors,
        ]
        .map(Self::load)
    }
}

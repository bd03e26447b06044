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
use crate::engine::flight::{Flight, TierAnswer, TierTicket};
use crate::engine::stats::bump;
use crate::seam::{self, TierKey, TierRead};

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

impl<G, K, V> Inner<G, K, V>
where
    G: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Asks the tier for `flight`'s key, as its leader, before fetching: the value, if the tier
    /// has it under the current generations (or another replica's fetch brought it within the
    /// wait). Records on the flight what the commit must do.
    pub(crate) async fn through_tier(&self, flight: &Flight<G, K, V>) -> Option<V> {
        let setup = self.tier.get()?;
        let tier = seam::tier()?;
        // Only a cache that joined the fleet under its own name (an attached `TtlCache`, a
        // `#[ttl_cached]` function after its first miss) has its invalidations bump the tier's
        // generations.
        let (_, codec) = self.teller()?;
        if !tier.usable() || !self.storing_allowed() {
            bump(&setup.counters.skipped, 1);
            return None;
        }
        let (mut group, mut key) = (Vec::new(), Vec::new());
        if !((codec.group)(&flight.group.key, &mut group) && (codec.key)(&flight.rest, &mut key)) {
            return None;
        }
        let at = TierKey {
            cache: self.name(),
            group: &group,
            key: &key,
            scope: self.joined.get().map(|scope| scope.path()),
        };
        let give_up = tokio::time::Instant::now() + setup.wait;
        let mut pause = Duration::from_millis(2);
        let mut waiting = false;
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
            let answer = match read {
                TierRead::Hit {
                    payload,
                    remaining,
                    tag,
                } => {
                    if let Some(value) = (setup.decode)(&payload, setup.version) {
                        bump(&setup.counters.hits, 1);
                        let deadline = sent.checked_add(remaining).unwrap_or(sent);
                        self.ticket(flight, group, key, TierAnswer::Read(deadline));
                        return Some(value);
                    }
                    // Another build's value, or garbage: fetched, and written over.
                    bump(&setup.counters.undecodable, 1);
                    tracing::debug!(target: "cache_core::tier", cache = self.name(), "a value in the shared tier did not decode: fetched instead");
                    TierAnswer::Fetch { tag, leased: false }
                }
                TierRead::Miss { tag, leased: true } => {
                    bump(&setup.counters.misses, 1);
                    TierAnswer::Fetch { tag, leased: true }
                }
                TierRead::Miss { tag, leased: false } => {
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
                TierRead::Unavailable => {
                    bump(&setup.counters.unavailable, 1);
                    return None;
                }
            };
            self.ticket(flight, group, key, answer);
            return None;
        }
    }

    fn ticket(&self, flight: &Flight<G, K, V>, group: Vec<u8>, key: Vec<u8>, answer: TierAnswer) {
        let _ = flight.tier.set(TierTicket { group, key, answer });
    }

    /// The deadline a value read from the tier brought, if `flight`'s did.
    pub(crate) fn tier_deadline(flight: &Flight<G, K, V>) -> Option<Instant> {
        match flight.tier.get()?.answer {
            TierAnswer::Read(deadline) => Some(deadline),
            TierAnswer::Fetch { .. } => None,
        }
    }

    /// After the commit: writes the value back if `flight` fetched it after a miss in the tier
    /// and stored it here (`expiry`: its deadline here), else gives the lease back.
    pub(crate) fn tier_settled(
        &self,
        flight: &Flight<G, K, V>,
        stored: Option<(&V, Instant, Instant)>,
    ) {
        let Some(TierTicket {
            group,
            key,
            answer: TierAnswer::Fetch { tag, leased },
        }) = flight.tier.get()
        else {
            return;
        };
        let (Some(setup), Some(tier)) = (self.tier.get(), seam::tier()) else {
            return;
        };
        let at = TierKey {
            cache: self.name(),
            group,
            key,
            scope: self.joined.get().map(|scope| scope.path()),
        };
        let payload = stored.and_then(|(value, expiry, now)| {
            let payload = (setup.encode)(value, setup.version)?;
            if payload.len() > setup.max_bytes {
                bump(&setup.counters.too_large, 1);
                return None;
            }
            Some((payload, expiry.saturating_duration_since(now)))
        });
        match payload {
            Some((payload, lifetime)) if !lifetime.is_zero() => {
                bump(&setup.counters.writes, 1);
                let write = tier.write(at, tag.clone(), payload, lifetime);
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
            _ if *leased => tier.release(at),
            _ => {}
        }
    }

    /// The flight failed or was abandoned: its lease, if it holds one, goes back.
    pub(crate) fn tier_abandoned(&self, flight: &Flight<G, K, V>) {
        self.tier_settled(flight, None);
    }
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

/// The tier's events, in the order of [`TierCounters::counts`]: the `event` label of the
/// `metrics` feature's `cache_tier_events_total`.
#[cfg(feature = "metrics")]
pub(crate) const TIER_EVENTS: [&str; 11] = [
    "hit",
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
    pub(crate) fn counts(&self) -> [u64; 11] {
        [
            &self.hits,
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

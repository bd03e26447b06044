//! The backplane's health, as the caches see it (the gate they ask before each store), and its
//! counters.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::SeqCst};

use crate::seam;

/// Whether the attached caches may serve and store; see [`health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No backplane installed: caches behave as they do alone.
    NotInstalled,
    /// Installed, and the subscription is not known to be healthy: attached caches hold
    /// nothing and store nothing.
    Down,
    /// Subscribed, heartbeat on time.
    Healthy,
}

const NOT_INSTALLED: u8 = 0;
const DOWN: u8 = 1;
const HEALTHY: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(NOT_INSTALLED);

/// The subscription's health, as the attached caches see it.
///
/// ```
/// use cache_core::backplane::{health, Health};
/// assert_eq!(health(), Health::NotInstalled);
/// ```
#[must_use]
pub fn health() -> Health {
    match STATE.load(SeqCst) {
        NOT_INSTALLED => Health::NotInstalled,
        HEALTHY => Health::Healthy,
        _ => Health::Down,
    }
}

/// Whether an attached cache may store: not while installed and down.
pub(super) fn storing_allowed() -> bool {
    STATE.load(SeqCst) != DOWN
}

/// Closes the gate, then empties the attached caches (a fetch that began before is then stale
/// by its epoch; one that begins after finds the gate closed when it stores).
pub(super) fn go_down() {
    let was = STATE.swap(DOWN, SeqCst);
    if was == HEALTHY {
        COUNTERS.outages.fetch_add(1, SeqCst);
    }
    clear_every_cache();
}

/// Empties the attached caches, then opens the gate: what was stored before the outage, or
/// fetched during it, is gone before anything is stored again.
pub(super) fn go_healthy() {
    clear_every_cache();
    COUNTERS.subscriptions.fetch_add(1, SeqCst);
    STATE.store(HEALTHY, SeqCst);
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) published: AtomicU64,
    pub(super) publish_retries: AtomicU64,
    pub(super) publish_failures: AtomicU64,
    pub(super) received: AtomicU64,
    pub(super) applied: AtomicU64,
    pub(super) ignored_own: AtomicU64,
    pub(super) unknown_target: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) outages: AtomicU64,
    pub(super) subscriptions: AtomicU64,
    pub(super) heartbeats_late: AtomicU64,
}

pub(super) static COUNTERS: Counters = Counters {
    published: AtomicU64::new(0),
    publish_retries: AtomicU64::new(0),
    publish_failures: AtomicU64::new(0),
    received: AtomicU64::new(0),
    applied: AtomicU64::new(0),
    ignored_own: AtomicU64::new(0),
    unknown_target: AtomicU64::new(0),
    rejected: AtomicU64::new(0),
    outages: AtomicU64::new(0),
    subscriptions: AtomicU64::new(0),
    heartbeats_late: AtomicU64::new(0),
};

/// The backplane's counters, since start-up; see [`stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackplaneStats {
    /// Invalidation messages published.
    pub published: u64,
    /// Publish attempts that failed and were retried.
    pub publish_retries: u64,
    /// Invalidations whose message could not be published after every retry.
    pub publish_failures: u64,
    /// Invalidation messages received (including this replica's own).
    pub received: u64,
    /// Messages applied to a local cache or scope.
    pub applied: u64,
    /// This replica's own messages, ignored.
    pub ignored_own: u64,
    /// Messages for a cache or scope this replica has not created: nothing to evict.
    pub unknown_target: u64,
    /// Messages that could not be decoded; what they were about was cleared instead.
    pub rejected: u64,
    /// Times a healthy subscription was lost (dropped, or heartbeat overdue).
    pub outages: u64,
    /// Times the subscription became healthy (the first included).
    pub subscriptions: u64,
    /// Caches refused for a name already taken.
    pub refused_names: u64,
    /// Heartbeats that did not come back in time.
    pub heartbeats_late: u64,
}

/// The backplane's counters.
///
/// ```
/// let stats = cache_core::backplane::stats();
/// assert_eq!(stats.publish_failures, 0);
/// ```
#[must_use]
pub fn stats() -> BackplaneStats {
    let c = &COUNTERS;
    BackplaneStats {
        published: c.published.load(SeqCst),
        publish_retries: c.publish_retries.load(SeqCst),
        publish_failures: c.publish_failures.load(SeqCst),
        received: c.received.load(SeqCst),
        applied: c.applied.load(SeqCst),
        ignored_own: c.ignored_own.load(SeqCst),
        unknown_target: c.unknown_target.load(SeqCst),
        rejected: c.rejected.load(SeqCst),
        outages: c.outages.load(SeqCst),
        subscriptions: c.subscriptions.load(SeqCst),
        refused_names: seam::refused_names(),
        heartbeats_late: c.heartbeats_late.load(SeqCst),
    }
}

/// Empties every cache that takes part, locally only (health transitions, or a message no
/// target can be read from).
pub(super) fn clear_every_cache() {
    // Outside the roster's lock: a clear drops values, which runs user code.
    for cache in seam::every_cache() {
        cache.clear();
    }
}

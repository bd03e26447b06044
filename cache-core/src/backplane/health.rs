//! The backplane's health, as the caches see it (the gate they ask before each store), and its
//! counters.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::SeqCst};

use crate::seam;

/// Whether the attached caches may serve and store; see [`health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No backplane installed: caches behave as they do alone.
    NotInstalled,
    /// Installed, and the subscription is not known to be healthy: attached caches serve
    /// nothing they hold and store nothing (what they hold waits for the log's replay).
    Down,
    /// Subscribed, caught up with the log, heartbeat on time.
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

/// Closes the gate and lets the lease lapse: the attached caches serve nothing they hold and
/// store nothing (a fetch that finishes meanwhile is not stored). What they hold stays, for the
/// log's replay to sort out when the subscription is back (`task.rs`).
pub(super) fn go_down() {
    seam::lapse_lease();
    let was = STATE.swap(DOWN, SeqCst);
    if was == HEALTHY {
        COUNTERS.outages.fetch_add(1, SeqCst);
    }
    if was != DOWN {
        DOWN_SINCE.store(wall_micros().max(1), SeqCst);
    }
}

/// When the replica last went down (µs since the Unix epoch), 0 while healthy.
static DOWN_SINCE: AtomicU64 = AtomicU64::new(0);

/// Now, in µs since the Unix epoch, on this machine's wall clock.
pub(super) fn wall_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A message another replica sent at `sent` (µs since the Unix epoch, its wall clock) was
/// applied now.
pub(super) fn applied_after(sent: u64) {
    if sent == 0 {
        return;
    }
    let lag = wall_micros().saturating_sub(sent);
    COUNTERS.lag_last_micros.store(lag, SeqCst);
    COUNTERS.lag_total_micros.fetch_add(lag, SeqCst);
    COUNTERS.lag_samples.fetch_add(1, SeqCst);
    if let Some(sink) = LAG_SINK.get() {
        sink(lag);
    }
}

/// Told each applied message's propagation lag, in µs, once a layer above asked
/// ([`on_lag`]): the metrics' histogram (`metrics/backplane.rs`). Set from above, so that
/// nothing here names that layer.
static LAG_SINK: std::sync::OnceLock<fn(u64)> = std::sync::OnceLock::new();

/// Has `sink` told each applied message's propagation lag (µs) from now on; the first sink
/// stays.
#[cfg(feature = "metrics")]
pub(crate) fn on_lag(sink: fn(u64)) {
    let _ = LAG_SINK.set(sink);
}

/// Opens the gate: called once the log has been replayed (or the caches cleared) and a
/// heartbeat came back, which renewed the lease.
pub(super) fn go_healthy() {
    if STATE.swap(HEALTHY, SeqCst) != HEALTHY {
        COUNTERS.subscriptions.fetch_add(1, SeqCst);
        let since = DOWN_SINCE.swap(0, SeqCst);
        if since != 0 {
            COUNTERS
                .fenced_micros
                .fetch_add(wall_micros().saturating_sub(since), SeqCst);
        }
    }
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
    pub(super) replays: AtomicU64,
    pub(super) replayed: AtomicU64,
    pub(super) gap_clears: AtomicU64,
    pub(super) duplicate_ids: AtomicU64,
    pub(super) lag_last_micros: AtomicU64,
    pub(super) lag_total_micros: AtomicU64,
    pub(super) lag_samples: AtomicU64,
    pub(super) fenced_micros: AtomicU64,
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
    replays: AtomicU64::new(0),
    replayed: AtomicU64::new(0),
    gap_clears: AtomicU64::new(0),
    duplicate_ids: AtomicU64::new(0),
    lag_last_micros: AtomicU64::new(0),
    lag_total_micros: AtomicU64::new(0),
    lag_samples: AtomicU64::new(0),
    fenced_micros: AtomicU64::new(0),
};

/// The backplane's counters, since start-up; see [`stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackplaneStats {
    /// Invalidation messages published.
    pub published: u64,
    /// Publish attempts that failed and were retried (a failed publish is queued and retried
    /// until delivered).
    pub publish_retries: u64,
    /// Invalidations not published as themselves: the retry queue was full, so a clear of
    /// their cache (or scope) was published in their place.
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
    /// Times the subscription came back and the log covered the gap: replayed, nothing cleared.
    pub replays: u64,
    /// Log entries applied by those replays.
    pub replayed: u64,
    /// Times the subscription came back and the log could not cover the gap (trimmed, a new
    /// epoch, a log that went back): every attached cache was cleared.
    pub gap_clears: u64,
    /// Heartbeats that found this replica's id claimed by another process.
    pub duplicate_ids: u64,
    /// Propagation lag of the last message applied from another replica: from its send time
    /// (the sender's wall clock) to its application here (this one's), in µs; clock skew
    /// between the machines adds to it. Format 1 messages carry no send time.
    pub lag_last_micros: u64,
    /// The sum of every such lag, in µs, and how many there were: their mean is
    /// `lag_total_micros / lag_samples`.
    pub lag_total_micros: u64,
    /// See [`lag_total_micros`](Self::lag_total_micros).
    pub lag_samples: u64,
    /// How long, in µs, the attached caches were fenced (not healthy: serving nothing they
    /// hold) since `install`, the current outage included.
    pub fenced_micros: u64,
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
        replays: c.replays.load(SeqCst),
        replayed: c.replayed.load(SeqCst),
        gap_clears: c.gap_clears.load(SeqCst),
        duplicate_ids: c.duplicate_ids.load(SeqCst),
        lag_last_micros: c.lag_last_micros.load(SeqCst),
        lag_total_micros: c.lag_total_micros.load(SeqCst),
        lag_samples: c.lag_samples.load(SeqCst),
        fenced_micros: c.fenced_micros.load(SeqCst)
            + match DOWN_SINCE.load(SeqCst) {
                0 => 0,
                since => wall_micros().saturating_sub(since),
            },
    }
}

/// Empties every cache that takes part, locally only (a gap the log cannot cover, or a message
/// no target can be read from).
pub(super) fn clear_every_cache() {
    // Outside the roster's lock: a clear drops values, which runs user code.
    for cache in seam::every_cache() {
        cache.clear();
    }
}

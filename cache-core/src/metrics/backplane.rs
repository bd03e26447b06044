//! The backplane's family (features `metrics` and `redis`): its health, how long it kept the
//! caches fenced, how far behind the other replicas' invalidations arrive, and its counts, from
//! [`backplane::stats`](crate::backplane::stats). Process-wide: no labels.

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};

use crate::backplane::{health, on_lag, stats, Health};

const LAG: &str = "cache_backplane_propagation_lag_seconds";

/// Publishes the backplane's state, once it was installed (before, there is none to watch).
pub(super) fn report() {
    // From here on, each applied message's lag lands in the histogram.
    on_lag(applied_after);
    let healthy = match health() {
        Health::NotInstalled => return,
        Health::Down => 0.0,
        Health::Healthy => 1.0,
    };
    let s = stats();
    gauge!("cache_backplane_healthy").set(healthy);
    gauge!("cache_backplane_fenced_seconds").set(micros_to_seconds(s.fenced_micros));
    gauge!("cache_backplane_propagation_lag_last_seconds")
        .set(micros_to_seconds(s.lag_last_micros));
    let counters = [
        ("cache_backplane_published_total", s.published),
        ("cache_backplane_publish_retries_total", s.publish_retries),
        ("cache_backplane_publish_failures_total", s.publish_failures),
        ("cache_backplane_received_total", s.received),
        ("cache_backplane_applied_total", s.applied),
        ("cache_backplane_ignored_own_total", s.ignored_own),
        ("cache_backplane_unknown_target_total", s.unknown_target),
        ("cache_backplane_rejected_total", s.rejected),
        ("cache_backplane_outages_total", s.outages),
        ("cache_backplane_subscriptions_total", s.subscriptions),
        ("cache_backplane_refused_names_total", s.refused_names),
        ("cache_backplane_heartbeats_late_total", s.heartbeats_late),
        ("cache_backplane_replays_total", s.replays),
        ("cache_backplane_replayed_total", s.replayed),
        ("cache_backplane_gap_clears_total", s.gap_clears),
        ("cache_backplane_duplicate_ids_total", s.duplicate_ids),
    ];
    for (metric, value) in counters {
        counter!(metric).absolute(value);
    }
}

/// A message of another replica, sent `lag_micros` ago, was applied here: called by the
/// backplane as it applies it.
fn applied_after(lag_micros: u64) {
    histogram!(LAG).record(micros_to_seconds(lag_micros));
}

pub(super) fn describe() {
    describe_gauge!(
        "cache_backplane_healthy",
        "1 while the backplane's subscription is healthy and the attached caches may serve, 0 while they are fenced."
    );
    describe_gauge!(
        "cache_backplane_fenced_seconds",
        Unit::Seconds,
        "Seconds the attached caches were fenced (serving nothing they hold) since install; grows like a counter."
    );
    describe_histogram!(
        LAG,
        Unit::Seconds,
        "Propagation lag of each invalidation applied from another replica: from its send time (the sender's clock) to its application here."
    );
    describe_gauge!(
        "cache_backplane_propagation_lag_last_seconds",
        Unit::Seconds,
        "Propagation lag of the last invalidation applied from another replica."
    );
    describe_counter!(
        "cache_backplane_published_total",
        "Invalidation messages published."
    );
    describe_counter!(
        "cache_backplane_publish_retries_total",
        "Publish attempts that failed and were retried."
    );
    describe_counter!(
        "cache_backplane_publish_failures_total",
        "Invalidations not published as themselves (retry queue full): a clear was published instead."
    );
    describe_counter!(
        "cache_backplane_received_total",
        "Invalidation messages received, this replica's own included."
    );
    describe_counter!(
        "cache_backplane_applied_total",
        "Messages applied to a local cache or scope."
    );
    describe_counter!(
        "cache_backplane_ignored_own_total",
        "This replica's own messages, ignored."
    );
    describe_counter!(
        "cache_backplane_unknown_target_total",
        "Messages for a cache or scope this replica has not created."
    );
    describe_counter!(
        "cache_backplane_rejected_total",
        "Messages that could not be decoded (what they were about was cleared)."
    );
    describe_counter!(
        "cache_backplane_outages_total",
        "Times a healthy subscription was lost."
    );
    describe_counter!(
        "cache_backplane_subscriptions_total",
        "Times the subscription became healthy."
    );
    describe_counter!(
        "cache_backplane_refused_names_total",
        "Caches refused for a name already taken."
    );
    describe_counter!(
        "cache_backplane_heartbeats_late_total",
        "Heartbeats that did not come back in time."
    );
    describe_counter!(
        "cache_backplane_replays_total",
        "Reconnections where the log covered the gap: replayed, nothing cleared."
    );
    describe_counter!(
        "cache_backplane_replayed_total",
        "Log entries applied by those replays."
    );
    describe_counter!(
        "cache_backplane_gap_clears_total",
        "Reconnections where the log could not cover the gap: every attached cache cleared."
    );
    describe_counter!(
        "cache_backplane_duplicate_ids_total",
        "Heartbeats that found this replica's id claimed by another process."
    );
}

/// µs as seconds: exact to the µs up to 2^53 µs (285 years).
#[allow(clippy::cast_precision_loss)]
fn micros_to_seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

//! Every cache's counters on your dashboards, through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`): install a recorder (say `metrics-exporter-prometheus`), call
//! [`report`] where it is scraped, and each cache appears under its name.
//!
//! The counters are not bumped a second time on the cache's paths: [`report`] publishes the
//! caches' own counters (the [`CacheStats`](crate::CacheStats) snapshots) as absolute values,
//! so a hit costs what it costs without the feature. Only the upstream fetch latency is
//! recorded as it happens, on the miss path: one clock read before the fetch and one after,
//! from the first [`report`] on (before it, no recorder is assumed and fetches are not timed).
//! Without a recorder installed, everything here is a no-op.
//!
//! Labels are the cache's name (`cache`) and small enums (`cause`, `outcome`); never a key
//! part: keys are often user ids.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `cache_hits_total` | counter | `cache` | [`hits`](crate::CacheStats::hits) |
//! | `cache_misses_total` | counter | `cache` | [`misses`](crate::CacheStats::misses): calls that ran the fetch |
//! | `cache_coalesced_total` | counter | `cache` | [`coalesced`](crate::CacheStats::coalesced): calls served by another caller's fetch |
//! | `cache_inserts_total` | counter | `cache` | [`inserts`](crate::CacheStats::inserts): values stored |
//! | `cache_evictions_total` | counter | `cache`, `cause` = `expired` \| `capacity` | [`evicted_expired`](crate::CacheStats::evicted_expired), [`evicted_capacity`](crate::CacheStats::evicted_capacity) |
//! | `cache_invalidations_total` | counter | `cache`, `kind` = `group` \| `key` \| `clear` | [`group_invalidations`](crate::CacheStats::group_invalidations), [`key_invalidations`](crate::CacheStats::key_invalidations), [`clears`](crate::CacheStats::clears): invalidations made, by kind |
//! | `cache_invalidated_total` | counter | `cache` | [`invalidated`](crate::CacheStats::invalidated): entries removed by an invalidation, a clear or a refresh |
//! | `cache_stale_served_total` | counter | `cache` | [`stale_served`](crate::CacheStats::stale_served) |
//! | `cache_stale_on_error_total` | counter | `cache` | [`stale_on_error`](crate::CacheStats::stale_on_error): upstream errors papered over |
//! | `cache_throttled_total` | counter | `cache` | [`throttled`](crate::CacheStats::throttled): calls served stale without calling a failing upstream |
//! | `cache_retry_hints_total` | counter | `cache` | [`retry_hints`](crate::CacheStats::retry_hints): retry hints honoured |
//! | `cache_revocations_total` | counter | `cache` | [`revoked`](crate::CacheStats::revoked): errors that revoked their group |
//! | `cache_fetch_timeouts_total` | counter | `cache` | [`timeouts`](crate::CacheStats::timeouts): fetches dropped past the fetch timeout |
//! | `cache_soft_timeouts_total` | counter | `cache` | [`soft_timeouts`](crate::CacheStats::soft_timeouts): callers answered stale past the soft timeout |
//! | `cache_refreshes_started_total` | counter | `cache` | [`refreshes_started`](crate::CacheStats::refreshes_started) |
//! | `cache_refreshes_failed_total` | counter | `cache` | [`refreshes_failed`](crate::CacheStats::refreshes_failed) |
//! | `cache_refreshes_in_flight` | gauge | `cache` | [`refreshes_in_flight`](crate::CacheStats::refreshes_in_flight) |
//! | `cache_entries` | gauge | `cache` | entries stored |
//! | `cache_fetches_in_flight` | gauge | `cache` | upstream fetches running (one per key being fetched) |
//! | `cache_fetch_duration_seconds` | histogram | `cache`, `outcome` = `ok` \| `error` \| `panic` \| `cancelled` | each upstream fetch, from its start to its end (recorded as it ends): one sample per miss and per background refresh |
//!
//! With the `redis` feature, once [`backplane::install`](crate::backplane::install) was
//! called, the backplane's family (process-wide, no labels): `cache_backplane_healthy` (gauge,
//! 1 while the attached caches may serve), `cache_backplane_fenced_seconds` (gauge: the
//! seconds spent fenced since install, growing like a counter; the facade's counters are
//! integers), `cache_backplane_propagation_lag_seconds` (histogram, recorded as each message of
//! another replica is applied: from its send time to now, clock skew included) and
//! `cache_backplane_propagation_lag_last_seconds` (gauge), and a `cache_backplane_<field>_total`
//! counter for each count of [`BackplaneStats`](crate::backplane::BackplaneStats)
//! (`published`, `publish_retries`, `publish_failures`, `received`, `applied`, `ignored_own`,
//! `unknown_target`, `rejected`, `outages`, `subscriptions`, `refused_names`,
//! `heartbeats_late`, `replays`, `replayed`, `gap_clears`, `duplicate_ids`).
//!
//! Several [`TtlCache`](crate::TtlCache)s built under one name report as one (their sums); a
//! dropped cache's counters stay in its name's, as they were when it was dropped.
//!
//! ```
//! // With `metrics-exporter-prometheus` (its listener off), the `/metrics` handler is:
//! //     cache_core::metrics::report();
//! //     prometheus_handle.render()
//! // and without any recorder installed, a report costs a lock and changes nothing:
//! cache_core::metrics::report();
//! ```

#[cfg(feature = "redis")]
mod backplane;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};

use crate::cache::census;
use crate::cache::upstream::{time_fetches, FETCH_DURATION};

/// Publishes every cache's counters and gauges, and the backplane's, to the installed
/// recorder: call it where the recorder is scraped (or every few seconds), and once after
/// installing the recorder so that the descriptions reach it. Costs one lock and a read of each
/// cache's counters; never blocks a cache.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::ttl_cached;
///
/// #[ttl_cached(ttl = 60)]
/// async fn lookup(id: u64) -> u64 {
///     id * 2
/// }
///
/// lookup(1).await;
/// lookup(1).await;
/// // With a recorder installed (`metrics::set_global_recorder`, or an exporter's
/// // `install_recorder()`), this sets `cache_hits_total{cache="rust_out::lookup"}` to 1 and
/// // `cache_misses_total{cache="rust_out::lookup"}` to 1; without one it does nothing.
/// cache_core::metrics::report();
/// # }
/// ```
pub fn report() {
    time_fetches();
    describe();
    for (name, reading) in census::read() {
        let s = &reading.stats;
        let counters = [
            ("cache_hits_total", s.hits),
            ("cache_misses_total", s.misses),
            ("cache_coalesced_total", s.coalesced),
            ("cache_inserts_total", s.inserts),
            ("cache_invalidated_total", s.invalidated),
            ("cache_stale_served_total", s.stale_served),
            ("cache_stale_on_error_total", s.stale_on_error),
            ("cache_throttled_total", s.throttled),
            ("cache_retry_hints_total", s.retry_hints),
            ("cache_revocations_total", s.revoked),
            ("cache_fetch_timeouts_total", s.timeouts),
            ("cache_soft_timeouts_total", s.soft_timeouts),
            ("cache_refreshes_started_total", s.refreshes_started),
            ("cache_refreshes_failed_total", s.refreshes_failed),
        ];
        for (metric, value) in counters {
            counter!(metric, "cache" => name.clone()).absolute(value);
        }
        for (kind, value) in [
            ("group", s.group_invalidations),
            ("key", s.key_invalidations),
            ("clear", s.clears),
        ] {
            counter!("cache_invalidations_total", "cache" => name.clone(), "kind" => kind)
                .absolute(value);
        }
        counter!("cache_evictions_total", "cache" => name.clone(), "cause" => "expired")
            .absolute(s.evicted_expired);
        counter!("cache_evictions_total", "cache" => name.clone(), "cause" => "capacity")
            .absolute(s.evicted_capacity);
        gauge!("cache_refreshes_in_flight", "cache" => name.clone())
            .set(as_f64(s.refreshes_in_flight));
        gauge!("cache_entries", "cache" => name.clone()).set(as_f64(reading.entries as u64));
        #[cfg(feature = "redis-tier")]
        if let Some(counts) = reading.tier {
            for (event, value) in crate::cache::tier::TIER_EVENTS.into_iter().zip(counts) {
                counter!("cache_tier_events_total", "cache" => name.clone(), "event" => event)
                    .absolute(value);
            }
        }
        gauge!("cache_fetches_in_flight", "cache" => name)
            .set(as_f64(reading.fetches_in_flight as u64));
    }
    #[cfg(feature = "redis")]
    backplane::report();
}

/// The descriptions and units, for the recorders that show them (a Prometheus exporter's
/// `# HELP` lines).
fn describe() {
    describe_counter!(
        "cache_hits_total",
        "Calls answered from a live cached entry."
    );
    describe_counter!(
        "cache_misses_total",
        "Calls that ran the upstream fetch themselves (refresh calls included, background refreshes not)."
    );
    describe_counter!(
        "cache_coalesced_total",
        "Calls that waited for another caller's fetch and received its value."
    );
    describe_counter!("cache_inserts_total", "Values stored in the cache.");
    describe_counter!(
        "cache_evictions_total",
        "Entries removed because their TTL had passed (cause=expired) or to stay within the capacity (cause=capacity)."
    );
    describe_counter!(
        "cache_invalidations_total",
        "Invalidations made, by kind (group, key, clear), local or applied from another replica."
    );
    describe_counter!(
        "cache_invalidated_total",
        "Entries removed by an invalidation, a clear, or a refresh of their key."
    );
    describe_counter!(
        "cache_stale_served_total",
        "Calls answered with an expired value inside the stale-while-revalidate window."
    );
    describe_counter!(
        "cache_stale_on_error_total",
        "Upstream errors or panics papered over with the expired value (stale-if-error)."
    );
    describe_counter!(
        "cache_throttled_total",
        "Calls answered with the expired value without calling the upstream, after a failed fetch of their key (fail-safe throttle, retry hint, refresh back-off)."
    );
    describe_counter!(
        "cache_retry_hints_total",
        "Failed fetches whose retry hint left the upstream alone for longer than the throttle."
    );
    describe_counter!(
        "cache_revocations_total",
        "Failed fetches whose error revoked: each invalidated its key's group."
    );
    describe_counter!(
        "cache_fetch_timeouts_total",
        "Fetches dropped past the fetch timeout."
    );
    describe_counter!(
        "cache_soft_timeouts_total",
        "Callers answered with the expired value past the soft timeout while their fetch went on."
    );
    describe_counter!(
        "cache_refreshes_started_total",
        "Background refreshes started by a call served stale."
    );
    describe_counter!(
        "cache_refreshes_failed_total",
        "Background refreshes that ended in an error or a panic."
    );
    #[cfg(feature = "redis-tier")]
    describe_counter!(
        "cache_tier_events_total",
        "What the shared tier did on this replica's misses, by event: hit, stale, miss, waited, \
         waited_out, skipped, unavailable, undecodable, too_large, write, write_refused, \
         write_error (see TierStats)."
    );
    describe_gauge!("cache_refreshes_in_flight", "Background refreshes running.");
    describe_gauge!("cache_entries", "Entries stored.");
    describe_gauge!(
        "cache_fetches_in_flight",
        "Upstream fetches running, one per key being fetched."
    );
    describe_histogram!(
        FETCH_DURATION,
        Unit::Seconds,
        "Upstream fetch latency, by outcome (ok, error, panic, cancelled)."
    );
    #[cfg(feature = "redis")]
    backplane::describe();
}

/// A count as a gauge's value: exact up to 2^53, far beyond any cache's size.
#[allow(clippy::cast_precision_loss)]
fn as_f64(n: u64) -> f64 {
    n as f64
}

//! The `metrics` feature, against `metrics-util`'s debugging recorder: after a seeded workload,
//! every counter [`cache_core::metrics::report`] publishes equals the matching `stats()` field,
//! the gauges match the cache, the fetch-latency histogram has one sample per upstream fetch,
//! and no label (nor name) carries a key part.
//!
//! One recorder for the process (it is global); the tests take turns, since a snapshot resets
//! what it reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cache_core::{ttl_cached, CacheStats, TtlCache};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::sync::{Mutex, MutexGuard};

/// The global recorder's snapshotter, and a turn: each test holds the guard throughout.
async fn recorder() -> (MutexGuard<'static, ()>, &'static Snapshotter) {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    // Async: the turn is held across the workload's awaits (each test has a runtime of its own).
    static TURN: Mutex<()> = Mutex::const_new(());
    let turn = TURN.lock().await;
    let snapshotter = SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this test binary");
        // From the first report on, fetches are timed.
        cache_core::metrics::report();
        snapshotter
    });
    (turn, snapshotter)
}

/// One metric as the recorder saw it.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    labels: Vec<(String, String)>,
    value: Value,
}

#[derive(Debug, Clone)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

/// `report()`, then everything the recorder holds.
fn scrape(snapshotter: &Snapshotter) -> Vec<Seen> {
    cache_core::metrics::report();
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _unit, _description, value)| {
            let (_kind, key) = key.into_parts();
            Seen {
                name: key.name().to_owned(),
                labels: key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect(),
                value: match value {
                    DebugValue::Counter(n) => Value::Counter(n),
                    DebugValue::Gauge(g) => Value::Gauge(g.into_inner()),
                    DebugValue::Histogram(xs) => {
                        Value::Histogram(xs.into_iter().map(|x| x.into_inner()).collect())
                    }
                },
            }
        })
        .collect()
}

/// The metrics labelled `cache = name`, by name and their other labels.
fn of_cache(seen: &[Seen], name: &str) -> HashMap<String, Value> {
    seen.iter()
        .filter(|s| s.labels.iter().any(|(k, v)| k == "cache" && v == name))
        .map(|s| {
            let rest: Vec<String> = s
                .labels
                .iter()
                .filter(|(k, _)| k != "cache")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let id = if rest.is_empty() {
                s.name.clone()
            } else {
                format!("{}{{{}}}", s.name, rest.join(","))
            };
            (id, s.value.clone())
        })
        .collect()
}

fn counter(metrics: &HashMap<String, Value>, id: &str) -> u64 {
    match metrics.get(id) {
        Some(Value::Counter(n)) => *n,
        other => panic!("`{id}` is not a counter: {other:?}"),
    }
}

fn gauge(metrics: &HashMap<String, Value>, id: &str) -> f64 {
    match metrics.get(id) {
        Some(Value::Gauge(g)) => *g,
        other => panic!("`{id}` is not a gauge: {other:?}"),
    }
}

fn samples(metrics: &HashMap<String, Value>, id: &str) -> usize {
    match metrics.get(id) {
        Some(Value::Histogram(xs)) => xs.len(),
        None => 0,
        other => panic!("`{id}` is not a histogram: {other:?}"),
    }
}

/// Every counter and gauge of a cache against its snapshot.
fn assert_matches(metrics: &HashMap<String, Value>, stats: &CacheStats, len: usize) {
    let expected = [
        ("cache_hits_total", stats.hits),
        ("cache_misses_total", stats.misses),
        ("cache_coalesced_total", stats.coalesced),
        ("cache_inserts_total", stats.inserts),
        (
            "cache_evictions_total{cause=expired}",
            stats.evicted_expired,
        ),
        (
            "cache_evictions_total{cause=capacity}",
            stats.evicted_capacity,
        ),
        (
            "cache_invalidations_total{kind=group}",
            stats.group_invalidations,
        ),
        (
            "cache_invalidations_total{kind=key}",
            stats.key_invalidations,
        ),
        ("cache_invalidations_total{kind=clear}", stats.clears),
        ("cache_invalidated_total", stats.invalidated),
        ("cache_stale_served_total", stats.stale_served),
        ("cache_stale_on_error_total", stats.stale_on_error),
        ("cache_throttled_total", stats.throttled),
        ("cache_retry_hints_total", stats.retry_hints),
        ("cache_revocations_total", stats.revoked),
        ("cache_fetch_timeouts_total", stats.timeouts),
        ("cache_soft_timeouts_total", stats.soft_timeouts),
        ("cache_refreshes_started_total", stats.refreshes_started),
        ("cache_refreshes_failed_total", stats.refreshes_failed),
    ];
    for (id, value) in expected {
        assert_eq!(counter(metrics, id), value, "{id}");
    }
    assert_eq!(
        gauge(metrics, "cache_refreshes_in_flight"),
        stats.refreshes_in_flight as f64
    );
    assert_eq!(gauge(metrics, "cache_entries"), len as f64);
    assert_eq!(gauge(metrics, "cache_fetches_in_flight"), 0.0);
}

/// A small deterministic generator (xorshift64*), so that a failure replays.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

static UPSTREAM_DOWN: AtomicBool = AtomicBool::new(false);
static FETCHES: AtomicU64 = AtomicU64::new(0);

#[ttl_cached(
    ttl = 10,
    key = "<user_id>:<provider>:<folder_id>",
    group = "<user_id>:<provider>",
    capacity = 16,
    stale = 5,
    stale_if_error = 60
)]
async fn listing(user_id: &str, provider: &str, folder_id: &str) -> Result<Arc<String>, String> {
    FETCHES.fetch_add(1, SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    if UPSTREAM_DOWN.load(SeqCst) {
        return Err("upstream down".into());
    }
    Ok(Arc::new(format!("{user_id}/{provider}/{folder_id}")))
}

const USERS: [&str; 3] = ["user-0c1d-alice", "user-77ab-bob", "user-d00d-carol"];
const PROVIDERS: [&str; 2] = ["provider-gdrive-acct-5", "provider-dropbox-acct-9"];
const FOLDERS: [&str; 4] = [
    "folder-root-a1",
    "folder-inbox-b2",
    "folder-photos-c3",
    "folder-tax-d4",
];

/// A seeded storm of calls (some concurrent, so some coalesce), invalidations of groups and
/// keys, refreshes, clock jumps past the TTL and the stale window, and upstream outages, on a
/// `#[ttl_cached]` function and on a built `TtlCache`.
async fn workload(seed: u64, cache: &TtlCache<String, String, u64>) {
    let mut rng = Seeded(seed);
    for _ in 0..400 {
        let user = USERS[rng.below(3) as usize];
        let provider = PROVIDERS[rng.below(2) as usize];
        let folder = FOLDERS[rng.below(4) as usize];
        match rng.below(20) {
            0..=9 => {
                let together = 1 + rng.below(4);
                let calls = (0..together).map(|_| listing(user, provider, folder));
                drop(futures_util::future::join_all(calls).await);
            }
            10 => drop(invalidate_listing(user, provider).await),
            11 => drop(invalidate_listing_key(user, provider, folder).await),
            12 => drop(refresh_listing(user, provider, folder).await),
            13 => tokio::time::advance(Duration::from_secs(1 + rng.below(20))).await,
            14 => UPSTREAM_DOWN.store(rng.below(2) == 0, SeqCst),
            15..=17 => {
                let fail = rng.below(4) == 0;
                let calls = (0..1 + rng.below(3)).map(|_| {
                    cache.try_get_with(user, folder, || async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        if fail {
                            Err("boom")
                        } else {
                            Ok(7)
                        }
                    })
                });
                drop(futures_util::future::join_all(calls).await);
            }
            18 => drop(cache.invalidate_group(user).await),
            _ => cache.insert(user, folder, 1).await,
        }
    }
    UPSTREAM_DOWN.store(false, SeqCst);
    // Let the background refreshes finish.
    for _ in 0..100 {
        if listing_cache().stats().refreshes_in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn every_counter_equals_its_stats_field() {
    let (_turn, snapshotter) = recorder().await;
    let cache: TtlCache<String, String, u64> = TtlCache::builder()
        .ttl(Duration::from_secs(8))
        .capacity(8)
        .name("metrics-test::built")
        .build()
        .unwrap();
    drop(scrape(snapshotter)); // drains the histograms
    let fetches_before = FETCHES.load(SeqCst);
    workload(0x5eed_0001, &cache).await;

    let seen = scrape(snapshotter);
    let function = of_cache(&seen, listing_cache().name());
    let stats = listing_cache().stats();
    // The workload reached every counter it can.
    assert!(stats.hits > 0 && stats.coalesced > 0 && stats.invalidated > 0);
    assert!(stats.group_invalidations > 0 && stats.key_invalidations > 0);
    assert!(stats.evicted_expired + stats.evicted_capacity > 0);
    assert!(stats.stale_served > 0 && stats.stale_on_error > 0 && stats.refreshes_started > 0);
    assert_matches(&function, &stats, listing_cache().len());
    let built = of_cache(&seen, "metrics-test::built");
    let built_stats = cache.stats();
    assert!(built_stats.hits > 0 && built_stats.inserts > 0);
    assert_matches(&built, &built_stats, cache.len());

    // One latency sample per upstream fetch, by outcome.
    let fetches = samples(&function, "cache_fetch_duration_seconds{outcome=ok}")
        + samples(&function, "cache_fetch_duration_seconds{outcome=error}");
    assert_eq!(fetches as u64, FETCHES.load(SeqCst) - fetches_before);
    assert!(samples(&function, "cache_fetch_duration_seconds{outcome=error}") > 0);
    let built_fetches = samples(&built, "cache_fetch_duration_seconds{outcome=ok}")
        + samples(&built, "cache_fetch_duration_seconds{outcome=error}");
    assert_eq!(built_fetches as u64, built_stats.misses);
    // Paused clock: the fetches' sleeps took no real time, but were measured.
    match function.get("cache_fetch_duration_seconds{outcome=ok}") {
        Some(Value::Histogram(xs)) => assert!(xs.iter().all(|x| *x >= 0.0)),
        other => panic!("no fetch latency: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_cache_keeps_its_counts_under_its_name() {
    let (_turn, snapshotter) = recorder().await;
    let make = || {
        TtlCache::<u32, u32, u32>::builder()
            .ttl(Duration::from_secs(60))
            .name("metrics-test::dropped")
            .build()
            .unwrap()
    };
    let first = make();
    first.get_with(&1, &1, || async { 1 }).await;
    let seen = scrape(snapshotter);
    let metrics = of_cache(&seen, "metrics-test::dropped");
    assert_eq!(counter(&metrics, "cache_misses_total"), 1);
    // Counted after the last report, before the drop: kept too.
    first.get_with(&1, &1, || async { 1 }).await;
    drop(first);
    let second = make();
    second.get_with(&1, &1, || async { 1 }).await;
    second.get_with(&1, &1, || async { 1 }).await;
    let seen = scrape(snapshotter);
    let metrics = of_cache(&seen, "metrics-test::dropped");
    // The first cache's hit, then the second's: the counter does not go back.
    assert_eq!(counter(&metrics, "cache_hits_total"), 2);
    assert_eq!(counter(&metrics, "cache_misses_total"), 2);
    assert_eq!(gauge(&metrics, "cache_entries"), 1.0);
}

#[tokio::test(start_paused = true)]
async fn no_label_carries_a_key_part() {
    let (_turn, snapshotter) = recorder().await;
    let cache: TtlCache<String, String, u64> = TtlCache::builder()
        .ttl(Duration::from_secs(8))
        .name("metrics-test::labels")
        .build()
        .unwrap();
    workload(0x5eed_0002, &cache).await;
    let seen = scrape(snapshotter);
    // The caches did report, with their names.
    assert!(!of_cache(&seen, listing_cache().name()).is_empty());
    assert!(!of_cache(&seen, "metrics-test::labels").is_empty());
    let key_parts: Vec<&str> = USERS
        .iter()
        .chain(&PROVIDERS)
        .chain(&FOLDERS)
        .copied()
        .collect();
    for metric in &seen {
        for text in
            std::iter::once(&metric.name).chain(metric.labels.iter().flat_map(|(k, v)| [k, v]))
        {
            for part in &key_parts {
                assert!(
                    !text.contains(part),
                    "{metric:?} carries the key part {part:?}"
                );
            }
        }
    }
    // And the labels are the cache's name and small enums only.
    for metric in &seen {
        for (key, value) in &metric.labels {
            match key.as_str() {
                "cache" => {}
                "cause" => assert!(["expired", "capacity"].contains(&value.as_str())),
                "kind" => assert!(["group", "key", "clear"].contains(&value.as_str())),
                "outcome" => {
                    assert!(["ok", "error", "panic", "cancelled"].contains(&value.as_str()))
                }
                other => panic!("unexpected label `{other}` on {metric:?}"),
            }
        }
    }
}

/// Counts every call the cache makes into the recorder.
#[derive(Default)]
struct CountingRecorder(AtomicU64);

impl metrics::Recorder for CountingRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
        self.0.fetch_add(1, SeqCst);
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
        self.0.fetch_add(1, SeqCst);
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
        self.0.fetch_add(1, SeqCst);
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        self.0.fetch_add(1, SeqCst);
        metrics::Counter::noop()
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        self.0.fetch_add(1, SeqCst);
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0.fetch_add(1, SeqCst);
        metrics::Histogram::noop()
    }
}

#[ttl_cached(ttl = 60)]
async fn doubled(n: u64) -> u64 {
    n * 2
}

/// A hit reaches no recorder, installed and reporting or not (the counters are read at
/// report time); a miss records one latency sample. What the hit costs in instructions is in
/// BENCHMARKS.md (`benches/callgrind.sh`).
#[test]
fn a_hit_touches_no_recorder_and_a_miss_records_one_sample() {
    let recorder = CountingRecorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cache: TtlCache<u64, u64, u64> = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .name("metrics-test::counting")
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            cache_core::metrics::report(); // a recorder is listening from here
            assert_eq!(doubled(1).await, 2);
            cache.get_with(&1, &1, || async { 1 }).await;
            let before = recorder.0.load(SeqCst);
            for _ in 0..1_000 {
                assert_eq!(doubled(1).await, 2);
                assert_eq!(cache.get_with(&1, &1, || async { 0 }).await, 1);
                assert_eq!(cache.get(&1, &1), Some(1));
            }
            assert_eq!(
                recorder.0.load(SeqCst),
                before,
                "a hit reached the recorder"
            );
            // A miss of each: one histogram sample each.
            assert_eq!(doubled(2).await, 4);
            cache.get_with(&1, &2, || async { 2 }).await;
            assert_eq!(recorder.0.load(SeqCst), before + 2);
        });
    });
}

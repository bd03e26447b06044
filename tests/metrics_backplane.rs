//! The `metrics` feature's backplane family, in a replica of its own (this process: the
//! backplane is process-wide) against a `redis-server` started here: every counter equals the
//! matching `backplane::stats()` field, each invalidation another replica (this test binary run
//! again as a peer) sends lands in the propagation lag histogram, and the health gauge follows
//! the subscription through an outage while the fenced seconds grow. Needs `redis-server` on the PATH, like
//! `tests/backplane.rs` (skipped loudly without it, failing under CI).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cache_core::backplane::{self, BackplaneOptions, BackplaneStats, Health, SharedTier};
use cache_core::TtlCache;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

fn redis_server() -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|path| path.is_file())
    });
    match found {
        Some(path) => Some(path.to_string_lossy().into_owned()),
        None if std::env::var_os("CI").is_some()
            || std::env::var_os("TTL_CACHED_REQUIRE_REDIS").is_some() =>
        {
            panic!("redis-server is not installed: the backplane tests need it in CI")
        }
        None => {
            eprintln!(
                "!! SKIPPED: the backplane metrics test (redis-server is not on the PATH) !!"
            );
            None
        }
    }
}

/// A `redis-server` on a free loopback port, killed when dropped.
struct Redis(Child, u16);

impl Redis {
    fn start(binary: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pong(port) {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self(child, port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pong(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut reply = [0u8; 5];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG"
}

/// `report()`, then the backplane's metrics: `(name, labels, value)`.
fn scrape(snapshotter: &Snapshotter) -> Vec<(String, usize, DebugValue)> {
    cache_core::metrics::report();
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name().starts_with("cache_backplane_"))
        .map(|(key, _, _, value)| {
            let labels = key.key().labels().count();
            (key.key().name().to_owned(), labels, value)
        })
        .collect()
}

/// `report()`, then `cache`'s `cache_tier_events_total`: `(event, count)`.
fn tier_events(snapshotter: &Snapshotter, cache: &str) -> Vec<(String, u64)> {
    cache_core::metrics::report();
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key().name() == "cache_tier_events_total"
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == "cache" && l.value() == cache)
        })
        .map(|(key, _, _, value)| {
            let event = key
                .key()
                .labels()
                .find(|l| l.key() == "event")
                .map(|l| l.value().to_owned())
                .expect("an event label");
            match value {
                DebugValue::Counter(n) => (event, n),
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

fn value<'a>(seen: &'a [(String, usize, DebugValue)], name: &str) -> &'a DebugValue {
    seen.iter()
        .find(|(n, ..)| n == name)
        .map(|(_, _, v)| v)
        .unwrap_or_else(|| panic!("`{name}` not reported: {seen:?}"))
}

fn counters(s: &BackplaneStats) -> [(&'static str, u64); 16] {
    [
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
    ]
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const PREFIX: &str = "metrics-test";
const CACHE: &str = "metrics-backplane::listings";
/// Invalidations the peer sends.
const PEER_SENDS: u64 = 5;

fn listings() -> TtlCache<String, u32, u32> {
    TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .name(CACHE)
        .build()
        .unwrap()
}

fn options() -> BackplaneOptions {
    BackplaneOptions::default()
        .prefix(PREFIX)
        .heartbeat(Duration::from_millis(100), Duration::from_millis(400))
}

/// The other replica: this binary again, with `METRICS_BP_PEER` set to Redis's URL. Sends
/// [`PEER_SENDS`] group invalidations of the cache once its subscription is healthy.
fn peer(url: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let cache = listings();
    runtime.block_on(async {
        backplane::install(url, options()).expect("installed");
        backplane::attach(&cache).expect("attached");
    });
    wait_for("the peer's subscription", || {
        backplane::health() == Health::Healthy
    });
    runtime.block_on(async {
        for _ in 0..PEER_SENDS {
            cache.invalidate_group("u1").await;
        }
    });
    wait_for("the peer's messages back", || {
        backplane::stats().ignored_own >= PEER_SENDS
    });
}

/// Runs [`peer`] in a process of its own, to the end.
fn run_peer(url: &str) {
    let status = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "the_backplane_family_follows_its_stats_and_health",
            "--exact",
        ])
        .env("METRICS_BP_PEER", url)
        .stdout(Stdio::null())
        .status()
        .expect("the peer runs");
    assert!(status.success(), "the peer failed: {status}");
}

#[test]
fn the_backplane_family_follows_its_stats_and_health() {
    if let Some(url) = std::env::var_os("METRICS_BP_PEER") {
        peer(&url.to_string_lossy());
        return;
    }
    let Some(binary) = redis_server() else {
        return;
    };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    // Not installed: no backplane family.
    assert!(scrape(&snapshotter).is_empty());

    let redis = Redis::start(&binary);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let cache = listings();
    let url = format!("redis://127.0.0.1:{}/", redis.1);
    runtime.block_on(async {
        backplane::install(&url, options()).expect("installed");
        backplane::attach(&cache).expect("attached");
    });
    wait_for("a healthy subscription", || {
        backplane::health() == Health::Healthy
    });
    runtime.block_on(async {
        cache.get_with("u1", &1, || async { 1 }).await;
        cache.invalidate_group("u1").await;
    });
    wait_for("our message back", || backplane::stats().ignored_own >= 1);
    // The other replica's invalidations, each timed from its send time as it is applied here.
    run_peer(&url);
    wait_for("the peer's messages", || {
        backplane::stats().lag_samples >= PEER_SENDS
    });

    let seen = scrape(&snapshotter);
    let stats = backplane::stats();
    assert!(stats.published >= 1 && stats.subscriptions == 1);
    for (name, expected) in counters(&stats) {
        assert_eq!(value(&seen, name), &DebugValue::Counter(expected), "{name}");
    }
    assert_eq!(
        value(&seen, "cache_backplane_healthy"),
        &DebugValue::Gauge(1.0.into())
    );
    assert_eq!(stats.lag_samples, PEER_SENDS);
    match value(&seen, "cache_backplane_propagation_lag_seconds") {
        DebugValue::Histogram(lags) => {
            assert_eq!(lags.len() as u64, stats.lag_samples);
            // On loopback, well under a second each (clock skew: none, one machine).
            assert!(lags.iter().all(|lag| lag.into_inner() < 1.0), "{lags:?}");
        }
        other => panic!("{other:?}"),
    }
    // The family is process-wide: no labels at all.
    assert!(seen.iter().all(|(_, labels, _)| *labels == 0), "{seen:?}");

    // A cache with a shared tier: its events counted by event, as `tier_stats()` counts them.
    let tiered: TtlCache<String, u32, u32> = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .name("metrics-backplane::tiered")
        .shared_tier(SharedTier::new())
        .build()
        .unwrap();
    runtime.block_on(async {
        backplane::attach(&tiered).expect("attached");
        for user in ["t1", "t2"] {
            tiered.get_with(user, &1, || async { 1 }).await;
        }
    });
    wait_for("the tier's writes", || {
        tiered.tier_stats().is_some_and(|t| t.writes == 2)
    });
    let tier = tiered.tier_stats().expect("a tier");
    assert_eq!((tier.misses, tier.writes), (2, 2), "{tier:?}");
    let events = tier_events(&snapshotter, "metrics-backplane::tiered");
    for (event, expected) in [
        ("hit", tier.hits),
        ("stale", tier.stale),
        ("miss", tier.misses),
        ("waited", tier.waited),
        ("waited_out", tier.waited_out),
        ("skipped", tier.skipped),
        ("unavailable", tier.unavailable),
        ("undecodable", tier.undecodable),
        ("too_large", tier.too_large),
        ("write", tier.writes),
        ("write_refused", tier.writes_refused),
        ("write_error", tier.write_errors),
    ] {
        assert_eq!(
            events.iter().find(|(e, _)| e == event).map(|(_, v)| *v),
            Some(expected),
            "{event}: {events:?}"
        );
    }
    assert_eq!(events.len(), 12, "{events:?}");
    // A cache without one reports no tier events.
    assert!(tier_events(&snapshotter, CACHE).is_empty());

    // Redis gone: the heartbeat is overdue, the caches are fenced, and the gauges say so.
    drop(redis);
    wait_for("the outage to be noticed", || {
        backplane::health() == Health::Down
    });
    std::thread::sleep(Duration::from_millis(200));
    let seen = scrape(&snapshotter);
    let stats = backplane::stats();
    assert_eq!(
        value(&seen, "cache_backplane_healthy"),
        &DebugValue::Gauge(0.0.into())
    );
    assert_eq!(
        value(&seen, "cache_backplane_outages_total"),
        &DebugValue::Counter(stats.outages)
    );
    assert_eq!(stats.outages, 1);
    match value(&seen, "cache_backplane_fenced_seconds") {
        DebugValue::Gauge(seconds) => assert!(
            seconds.into_inner() >= 0.2,
            "fenced for at least the 200 ms slept: {seconds}"
        ),
        other => panic!("{other:?}"),
    }
}

//! Memory under churn, on multi-thread runtimes with real time, through the public API only.
//!
//! Values carry a drop-counting guard, so "alive" counts every value that exists: stored, in a
//! caller's hands, or removed from the cache but not yet dropped. The contract:
//!
//! - at every moment, values alive exceed `capacity` by at most a small constant;
//! - once `purge_expired`, `invalidate_group`, `invalidate` or `clear` returned, the values they
//!   removed are dropped: with nobody holding a value, alive == `len()` right away, with no
//!   sleep and no further traffic to help a reclaimer along;
//! - an invalidation takes effect at the call, awaited or not: `drop(cache.invalidate_group(..))`,
//!   `let _ = invalidate_fn(..)`, `let _ = cache.clear()` make old values unreadable, and a fetch
//!   in flight from before is neither stored nor joined by a later call.
//!
//! The tests take turns (a process-wide lock): each builds a runtime of its own, and a reclaimer
//! shared by the process would otherwise see the other tests' threads.

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cache_core::{ttl_cached, TtlCache};
use tokio::sync::Notify;
use tokio::time::{sleep, timeout};
use ttl_cached_tests::Live;

const CAPACITY: usize = 1_000;
const TTL: Duration = Duration::from_millis(50);
const UNIQUE_KEYS: u64 = 50_000;
const CHURNERS: u64 = 2;
/// Calls per task between two short pauses.
const PAUSE_EVERY: u64 = 500;
/// Values alive beyond the capacity that the bound allows: a few per concurrent task (the value
/// it fetched, the cache's copy, an evicted victim not yet dropped, the one it was handed).
const SLACK: i64 = 8 * CHURNERS as i64;

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `test` on a fresh 2-worker runtime, failing (not hanging) if it takes over two minutes.
fn run<F: std::future::Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            timeout(Duration::from_secs(120), test)
                .await
                .expect("the test hung: still running after 120 s");
        });
}

/// A cached value that counts itself alive.
#[derive(Debug, Clone)]
struct Blob {
    key: u64,
    _live: Live,
}

impl Blob {
    fn new(key: u64, live: &'static AtomicI64) -> Self {
        Self {
            key,
            _live: Live::new(live),
        }
    }
}

fn alive(counter: &AtomicI64) -> usize {
    usize::try_from(counter.load(SeqCst)).expect("never negative")
}

/// The highest count of live values seen, and in how many samples it broke the bound.
#[derive(Debug, Default)]
struct Peak {
    max: i64,
    over: u64,
    samples: u64,
}

/// Drives `CHURNERS` tasks through `UNIQUE_KEYS` distinct keys with `get`, sampling the live
/// count after every call and from a sampler task.
async fn churn<F, Fut>(live: &'static AtomicI64, bound: i64, get: F) -> Peak
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Blob> + Send,
{
    let peak = Arc::new(Mutex::new(Peak::default()));
    let sample = {
        let peak = peak.clone();
        move || {
            let now = live.load(SeqCst);
            let mut p = peak.lock().unwrap();
            p.samples += 1;
            p.max = p.max.max(now);
            p.over += u64::from(now > bound);
        }
    };
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (sample, done) = (sample.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(SeqCst) {
                sample();
                sleep(Duration::from_micros(200)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for t in 0..CHURNERS {
        let (get, sample) = (get.clone(), sample.clone());
        tasks.push(tokio::spawn(async move {
            let mut key = t;
            while key < UNIQUE_KEYS {
                let blob = get(key).await;
                assert_eq!(blob.key, key, "a value of another key");
                drop(blob);
                sample();
                key += CHURNERS;
                if (key / CHURNERS).is_multiple_of(PAUSE_EVERY) {
                    // Bursty traffic, as in a service: workers go idle and tasks move between
                    // threads.
                    sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    for task in tasks {
        timeout(Duration::from_secs(120), task)
            .await
            .expect("a churning task hung")
            .expect("a churning task panicked");
    }
    done.store(true, SeqCst);
    sampler.await.unwrap();
    sample();
    let result = std::mem::take(&mut *peak.lock().unwrap());
    result
}

fn bound() -> i64 {
    i64::try_from(CAPACITY).unwrap() + SLACK
}

#[test]
fn churn_keeps_live_values_near_capacity_and_purge_drops_the_expired() {
    static LIVE: AtomicI64 = AtomicI64::new(0);
    let _serial = serial();
    run(async {
        let cache: Arc<TtlCache<u32, u64, Blob>> = Arc::new(
            TtlCache::builder()
                .ttl(TTL)
                .capacity(CAPACITY)
                .build()
                .unwrap(),
        );
        let peak = {
            let cache = cache.clone();
            churn(&LIVE, bound(), move |key| {
                let cache = cache.clone();
                async move {
                    let group = u32::try_from(key % 16).unwrap();
                    cache
                        .get_with(&group, &key, || async move { Blob::new(key, &LIVE) })
                        .await
                }
            })
            .await
        };
        let mut failures = Vec::new();
        if peak.over > 0 {
            failures.push(format!(
                "values alive exceeded capacity {CAPACITY} + {SLACK} in {} of {} samples, up to {}",
                peak.over, peak.samples, peak.max
            ));
        }
        assert!(cache.len() <= CAPACITY);
        sleep(TTL + Duration::from_millis(20)).await; // every entry expired
        let purged = cache.purge_expired().await;
        let (now, len) = (alive(&LIVE), cache.len());
        if now != len {
            failures.push(format!(
                "right after purge_expired() returned (removed {purged}), {now} values alive for \
                 len() {len}"
            ));
        }
        eprintln!(
            "churn: max alive {} (bound {}), {} samples over; after purge_expired: alive {now}, len {len}",
            peak.max,
            bound(),
            peak.over
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

#[test]
fn values_removed_by_an_invalidation_are_dropped_when_it_returns() {
    static LIVE: AtomicI64 = AtomicI64::new(0);
    let _serial = serial();
    run(async {
        let cache: Arc<TtlCache<u32, u64, Blob>> = Arc::new(
            TtlCache::builder()
                .ttl(Duration::from_secs(60))
                .capacity(10_000)
                .build()
                .unwrap(),
        );
        // Filled from several tasks, so every worker thread touches the cache.
        let mut fills = Vec::new();
        for t in 0..4u64 {
            let cache = cache.clone();
            fills.push(tokio::spawn(async move {
                for n in 0..500 {
                    let key = t * 1_000 + n;
                    for group in [0, 1, 2] {
                        cache
                            .get_with(&group, &key, || async move { Blob::new(key, &LIVE) })
                            .await;
                    }
                }
            }));
        }
        for fill in fills {
            fill.await.unwrap();
        }
        assert_eq!(cache.len(), 6_000);
        assert_eq!(alive(&LIVE), 6_000);

        let mut failures = Vec::new();
        let mut check = |what: &str| {
            let (now, len) = (alive(&LIVE), cache.len());
            eprintln!("after {what}: alive {now}, len {len}");
            if now != len {
                failures.push(format!(
                    "right after {what} returned: {now} values alive for len() {len} ({} removed \
                     but not dropped)",
                    now.saturating_sub(len)
                ));
            }
        };
        assert_eq!(cache.invalidate_group(&0).await, 2_000);
        check("invalidate_group");
        for key in 0..200 {
            assert!(cache.invalidate(&1, &key).await);
        }
        check("200 x invalidate");
        assert_eq!(cache.clear().await, 3_800);
        check("clear");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

static CHURN_LIVE: AtomicI64 = AtomicI64::new(0);
static HELD_LIVE: AtomicI64 = AtomicI64::new(0);

#[ttl_cached(ttl = "50ms", capacity = 1_000, key = "<user>:<n>", group = "<user>")]
async fn churned(user: u32, n: u64) -> Blob {
    let _ = user;
    Blob::new(n, &CHURN_LIVE)
}

#[ttl_cached(ttl = 60, capacity = 10_000, key = "<user>:<n>", group = "<user>")]
async fn held(user: u32, n: u64) -> Blob {
    let _ = user;
    Blob::new(n, &HELD_LIVE)
}

#[test]
fn the_same_through_a_ttl_cached_function_and_its_companions() {
    let _serial = serial();
    run(async {
        let mut failures = Vec::new();
        let peak = churn(&CHURN_LIVE, bound(), |key| async move {
            churned(u32::try_from(key % 16).unwrap(), key).await
        })
        .await;
        if peak.over > 0 {
            failures.push(format!(
                "churned(): values alive exceeded capacity {CAPACITY} + {SLACK} in {} of {} \
                 samples, up to {}",
                peak.over, peak.samples, peak.max
            ));
        }
        sleep(TTL + Duration::from_millis(20)).await;
        churned_cache().purge_expired().await;
        let (now, len) = (alive(&CHURN_LIVE), churned_cache().len());
        eprintln!(
            "churned(): max alive {}; after purge_expired: alive {now}, len {len}",
            peak.max
        );
        if now != len {
            failures.push(format!(
                "churned(): right after purge_expired() returned, {now} values alive for len() {len}"
            ));
        }

        let mut fills = Vec::new();
        for t in 0..4u64 {
            fills.push(tokio::spawn(async move {
                for n in 0..500 {
                    for user in [0, 1] {
                        held(user, t * 1_000 + n).await;
                    }
                }
            }));
        }
        for fill in fills {
            fill.await.unwrap();
        }
        assert_eq!(held_cache().len(), 4_000);
        let mut check = |what: &str| {
            let (now, len) = (alive(&HELD_LIVE), held_cache().len());
            eprintln!("held(): after {what}: alive {now}, len {len}");
            if now != len {
                failures.push(format!(
                    "held(): right after {what} returned: {now} values alive for len() {len}"
                ));
            }
        };
        assert_eq!(invalidate_held(0).await, 2_000);
        check("invalidate_held");
        assert_eq!(held_cache().clear().await, 2_000);
        check("held_cache().clear()");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

// ---- invalidations that are not awaited --------------------------------------------------

/// A fetch the test holds in flight: it says when it started and returns when the test opens it.
#[derive(Debug, Clone, Default)]
struct Gate {
    started: Arc<Notify>,
    open: Arc<Notify>,
}

impl Gate {
    async fn pass(&self) {
        self.started.notify_one();
        self.open.notified().await;
    }
}

/// What the gated functions return: which fetch made it.
type Tag = u64;
const OLD: Tag = 1;
const NEW: Tag = 2;

#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>", ignore = [gate])]
async fn gated(user: &str, folder: u32, gate: Option<Gate>) -> Tag {
    let _ = (user, folder);
    match gate {
        Some(gate) => {
            gate.pass().await;
            OLD
        }
        None => NEW,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unawaited {
    Group,
    Key,
    Clear,
    FnGroup,
    FnClear,
}

type Plain = TtlCache<String, u32, Tag>;

/// Calls the invalidation without awaiting it.
fn invalidate_unawaited(cache: &Plain, how: Unawaited) {
    match how {
        Unawaited::Group => drop(cache.invalidate_group("u1")),
        Unawaited::Key => drop(cache.invalidate("u1", &0)),
        Unawaited::Clear => {
            #[allow(clippy::let_underscore_future)] // the point: not awaited
            let _ = cache.clear();
        }
        Unawaited::FnGroup => {
            #[allow(clippy::let_underscore_future)]
            let _ = invalidate_gated("u1");
        }
        Unawaited::FnClear => {
            #[allow(clippy::let_underscore_future)]
            let _ = gated_cache().clear();
        }
    }
}

/// What a call starting now is served for the key, without leaving a value from before in place:
/// `get` on a `TtlCache`; for the function (which has no `get`), a call whose own fetch returns
/// `NEW`.
async fn served(cache: &Plain, how: Unawaited) -> Option<Tag> {
    match how {
        Unawaited::Group | Unawaited::Key | Unawaited::Clear => cache.get("u1", &0),
        Unawaited::FnGroup | Unawaited::FnClear => {
            timeout(Duration::from_secs(2), gated("u1", 0, None))
                .await
                .ok()
        }
    }
}

async fn call(cache: &Arc<Plain>, how: Unawaited, gate: Option<Gate>) -> Tag {
    match how {
        Unawaited::Group | Unawaited::Key | Unawaited::Clear => {
            cache.get_with("u1", &0, || gated_fetch(gate)).await
        }
        Unawaited::FnGroup | Unawaited::FnClear => gated("u1", 0, gate).await,
    }
}

async fn gated_fetch(gate: Option<Gate>) -> Tag {
    match gate {
        Some(gate) => {
            gate.pass().await;
            OLD
        }
        None => NEW,
    }
}

/// One scenario: a stored old value, and an old fetch in flight, then an unawaited invalidation.
/// Returns what went wrong.
async fn unawaited_scenario(how: Unawaited) -> Vec<String> {
    let mut failures = Vec::new();
    let cache: Arc<Plain> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let _ = gated_cache().clear().await;

    // 1. A stored value from before becomes unreadable at the call.
    let stored = match how {
        Unawaited::Group | Unawaited::Key | Unawaited::Clear => {
            cache.get_with("u1", &0, || async { OLD }).await
        }
        Unawaited::FnGroup | Unawaited::FnClear => {
            let gate = Gate::default();
            gate.open.notify_one(); // passes at once
            gated("u1", 0, Some(gate)).await
        }
    };
    assert_eq!(stored, OLD);
    invalidate_unawaited(&cache, how);
    if served(&cache, how).await == Some(OLD) {
        failures.push(format!(
            "{how:?}: the value stored before the unawaited invalidation is still served"
        ));
    }
    // Start over from an empty key.
    let _ = cache.clear().await;
    let _ = gated_cache().clear().await;

    // 2. A fetch in flight from before is neither joined nor stored.
    let gate = Gate::default();
    let old = {
        let (cache, gate) = (cache.clone(), gate.clone());
        tokio::spawn(async move { call(&cache, how, Some(gate)).await })
    };
    timeout(Duration::from_secs(10), gate.started.notified())
        .await
        .expect("the old fetch started");
    invalidate_unawaited(&cache, how);
    let later = {
        let cache = cache.clone();
        tokio::spawn(async move { call(&cache, how, None).await })
    };
    match timeout(Duration::from_secs(1), later).await {
        Ok(Ok(tag)) => {
            if tag != NEW {
                failures.push(format!(
                    "{how:?}: a call after the unawaited invalidation got {tag}, not its own fetch"
                ));
            }
        }
        Ok(Err(e)) => failures.push(format!("{how:?}: the later call failed: {e}")),
        Err(_) => failures.push(format!(
            "{how:?}: a call after the unawaited invalidation joined the fetch from before it \
             (still waiting on it after 1 s)"
        )),
    }
    gate.open.notify_one();
    let old = timeout(Duration::from_secs(10), old)
        .await
        .expect("the old call finished")
        .unwrap();
    assert_eq!(old, OLD, "the old call began before: it gets its own fetch");
    if served(&cache, how).await == Some(OLD) {
        failures.push(format!(
            "{how:?}: the fetch from before the unawaited invalidation was stored and served"
        ));
    }
    failures
}

#[test]
fn an_invalidation_that_is_not_awaited_still_invalidates() {
    let _serial = serial();
    run(async {
        let mut failures = Vec::new();
        for how in [
            Unawaited::Group,
            Unawaited::Key,
            Unawaited::Clear,
            Unawaited::FnGroup,
            Unawaited::FnClear,
        ] {
            failures.extend(unawaited_scenario(how).await);
        }
        assert!(
            failures.is_empty(),
            "{} failure(s):\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
}

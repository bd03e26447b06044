//! When the upstream is in trouble, on the `TtlCache` API: the fail-safe throttle at each
//! boundary on tokio's paused clock (started by a failure, held until just before its end, one
//! probe at its end for any number of callers), retry hints, errors that are surfaced or revoke,
//! the back-off of failed background refreshes, and the races with invalidation, forced with
//! `Notify` gates: a throttled value invalidated is never served after the invalidation
//! returned, and a failure whose key was invalidated while it ran throttles nothing.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::{ErrorClass, TtlCache};
use tokio::time::advance;
use ttl_cached_tests::{settle, Gated};

type Cache = TtlCache<String, u32, String>;

const TTL: Duration = Duration::from_secs(60);
const SIE: Duration = Duration::from_secs(600);
const THROTTLE: Duration = Duration::from_secs(5);
const NANO: Duration = Duration::from_nanos(1);

/// The errors of these tests: an HTTP status, and a retry hint in seconds.
#[derive(Debug, Clone, PartialEq)]
struct Status(u16, Option<u64>);

/// A fetch past the fetch timeout fails with a 504.
impl From<cache_core::FetchTimedOut> for Status {
    fn from(_: cache_core::FetchTimedOut) -> Self {
        Status(504, None)
    }
}

fn classify(status: &Status) -> ErrorClass {
    match status {
        Status(401, _) => ErrorClass::Revoke,
        Status(404, _) => ErrorClass::Surface,
        Status(_, Some(secs)) => ErrorClass::RetryAfter(Duration::from_secs(*secs)),
        Status(..) => ErrorClass::Transient,
    }
}

fn cache(swr: Duration) -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .stale_while_revalidate(swr)
            .stale_if_error(SIE)
            .fail_safe_throttle(THROTTLE)
            .classify_errors(classify)
            .build()
            .unwrap(),
    )
}

/// A call (through `try_get_with_shared`, which the classifier applies to) whose fetch counts
/// its runs and returns `outcome`.
async fn call(
    cache: &Cache,
    group: &str,
    key: u32,
    outcome: Result<&'static str, Status>,
    runs: &Arc<AtomicUsize>,
) -> Result<String, Status> {
    let runs = runs.clone();
    cache
        .try_get_with_shared(group, &key, move || async move {
            runs.fetch_add(1, SeqCst);
            outcome.map(str::to_string)
        })
        .await
}

fn down() -> Result<&'static str, Status> {
    Err(Status(503, None))
}

/// Stored, then expired, then a failed fetch: the throttle starts now.
async fn throttled(cache: &Cache, runs: &Arc<AtomicUsize>) {
    assert_eq!(
        call(cache, "u", 1, Ok("old"), runs).await.as_deref(),
        Ok("old")
    );
    advance(TTL).await;
    assert_eq!(
        call(cache, "u", 1, down(), runs).await.as_deref(),
        Ok("old")
    );
    assert_eq!(runs.load(SeqCst), 2, "the failing fetch ran");
    assert_eq!(cache.stats().stale_on_error, 1);
}

/// The throttle's boundaries: from the failure until just before its end, calls get the
/// expired value and the upstream is not called (even one that would succeed); at its end, one
/// call probes, and its success is stored.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn throttle_boundaries() {
    let cache = cache(Duration::ZERO);
    let runs = Arc::new(AtomicUsize::new(0));
    throttled(&cache, &runs).await;

    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("old")
    );
    advance(THROTTLE - NANO).await;
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("old")
    );
    assert_eq!(
        runs.load(SeqCst),
        2,
        "the upstream was called while throttled"
    );
    assert_eq!(cache.stats().throttled, 2);

    advance(NANO).await; // the throttle's end: probe
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("new")
    );
    assert_eq!(runs.load(SeqCst), 3);
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
    assert_eq!(cache.stats().throttled, 2);
}

/// At the throttle's end, many callers at once: one probe (single-flight); it fails, they all
/// get the expired value, and the throttle starts again.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn one_probe_for_many_callers_and_a_failed_probe_throttles_again() {
    let cache = cache(Duration::ZERO);
    let runs = Arc::new(AtomicUsize::new(0));
    throttled(&cache, &runs).await;
    advance(THROTTLE).await;

    let probe = Arc::new(Gated::default());
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let (cache, probe) = (cache.clone(), probe.clone());
            tokio::spawn(async move {
                cache
                    .try_get_with_shared("u", &1, || async move {
                        probe.fail().await.map_err(|_| Status(503, None))
                    })
                    .await
            })
        })
        .collect();
    probe.started.notified().await;
    settle().await;
    probe.gate.notify_one();
    for caller in callers {
        assert_eq!(caller.await.unwrap().as_deref(), Ok("old"));
    }
    assert_eq!(probe.runs.load(SeqCst), 1, "more than one probe");
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("old")
    );
    assert_eq!(
        runs.load(SeqCst),
        2,
        "the failed probe did not throttle again"
    );
}

/// A retry hint longer than the throttle extends it to the hint: no call just before it, one
/// at it. A hint shorter than the throttle changes nothing.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_retry_hint_extends_the_throttle() {
    let cache = cache(Duration::ZERO);
    let runs = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        call(&cache, "u", 1, Ok("old"), &runs).await.as_deref(),
        Ok("old")
    );
    advance(TTL).await;
    let limited = Err(Status(429, Some(30)));
    assert_eq!(
        call(&cache, "u", 1, limited, &runs).await.as_deref(),
        Ok("old")
    );
    assert_eq!(cache.stats().retry_hints, 1);

    advance(Duration::from_secs(30) - NANO).await;
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("old")
    );
    assert_eq!(runs.load(SeqCst), 2, "called before the hint");
    advance(NANO).await;
    let short = Err(Status(429, Some(1)));
    assert_eq!(
        call(&cache, "u", 1, short, &runs).await.as_deref(),
        Ok("old")
    );
    assert_eq!(runs.load(SeqCst), 3, "not called at the hint");
    assert_eq!(
        cache.stats().retry_hints,
        1,
        "a hint shorter than the throttle counted"
    );
    advance(THROTTLE - NANO).await;
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("old")
    );
    advance(NANO).await;
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("new")
    );
    assert_eq!(runs.load(SeqCst), 4);
}

/// An error classified `Surface` is returned, never papered over, and throttles nothing.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_surfaced_error_is_returned_and_throttles_nothing() {
    let cache = cache(Duration::ZERO);
    let runs = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        call(&cache, "u", 1, Ok("old"), &runs).await.as_deref(),
        Ok("old")
    );
    advance(TTL).await;
    let gone = Err(Status(404, None));
    assert_eq!(
        call(&cache, "u", 1, gone.clone(), &runs).await,
        Err(Status(404, None))
    );
    assert_eq!(
        call(&cache, "u", 1, gone, &runs).await,
        Err(Status(404, None))
    );
    assert_eq!(runs.load(SeqCst), 3);
    let stats = cache.stats();
    assert_eq!((stats.stale_on_error, stats.throttled), (0, 0));
}

/// An error that revokes invalidates the key's group at once: the caller gets the error, and
/// no value of that group (the key's, its siblings', expired or live) is served afterwards;
/// other groups keep theirs.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_revoking_error_drops_the_group_and_nothing_of_it_is_served_stale() {
    let cache = cache(Duration::from_secs(30));
    let runs = Arc::new(AtomicUsize::new(0));
    for key in 1..=3 {
        call(&cache, "alice", key, Ok("alice's"), &runs)
            .await
            .unwrap();
    }
    call(&cache, "bob", 1, Ok("bob's"), &runs).await.unwrap();
    advance(TTL).await;
    call(&cache, "alice", 9, Ok("alice's, live"), &runs)
        .await
        .unwrap();

    let revoked = Err(Status(401, None));
    assert_eq!(
        call(&cache, "alice", 1, revoked, &runs).await,
        Err(Status(401, None))
    );
    assert_eq!(cache.stats().revoked, 1);
    assert_eq!(
        cache.get("alice", &9),
        None,
        "a live sibling survived the revocation"
    );
    for key in [1, 2, 3] {
        let got = cache
            .try_get_with_stale("alice", &key, || async {
                Err::<String, _>(Status(503, None))
            })
            .await;
        assert_eq!(
            got,
            Err(Status(503, None)),
            "alice's key {key} was served stale"
        );
    }
    let stats = cache.stats();
    assert_eq!(
        (stats.stale_served, stats.stale_on_error, stats.throttled),
        (0, 0, 0)
    );
    let bob = cache
        .try_get_with_stale("bob", &1, || async {
            Ok::<_, Status>("bob's, new".to_string())
        })
        .await;
    assert_eq!(
        bob.as_deref(),
        Ok("bob's"),
        "another group lost its stale value"
    );
}

/// Forced race: a key throttled, its group invalidated; a call that begins after the
/// invalidation returned calls the upstream, and never gets the throttled value.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_invalidation_during_a_throttle_ends_it() {
    for invalidate in ["group", "key", "clear"] {
        let cache = cache(Duration::ZERO);
        let runs = Arc::new(AtomicUsize::new(0));
        throttled(&cache, &runs).await;
        let removed = match invalidate {
            "group" => cache.invalidate_group("u").await,
            "key" => usize::from(cache.invalidate("u", &1).await),
            _ => cache.clear().await,
        };
        assert_eq!(
            removed, 1,
            "{invalidate}: the throttled value was not there"
        );
        assert_eq!(
            call(&cache, "u", 1, down(), &runs).await,
            Err(Status(503, None)),
            "the throttled value was served after a {invalidate} invalidation"
        );
        assert_eq!(
            runs.load(SeqCst),
            3,
            "{invalidate}: the upstream was not called"
        );
    }
}

/// Forced race: a failing fetch runs while its key is invalidated. It stands in nothing (the
/// value is gone) and throttles nothing: the next call calls the upstream.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failure_whose_key_was_invalidated_meanwhile_throttles_nothing() {
    let cache = cache(Duration::ZERO);
    let runs = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        call(&cache, "u", 1, Ok("old"), &runs).await.as_deref(),
        Ok("old")
    );
    advance(TTL).await;
    let failing = Arc::new(Gated::default());
    let leader = {
        let (cache, failing) = (cache.clone(), failing.clone());
        tokio::spawn(async move {
            cache
                .try_get_with_shared("u", &1, || async move {
                    failing.fail().await.map_err(|_| Status(503, None))
                })
                .await
        })
    };
    failing.started.notified().await;
    assert_eq!(cache.invalidate_group("u").await, 1);
    failing.gate.notify_one();
    assert_eq!(leader.await.unwrap(), Err(Status(503, None)));
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("new")
    );
    assert_eq!(cache.stats().throttled, 0);
}

/// A failed background refresh backs off: no other refresh of the key for the throttle, then
/// twice it after a second failure, capped by `refresh_backoff`; the stale value is served
/// meanwhile. A success ends it.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn failed_background_refreshes_back_off_doubling_up_to_the_cap() {
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .stale_while_revalidate(Duration::from_secs(600))
            .fail_safe_throttle(THROTTLE)
            .refresh_backoff(Duration::from_secs(12))
            .build()
            .unwrap(),
    );
    let runs = Arc::new(AtomicUsize::new(0));
    let stale = |outcome: Result<&'static str, String>| {
        let (cache, runs) = (cache.clone(), runs.clone());
        async move {
            let got = cache
                .try_get_with_stale("u", &1, move || async move {
                    runs.fetch_add(1, SeqCst);
                    outcome.map(str::to_string)
                })
                .await;
            settle().await;
            got
        }
    };
    let fail = || Err("503".to_string());
    cache.insert("u", &1, "old".to_string()).await;
    advance(TTL).await;
    // Back-offs: 5 s, 10 s, then 12 s (the cap) and 12 s again.
    for (failures, backoff) in [(1, 5), (2, 10), (3, 12), (4, 12)] {
        assert_eq!(stale(fail()).await.as_deref(), Ok("old"));
        assert_eq!(runs.load(SeqCst), failures);
        advance(Duration::from_secs(backoff) - NANO).await;
        assert_eq!(stale(Ok("new")).await.as_deref(), Ok("old"));
        assert_eq!(
            runs.load(SeqCst),
            failures,
            "refreshed during back-off {failures}"
        );
        advance(NANO).await;
    }
    assert_eq!(stale(Ok("new")).await.as_deref(), Ok("old"));
    assert_eq!(runs.load(SeqCst), 5);
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
    let stats = cache.stats();
    assert_eq!((stats.refreshes_failed, stats.throttled), (4, 4));
}

/// A failing background refresh that callers joined (a `try_get_with_shared` miss while it
/// runs): they receive the expired value from it, inside the stale-if-error window, instead of
/// each calling the upstream again after it: one upstream call for the whole stampede.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn callers_joining_a_failing_refresh_get_the_stale_value_without_calling_upstream() {
    let cache = cache(Duration::from_secs(30));
    let runs = Arc::new(AtomicUsize::new(0));
    call(&cache, "u", 1, Ok("old"), &runs).await.unwrap();
    advance(TTL).await;
    let refresh = Arc::new(Gated::default());
    let got = {
        let refresh = refresh.clone();
        cache
            .try_get_with_stale("u", &1, || async move {
                refresh.fail().await.map_err(|_| Status(503, None))
            })
            .await
    };
    assert_eq!(got.as_deref(), Ok("old"));
    refresh.started.notified().await;
    let joined: Vec<_> = (0..5)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move { call(&cache, "u", 1, Ok("new"), &runs).await })
        })
        .collect();
    settle().await;
    refresh.gate.notify_one();
    for caller in joined {
        assert_eq!(caller.await.unwrap().as_deref(), Ok("old"));
    }
    assert_eq!(
        runs.load(SeqCst),
        1,
        "a waiter called the upstream after the failed refresh"
    );
    assert_eq!(refresh.runs.load(SeqCst), 1);
    assert_eq!(cache.stats().coalesced, 5);
}

/// Forced race, the strictest reading: a call stopped inside the throttle, after it found the
/// key throttled and its value current (`HookPoint::Throttled`), while the key's group is
/// invalidated to the end; resumed, the call does not answer with the value it was about to
/// serve (it fetches), although it began before the invalidation returned. The call runs on a
/// thread of its own; the clock is the real one (a 50 ms TTL).
#[test]
fn a_call_stopped_in_the_throttle_while_its_group_is_invalidated_does_not_serve_it() {
    use cache_core::HookPoint::Throttled;
    let (pauses, hook) = ttl_cached_tests::SyncPauses::at(&[(Throttled, 1)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_millis(50))
            .stale_if_error(SIE)
            .fail_safe_throttle(Duration::from_secs(600))
            .classify_errors(classify)
            .__sync_hook(hook)
            .build()
            .unwrap(),
    );
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let runs = Arc::new(AtomicUsize::new(0));
    runtime().block_on(async {
        assert_eq!(
            call(&cache, "u", 1, Ok("old"), &runs).await.as_deref(),
            Ok("old")
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            call(&cache, "u", 1, down(), &runs).await.as_deref(),
            Ok("old")
        );
        // Throttled once (arrival 0 at the hook), served without a call.
        assert_eq!(
            call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
            Ok("old")
        );
    });
    assert_eq!(runs.load(SeqCst), 2);
    let stopped = {
        let (cache, runs) = (cache.clone(), runs.clone());
        std::thread::spawn(move || {
            runtime().block_on(async move { call(&cache, "u", 1, down(), &runs).await })
        })
    };
    pauses.wait_reached(0);
    assert_eq!(cache.invalidate_group("u").count(), 1);
    pauses.resume(0);
    assert_eq!(
        stopped.join().unwrap(),
        Err(Status(503, None)),
        "the throttled value was served after its group's invalidation returned"
    );
    assert_eq!(runs.load(SeqCst), 3, "the stopped call did not fetch");
}

/// Sets its flag when dropped: whether a hung fetch was abandoned.
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// A fetch that never answers (an hour), counting its runs; `dropped` is set when it is dropped.
fn hung(
    runs: &Arc<AtomicUsize>,
    dropped: &Arc<std::sync::atomic::AtomicBool>,
) -> impl std::future::Future<Output = Result<String, Status>> + Send + 'static {
    let (runs, flag) = (runs.clone(), DropFlag(dropped.clone()));
    async move {
        runs.fetch_add(1, SeqCst);
        let _flag = flag;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok("late".to_string())
    }
}

fn timing_out() -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .stale_if_error(SIE)
            .fail_safe_throttle(THROTTLE)
            .classify_errors(classify)
            .fetch_timeout::<Status>(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
}

/// The hard timeout's boundary: a hung fetch of a key with nothing to stand in is still awaited
/// 1 ns before the timeout; at it, the caller gets the typed error (`From<FetchTimedOut>`) and
/// the fetch is dropped.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_fetch_past_the_timeout_is_dropped_and_its_caller_gets_the_error() {
    let cache = timing_out();
    let (runs, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::default());
    let caller = {
        let fetch = hung(&runs, &dropped);
        let cache = cache.clone();
        tokio::spawn(async move { cache.try_get_with_shared("u", &1, || fetch).await })
    };
    settle().await;
    advance(Duration::from_secs(10) - NANO).await;
    settle().await;
    assert!(!caller.is_finished(), "answered before the timeout");
    assert!(!dropped.load(SeqCst));
    advance(NANO).await;
    assert_eq!(caller.await.unwrap(), Err(Status(504, None)));
    assert!(dropped.load(SeqCst), "the timed-out fetch was not dropped");
    assert_eq!((runs.load(SeqCst), cache.stats().timeouts), (1, 1));
    assert!(cache.is_empty());
}

/// A timeout is a failure like any other: inside the stale-if-error window the expired value
/// stands in for it, and the key is throttled afterwards.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_timed_out_fetch_with_a_stale_value_is_papered_over_and_throttles() {
    let cache = timing_out();
    let runs = Arc::new(AtomicUsize::new(0));
    call(&cache, "u", 1, Ok("old"), &runs).await.unwrap();
    advance(TTL).await;
    let dropped = Arc::default();
    let caller = {
        let fetch = hung(&runs, &dropped);
        let cache = cache.clone();
        tokio::spawn(async move { cache.try_get_with_shared("u", &1, || fetch).await })
    };
    settle().await;
    advance(Duration::from_secs(10)).await;
    assert_eq!(caller.await.unwrap().as_deref(), Ok("old"));
    assert!(dropped.load(SeqCst));
    assert_eq!(
        call(&cache, "u", 1, Ok("new"), &runs).await.as_deref(),
        Ok("old")
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.timeouts, stats.stale_on_error, stats.throttled),
        (1, 1, 1)
    );
    assert_eq!(
        runs.load(SeqCst),
        2,
        "the upstream was called while throttled"
    );
}

fn soft() -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .stale_if_error(SIE)
            .soft_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
    )
}

/// A stale-verb call that fetches a key whose value expired (inside the stale-if-error window)
/// through a gated fetch.
fn slow_call(
    cache: &Arc<Cache>,
    gate: &Arc<Gated>,
) -> tokio::task::JoinHandle<Result<String, Status>> {
    let (cache, gate) = (cache.clone(), gate.clone());
    tokio::spawn(async move {
        cache
            .try_get_with_stale("u", &1, || async move { Ok(gate.run("new").await) })
            .await
    })
}

/// The soft timeout's boundary: the caller still waits for its fetch 1 ns before it, and gets
/// the expired value at it; the fetch goes on in the background and its value is stored when it
/// ends. A fetch that ends before the soft timeout answers its caller itself.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn soft_timeout_boundaries() {
    let cache = soft();
    let runs = Arc::new(AtomicUsize::new(0));
    call(&cache, "u", 1, Ok("old"), &runs).await.unwrap();
    advance(TTL).await;
    let gate = Arc::new(Gated::default());
    let caller = slow_call(&cache, &gate);
    gate.started.notified().await;
    advance(Duration::from_secs(1) - NANO).await;
    settle().await;
    assert!(!caller.is_finished(), "answered before the soft timeout");
    advance(NANO).await;
    let answered = tokio::time::timeout(Duration::from_secs(3600), caller).await;
    let answered = answered.expect("not answered at the soft timeout").unwrap();
    assert_eq!(answered.as_deref(), Ok("old"));
    assert_eq!(cache.stats().soft_timeouts, 1);
    assert_eq!(cache.get("u", &1), None, "stored before the fetch ended");
    gate.gate.notify_one();
    settle().await;
    assert_eq!(
        cache.get("u", &1).as_deref(),
        Some("new"),
        "the fetch was not finished"
    );
    assert_eq!(gate.runs.load(SeqCst), 1);

    // Before the soft timeout: the fetch's own value.
    advance(TTL).await;
    let caller = slow_call(&cache, &gate);
    gate.started.notified().await;
    advance(Duration::from_secs(1) - NANO).await;
    gate.gate.notify_one();
    assert_eq!(caller.await.unwrap().as_deref(), Ok("new"));
    assert_eq!(cache.stats().soft_timeouts, 1);
}

/// Forced race: past the soft timeout, the fetch goes on in the background while the key's
/// group is invalidated: its value is not stored, and nothing old is served after.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_fetch_gone_on_past_the_soft_timeout_is_not_stored_after_an_invalidation() {
    let cache = soft();
    let runs = Arc::new(AtomicUsize::new(0));
    call(&cache, "u", 1, Ok("old"), &runs).await.unwrap();
    advance(TTL).await;
    let gate = Arc::new(Gated::default());
    let caller = slow_call(&cache, &gate);
    gate.started.notified().await;
    advance(Duration::from_secs(1)).await;
    let answered = tokio::time::timeout(Duration::from_secs(3600), caller).await;
    let answered = answered.expect("not answered at the soft timeout").unwrap();
    assert_eq!(answered.as_deref(), Ok("old"));
    assert_eq!(cache.invalidate_group("u").await, 1);
    gate.gate.notify_one();
    settle().await;
    assert!(
        cache.is_empty(),
        "the fetch that began before the invalidation was stored"
    );
    assert_eq!(
        call(&cache, "u", 1, down(), &runs).await,
        Err(Status(503, None))
    );
}

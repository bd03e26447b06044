//! Serving stale on the `TtlCache` API: every window boundary on tokio's paused clock (just
//! before / at the TTL, just before / at the end of each window), single-flight of the
//! background refresh, and the races with each kind of invalidation, forced with `Notify`
//! gates: a refresh in flight when its key, group or cache is invalidated, and a stale-on-error
//! fallback whose value was invalidated while the failing fetch ran.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::TtlCache;
use tokio::time::advance;
use ttl_cached_tests::{settle, Gated};

type Cache = TtlCache<String, u32, String>;

const TTL: Duration = Duration::from_secs(60);
const SWR: Duration = Duration::from_secs(30);
const SIE: Duration = Duration::from_secs(120);
const NANO: Duration = Duration::from_nanos(1);

fn cache(swr: Duration, sie: Duration) -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .stale_while_revalidate(swr)
            .stale_if_error(sie)
            .build()
            .unwrap(),
    )
}

async fn store(cache: &Arc<Cache>, key: u32, value: &'static str) {
    let got = cache
        .get_with("u", &key, || async move { value.to_string() })
        .await;
    assert_eq!(got, value);
}

/// A stale call whose fetch returns `value` and counts its runs in `runs`.
async fn get_stale(
    cache: &Arc<Cache>,
    key: u32,
    value: &'static str,
    runs: &Arc<AtomicUsize>,
) -> String {
    let runs = runs.clone();
    cache
        .get_with_stale("u", &key, move || async move {
            runs.fetch_add(1, SeqCst);
            value.to_string()
        })
        .await
}

/// Stale-while-revalidate at each boundary, one key per boundary (all stored together):
/// before the TTL a hit (no fetch); at the TTL and just before the window's end the expired
/// value at once, with a background refresh that then stores the new one; at the window's end
/// an inline fetch, as without a window.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stale_while_revalidate_boundaries() {
    let cache = cache(SWR, Duration::ZERO);
    for key in 1..=4 {
        store(&cache, key, "old").await;
    }
    let runs = Arc::new(AtomicUsize::new(0));

    advance(TTL - NANO).await;
    assert_eq!(get_stale(&cache, 1, "new", &runs).await, "old");
    settle().await;
    assert_eq!(runs.load(SeqCst), 0, "a live value was refreshed");
    assert_eq!(cache.stats().stale_served, 0);

    advance(NANO).await; // exactly the TTL: expired
    assert_eq!(get_stale(&cache, 2, "new", &runs).await, "old");
    assert_eq!(cache.stats().stale_served, 1);
    assert_eq!(cache.stats().refreshes_started, 1);
    settle().await;
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(
        cache.get("u", &2).as_deref(),
        Some("new"),
        "the refresh was not stored"
    );

    advance(SWR - NANO).await; // the last instant of the window
    assert_eq!(get_stale(&cache, 3, "new", &runs).await, "old");
    assert_eq!(cache.stats().stale_served, 2);
    settle().await;
    assert_eq!(runs.load(SeqCst), 2);
    assert_eq!(cache.get("u", &3).as_deref(), Some("new"));

    advance(NANO).await; // the window is over: fetched inline
    assert_eq!(get_stale(&cache, 4, "new", &runs).await, "new");
    assert_eq!(runs.load(SeqCst), 3);
    let stats = cache.stats();
    assert_eq!((stats.stale_served, stats.refreshes_started), (2, 2));
    assert_eq!((stats.refreshes_failed, stats.refreshes_in_flight), (0, 0));
}

/// Stale-if-error at each boundary, on the plain `try_get_with`: before the TTL a hit; from the
/// TTL to the window's last instant a failed fetch answers with the expired value (counted, not
/// stored); at the window's end the error.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stale_if_error_boundaries() {
    let cache = cache(Duration::ZERO, SIE);
    store(&cache, 1, "old").await;
    let runs = Arc::new(AtomicUsize::new(0));
    let failing = || {
        let runs = runs.clone();
        move || async move {
            runs.fetch_add(1, SeqCst);
            Err::<String, _>("upstream down")
        }
    };

    advance(TTL - NANO).await;
    assert_eq!(
        cache.try_get_with("u", &1, failing()).await.as_deref(),
        Ok("old")
    );
    assert_eq!(runs.load(SeqCst), 0, "a live value was fetched");

    advance(NANO).await;
    assert_eq!(
        cache.try_get_with("u", &1, failing()).await.as_deref(),
        Ok("old")
    );
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(cache.stats().stale_on_error, 1);
    assert_eq!(cache.get("u", &1), None, "the stale value was stored again");

    advance(SIE - NANO).await;
    // Sweeps and purges keep the entry for its window.
    assert_eq!(cache.purge_expired().await, 0);
    assert_eq!(cache.len(), 1);
    assert_eq!(
        cache.try_get_with("u", &1, failing()).await.as_deref(),
        Ok("old")
    );
    assert_eq!(cache.stats().stale_on_error, 2);

    advance(NANO).await;
    assert_eq!(cache.purge_expired().await, 1, "kept past its window");
    assert!(cache.is_empty());
    assert_eq!(
        cache.try_get_with("u", &1, failing()).await,
        Err("upstream down")
    );
    assert_eq!(cache.stats().stale_on_error, 2);
    assert_eq!(runs.load(SeqCst), 3);
}

/// A fetch that panics inside the stale-if-error window answers with the expired value; past
/// the window the panic reaches the caller as before.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_fetch_inside_the_window_answers_stale_and_panics_past_it() {
    let cache = cache(Duration::ZERO, SIE);
    store(&cache, 1, "old").await;
    advance(TTL + SIE - NANO).await;
    let got = cache
        .get_with("u", &1, || async { panic!("fetch panicked") })
        .await;
    assert_eq!(got, "old");
    assert_eq!(cache.stats().stale_on_error, 1);

    advance(NANO).await;
    let past = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async { panic!("fetch panicked") })
                .await
        })
    };
    assert!(past.await.unwrap_err().is_panic());
    // The flight was abandoned, not left behind: the next call fetches.
    assert_eq!(
        cache
            .get_with("u", &1, || async { "new".to_string() })
            .await,
        "new"
    );
}

/// Both windows on one cache: the stale-while-revalidate window serves at once; past it and
/// inside the longer stale-if-error window, an inline fetch that fails answers stale.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn past_the_revalidate_window_a_failing_inline_fetch_still_answers_stale() {
    let cache = cache(SWR, SIE);
    store(&cache, 1, "old").await;
    advance(TTL + SWR).await;
    let got = cache
        .try_get_with_stale("u", &1, || async { Err::<String, _>("down".to_string()) })
        .await;
    assert_eq!(got.as_deref(), Ok("old"));
    let stats = cache.stats();
    assert_eq!((stats.stale_served, stats.stale_on_error), (0, 1));
}

/// Many stale calls at once start one refresh; a caller without a window that misses meanwhile
/// joins it; the refresh is visible in the stats while it runs.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn one_background_refresh_per_key_shared_with_later_misses() {
    let cache = cache(SWR, Duration::ZERO);
    store(&cache, 1, "old").await;
    advance(TTL).await;
    let refresh = Arc::new(Gated::default());
    for _ in 0..5 {
        let refresh = refresh.clone();
        let got = cache
            .get_with_stale("u", &1, move || async move { refresh.run("new").await })
            .await;
        assert_eq!(got, "old");
    }
    refresh.started.notified().await;
    let stats = cache.stats();
    assert_eq!((stats.stale_served, stats.refreshes_started), (5, 1));
    assert_eq!(stats.refreshes_in_flight, 1);

    let joined = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async { "own".to_string() })
                .await
        })
    };
    settle().await;
    refresh.gate.notify_one();
    assert_eq!(
        joined.await.unwrap(),
        "new",
        "the plain miss did not join the refresh"
    );
    assert_eq!(refresh.runs.load(SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.refreshes_in_flight, stats.coalesced), (0, 1));
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
}

/// A background refresh that fails, or panics, is counted, stores nothing, leaves the stale
/// value served, and leaves no flight behind (the next stale call after the back-off, the
/// default 5 s throttle, starts another refresh; after the second failure, 10 s).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failing_or_panicking_refresh_is_counted_and_the_stale_value_stays() {
    let cache = cache(SWR, Duration::ZERO);
    store(&cache, 1, "old").await;
    advance(TTL).await;
    let got = cache
        .try_get_with_stale("u", &1, || async { Err::<String, _>("429".to_string()) })
        .await;
    assert_eq!(got.as_deref(), Ok("old"));
    settle().await;
    assert_eq!(cache.stats().refreshes_failed, 1);

    advance(Duration::from_secs(5)).await;
    let got = cache
        .get_with_stale("u", &1, || async { panic!("refresh panicked") })
        .await;
    assert_eq!(got, "old");
    settle().await;
    let stats = cache.stats();
    assert_eq!((stats.refreshes_started, stats.refreshes_failed), (2, 2));
    assert_eq!(stats.refreshes_in_flight, 0);
    assert_eq!(cache.__internal_sizes().2, 0, "a flight was left behind");
    advance(Duration::from_secs(10)).await;
    let runs = Arc::new(AtomicUsize::new(0));
    assert_eq!(get_stale(&cache, 1, "new", &runs).await, "old");
    settle().await;
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
}

/// `fetch` is called by the caller that leads the refresh, after it claimed the key's flight,
/// and may borrow from it: if the call panics, nothing is spawned, the flight is given up (no
/// flight left behind, counted out of `refreshes_in_flight`) and the next stale call refreshes.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_fetch_that_panics_when_called_gives_the_refresh_up() {
    use futures_util::FutureExt;
    let cache = cache(SWR, Duration::ZERO);
    store(&cache, 1, "old").await;
    advance(TTL).await;
    let borrowed = String::from("borrowed by the closure, not by its future");
    let panicked = std::panic::AssertUnwindSafe(cache.get_with_stale("u", &1, || {
        assert!(borrowed.is_empty(), "fetch panicked when called");
        async { String::new() }
    }))
    .catch_unwind()
    .await;
    assert!(panicked.is_err());
    let stats = cache.stats();
    assert_eq!((stats.refreshes_started, stats.refreshes_in_flight), (1, 0));
    assert_eq!(cache.__internal_sizes().2, 0, "a flight was left behind");
    let runs = Arc::new(AtomicUsize::new(0));
    assert_eq!(get_stale(&cache, 1, "new", &runs).await, "old");
    assert_eq!(cache.stats().refreshes_started, 2);
    settle().await;
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
}

/// The callers waiting on a fetch that fails inside the stale-if-error window receive the
/// stale value too (they do not retry against the failing upstream one after another).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn waiters_on_a_failed_fetch_receive_the_stale_value() {
    let cache = cache(Duration::ZERO, SIE);
    store(&cache, 1, "old").await;
    advance(TTL).await;
    let fetch = Arc::new(Gated::default());
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let (cache, fetch) = (cache.clone(), fetch.clone());
            tokio::spawn(async move {
                cache
                    .try_get_with("u", &1, move || async move { fetch.fail().await })
                    .await
            })
        })
        .collect();
    fetch.started.notified().await;
    settle().await;
    fetch.gate.notify_one();
    for call in calls {
        assert_eq!(call.await.unwrap().as_deref(), Ok("old"));
    }
    assert_eq!(fetch.runs.load(SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.stale_on_error, stats.coalesced), (1, 2));
}

/// How the races below invalidate the key's value.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Key,
    Group,
    Clear,
}

async fn invalidate(cache: &Cache, kind: Kind) {
    match kind {
        Kind::Key => assert!(cache.invalidate("u", &1).await),
        Kind::Group => assert_eq!(cache.invalidate_group("u").await, 1),
        Kind::Clear => assert_eq!(cache.clear().await, 1),
    }
}

/// A background refresh in flight when its key, group or cache is invalidated is not stored
/// (nothing else touches the key meanwhile: only the refresh's stamp can refuse it), and the
/// invalidated stale value is never served again: the next stale call fetches inline.
async fn refresh_in_flight_then(kind: Kind) {
    let cache = cache(SWR, SIE);
    store(&cache, 1, "old").await;
    advance(TTL).await;
    let refresh = Arc::new(Gated::default());
    let got = {
        let refresh = refresh.clone();
        cache
            .get_with_stale("u", &1, move || async move { refresh.run("before").await })
            .await
    };
    assert_eq!(got, "old");
    refresh.started.notified().await;
    assert_eq!(cache.stats().refreshes_in_flight, 1);

    invalidate(&cache, kind).await;
    refresh.gate.notify_one();
    settle().await;
    assert_eq!(refresh.runs.load(SeqCst), 1);
    assert_eq!(cache.stats().refreshes_in_flight, 0);
    assert_eq!(
        (cache.get("u", &1), cache.len()),
        (None, 0),
        "{kind:?}: the refresh that began before the invalidation was stored"
    );

    let runs = Arc::new(AtomicUsize::new(0));
    let after = get_stale(&cache, 1, "after", &runs).await;
    assert_eq!(
        after, "after",
        "{kind:?}: an invalidated value was served stale"
    );
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(cache.get("u", &1).as_deref(), Some("after"));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refresh_in_flight_when_its_key_is_invalidated_is_not_stored() {
    refresh_in_flight_then(Kind::Key).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refresh_in_flight_when_its_group_is_invalidated_is_not_stored() {
    refresh_in_flight_then(Kind::Group).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refresh_in_flight_when_the_cache_is_cleared_is_not_stored() {
    refresh_in_flight_then(Kind::Clear).await;
}

/// The stale value is read when the failing fetch ends: if its key, group or cache was
/// invalidated while the fetch ran, the caller gets the error, not the invalidated value.
async fn fallback_after(kind: Kind) {
    let cache = cache(Duration::ZERO, SIE);
    store(&cache, 1, "old").await;
    advance(TTL).await;
    let fetch = Arc::new(Gated::default());
    let call = {
        let (cache, fetch) = (cache.clone(), fetch.clone());
        tokio::spawn(async move {
            cache
                .try_get_with("u", &1, move || async move { fetch.fail().await })
                .await
        })
    };
    fetch.started.notified().await;
    invalidate(&cache, kind).await;
    fetch.gate.notify_one();
    assert_eq!(
        call.await.unwrap(),
        Err("upstream down".to_string()),
        "{kind:?}: an invalidated value stood in for a failed fetch"
    );
    assert_eq!(cache.stats().stale_on_error, 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_stale_on_error_fallback_after_a_key_invalidation() {
    fallback_after(Kind::Key).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_stale_on_error_fallback_after_a_group_invalidation() {
    fallback_after(Kind::Group).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_stale_on_error_fallback_after_a_clear() {
    fallback_after(Kind::Clear).await;
}

/// A value invalidated before a call began is not served stale, whether the window is for
/// revalidation or for errors.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_invalidated_value_is_not_kept_as_stale() {
    for kind in [Kind::Key, Kind::Group, Kind::Clear] {
        let cache = cache(SWR, SIE);
        store(&cache, 1, "old").await;
        advance(TTL).await;
        invalidate(&cache, kind).await;
        assert!(cache.is_empty(), "{kind:?}: kept after the invalidation");
        let got = cache
            .try_get_with_stale("u", &1, || async { Err::<String, _>("down".to_string()) })
            .await;
        assert_eq!(got, Err("down".to_string()), "{kind:?}");
    }
}

/// Entries inside a stale window still count against the capacity, and an expired entry is
/// evicted before a live one when the cache is full.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn expired_entries_in_a_window_go_first_under_pressure() {
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .stale_if_error(SIE)
            .capacity(2)
            .build()
            .unwrap(),
    );
    store(&cache, 1, "expired").await;
    advance(TTL).await;
    store(&cache, 2, "live").await;
    store(&cache, 3, "live").await;
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.get("u", &2).as_deref(), Some("live"));
    assert_eq!(cache.get("u", &3).as_deref(), Some("live"));
    let stats = cache.stats();
    assert_eq!((stats.evicted_expired, stats.evicted_capacity), (1, 0));
}

/// Without a tokio runtime to spawn on there is no background refresh: a stale call then
/// fetches inline. (Polled here outside any runtime, on the real clock.)
#[test]
fn without_a_tokio_runtime_a_stale_call_fetches_inline() {
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_millis(1))
            .stale_while_revalidate(Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    use futures_util::FutureExt as _;
    let first = cache.get_with("u", &1, || async { "old".to_string() });
    assert_eq!(first.now_or_never().as_deref(), Some("old"));
    std::thread::sleep(Duration::from_millis(5));
    let runs = Arc::new(AtomicUsize::new(0));
    let got = get_stale(&cache, 1, "new", &runs).now_or_never();
    assert_eq!(got.as_deref(), Some("new"));
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(cache.stats().refreshes_started, 0);
}

/// TTL jitter: values stored together expire spread over the window, never after the TTL.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn jitter_spreads_the_expiry_of_values_stored_together() {
    let cache: Cache = TtlCache::builder()
        .ttl(Duration::from_secs(100))
        .jitter(0.5)
        .build()
        .unwrap();
    for key in 0..64 {
        cache
            .get_with("u", &key, || async { "v".to_string() })
            .await;
    }
    let live = |cache: &Cache| (0..64).filter(|k| cache.get("u", k).is_some()).count();
    advance(Duration::from_secs(50) - NANO).await;
    assert_eq!(live(&cache), 64, "a TTL was cut by more than the jitter");
    advance(Duration::from_secs(25)).await;
    let halfway = live(&cache);
    assert!(
        0 < halfway && halfway < 64,
        "{halfway} of 64 live halfway through the window"
    );
    advance(Duration::from_secs(25)).await;
    assert_eq!(live(&cache), 0, "a TTL was lengthened");
    // Stored out of expiry order, they are still all found by a purge.
    assert_eq!(cache.purge_expired().await, 64);
}

mod with_the_macro {
    //! The attribute's `stale_if_error` and `jitter`, and the invalidation races through the
    //! generated companions and a scope.

    use super::{advance, settle, NANO, TTL};
    use cache_core::ttl_cached;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::LazyLock;
    use std::time::Duration;
    use tokio::sync::Notify;

    static FAIL: AtomicBool = AtomicBool::new(false);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[ttl_cached(ttl = 60, key = "<id>", stale_if_error = "2m")]
    async fn listing(id: u32) -> Result<String, String> {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if FAIL.load(SeqCst) {
            Err(format!("{id}: upstream down"))
        } else {
            Ok(format!("{id}: v{run}"))
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn stale_if_error_boundaries() {
        assert_eq!(listing(1).await.as_deref(), Ok("1: v1"));
        FAIL.store(true, SeqCst);
        advance(TTL - NANO).await;
        assert_eq!(listing(1).await.as_deref(), Ok("1: v1"));
        assert_eq!(RUNS.load(SeqCst), 1, "a live value was fetched");
        advance(NANO).await;
        assert_eq!(listing(1).await.as_deref(), Ok("1: v1"));
        assert_eq!(RUNS.load(SeqCst), 2);
        advance(Duration::from_secs(120) - NANO).await;
        assert_eq!(listing(1).await.as_deref(), Ok("1: v1"));
        assert_eq!(listing_cache().stats().stale_on_error, 2);
        advance(NANO).await;
        assert_eq!(listing(1).await, Err("1: upstream down".to_string()));
        assert_eq!(listing_cache().stats().stale_on_error, 2);
    }

    cache_core::scope! {
        /// Everything cached for one user, for the scope race.
        pub(crate) User(user: String);
    }

    static STARTED: LazyLock<Notify> = LazyLock::new(Notify::new);
    static GATE: LazyLock<Notify> = LazyLock::new(Notify::new);
    static GATED: AtomicBool = AtomicBool::new(false);

    #[ttl_cached(ttl = 60, key = "<user>:<id>", group = "<user>", scope = User, stale_if_error = "2m")]
    async fn gated(user: &str, id: u32) -> Result<String, String> {
        if GATED.load(SeqCst) {
            STARTED.notify_one();
            GATE.notified().await;
            Err("upstream down".to_string())
        } else {
            Ok(format!("{user}/{id}: old"))
        }
    }

    /// A stale-on-error fallback after each kind of invalidation, the scope's included: the
    /// failing fetch began before it, and ends after it returned.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn no_stale_on_error_fallback_after_any_invalidation() {
        for kind in ["key", "group", "scope", "clear"] {
            GATED.store(false, SeqCst);
            assert_eq!(gated(kind, 1).await, Ok(format!("{kind}/1: old")));
            advance(TTL).await;
            GATED.store(true, SeqCst);
            let call = tokio::spawn(async move { gated(kind, 1).await });
            STARTED.notified().await;
            match kind {
                "key" => assert!(invalidate_gated_key(kind, 1).await),
                "group" => assert_eq!(invalidate_gated(kind).await, 1),
                "scope" => assert_eq!(User::invalidate(kind).await, 1),
                _ => assert_eq!(gated_cache().clear().await, 1),
            }
            settle().await;
            GATE.notify_one();
            assert_eq!(
                call.await.unwrap(),
                Err("upstream down".to_string()),
                "{kind}: an invalidated value stood in for a failed fetch"
            );
        }
        assert_eq!(gated_cache().stats().stale_on_error, 0);
        // And without an invalidation, the same fetch failing does fall back.
        GATED.store(false, SeqCst);
        assert!(gated("none", 1).await.is_ok());
        advance(TTL).await;
        GATED.store(true, SeqCst);
        let call = tokio::spawn(async move { gated("none", 1).await });
        STARTED.notified().await;
        GATE.notify_one();
        assert_eq!(call.await.unwrap(), Ok("none/1: old".to_string()));
    }

    static JITTER_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[ttl_cached(ttl = 100, key = "<id>", jitter = "50%")]
    async fn jittered(id: u32) -> u32 {
        JITTER_RUNS.fetch_add(1, SeqCst);
        id
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn jitter_from_the_attribute() {
        for id in 0..64 {
            jittered(id).await;
        }
        assert_eq!(jittered_cache().len(), 64);
        advance(Duration::from_secs(75)).await;
        for id in 0..64 {
            jittered(id).await;
        }
        let refetched = JITTER_RUNS.load(SeqCst) - 64;
        assert!(
            0 < refetched && refetched < 64,
            "{refetched} of 64 expired at 75 %"
        );
    }
}

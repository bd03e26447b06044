//! `stale = ".."` on `#[ttl_cached]` functions: the window's boundaries on tokio's paused
//! clock, one background refresh per key for many concurrent stale calls, and the races of a
//! refresh in flight with every kind of invalidation (`invalidate_<fn>`, `invalidate_<fn>_key`,
//! a scope, `<fn>_cache().clear()`), forced with `Notify` gates; the refresh runs the body over
//! owned copies of borrowed parameters (`&str`, `&[T]`), with owned ones moved in, on free and
//! associated functions. Each test has functions of its own: their caches are global.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;
use std::time::Duration;

use cache_core::ttl_cached;
use tokio::sync::Notify;
use tokio::time::advance;
use ttl_cached_tests::settle;

const TTL: Duration = Duration::from_secs(60);
const SWR: Duration = Duration::from_secs(30);
const NANO: Duration = Duration::from_nanos(1);

/// Waits for a gated refresh to start, failing (not hanging) if none does: on the paused
/// clock, the timeout fires as soon as nothing else can run.
async fn started(notify: &Notify) {
    tokio::time::timeout(Duration::from_secs(3600), notify.notified())
        .await
        .expect("no refresh started");
}

/// Waits at a refresh's gate, failing (not hanging) if the test never opens it: a caller that
/// fetched inline, where it should have been answered stale, waits here with nobody to open.
async fn gate(notify: &Notify) {
    tokio::time::timeout(Duration::from_secs(3600), notify.notified())
        .await
        .expect("the gate never opened: a caller fetched inline");
}

static BOUNDARY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>:<id>", stale = "30s")]
async fn boundary(user: &str, id: u32) -> String {
    let run = BOUNDARY_RUNS.fetch_add(1, SeqCst) + 1;
    format!("{user}/{id}: v{run}")
}

/// One key per boundary, all stored together (runs 1 to 4): 1 ns before the TTL a hit; at the
/// TTL and at the window's last instant the expired value at once (the refresh has not run
/// when the call returns), one refresh started and in flight in the stats, and its value
/// stored and served afterwards; at the window's end the caller waits for its own fetch.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stale_boundaries() {
    for id in 1..=4 {
        assert_eq!(boundary("ann", id).await, format!("ann/{id}: v{id}"));
    }
    let stats = || boundary_cache().stats();

    advance(TTL - NANO).await;
    assert_eq!(boundary("ann", 1).await, "ann/1: v1");
    settle().await;
    assert_eq!(BOUNDARY_RUNS.load(SeqCst), 4, "a live value was refreshed");
    assert_eq!((stats().stale_served, stats().refreshes_started), (0, 0));

    advance(NANO).await; // exactly the TTL: expired, inside the window
    assert_eq!(boundary("ann", 2).await, "ann/2: v2");
    assert_eq!(
        BOUNDARY_RUNS.load(SeqCst),
        4,
        "the caller waited for the refresh"
    );
    assert_eq!((stats().stale_served, stats().refreshes_started), (1, 1));
    assert_eq!(stats().refreshes_in_flight, 1);
    settle().await;
    assert_eq!(BOUNDARY_RUNS.load(SeqCst), 5);
    assert_eq!(stats().refreshes_in_flight, 0);
    let hits = stats().hits;
    assert_eq!(
        boundary("ann", 2).await,
        "ann/2: v5",
        "the refresh was not stored"
    );
    assert_eq!(stats().hits, hits + 1);

    advance(SWR - NANO).await; // the last instant of the window
    assert_eq!(boundary("ann", 3).await, "ann/3: v3");
    assert_eq!((stats().stale_served, stats().refreshes_started), (2, 2));
    settle().await;
    assert_eq!(boundary("ann", 3).await, "ann/3: v6");

    advance(NANO).await; // the window is over: fetched inline
    assert_eq!(boundary("ann", 4).await, "ann/4: v7");
    let stats = stats();
    assert_eq!((stats.stale_served, stats.refreshes_started), (2, 2));
    assert_eq!((stats.refreshes_failed, stats.refreshes_in_flight), (0, 0));
}

static SHARED_STARTED: LazyLock<Notify> = LazyLock::new(Notify::new);
static SHARED_GATE: LazyLock<Notify> = LazyLock::new(Notify::new);
static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>:<id>", stale = "30s")]
async fn shared(user: &str, id: u32) -> String {
    let run = SHARED_RUNS.fetch_add(1, SeqCst) + 1;
    if run > 2 {
        // The refreshes (runs 3 and 4) wait at the gate.
        SHARED_STARTED.notify_one();
        gate(&SHARED_GATE).await;
    }
    format!("{user}/{id}: v{run}")
}

/// Many concurrent stale calls of two keys, all before the refreshes end: every one is
/// answered with its key's expired value, and one refresh per key is started.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn one_background_refresh_per_key() {
    assert_eq!(shared("ann", 1).await, "ann/1: v1");
    assert_eq!(shared("ann", 2).await, "ann/2: v2");
    advance(TTL).await;
    let calls = (0..100).map(|i| async move {
        let id = 1 + i % 2;
        (id, shared("ann", id).await)
    });
    let answers = futures_util::future::join_all(calls).await;
    for (id, answer) in answers {
        assert_eq!(answer, format!("ann/{id}: v{id}"));
    }
    // And more while both refreshes are running.
    started(&SHARED_STARTED).await;
    started(&SHARED_STARTED).await;
    for _ in 0..10 {
        assert_eq!(shared("ann", 1).await, "ann/1: v1");
    }
    let stats = shared_cache().stats();
    assert_eq!(stats.stale_served, 110);
    assert_eq!(stats.refreshes_started, 2, "more than one refresh per key");
    assert_eq!(stats.refreshes_in_flight, 2);
    assert_eq!(SHARED_RUNS.load(SeqCst), 4);
    SHARED_GATE.notify_one();
    SHARED_GATE.notify_one();
    settle().await;
    assert_eq!(shared_cache().stats().refreshes_in_flight, 0);
    let mut refreshed = [shared("ann", 1).await, shared("ann", 2).await];
    refreshed.sort();
    // Which key's refresh was run 3 is up to the scheduler.
    assert!(
        refreshed == ["ann/1: v3", "ann/2: v4"] || refreshed == ["ann/1: v4", "ann/2: v3"],
        "{refreshed:?}"
    );
    assert_eq!(SHARED_RUNS.load(SeqCst), 4);
}

cache_core::scope! {
    /// Everything cached for one user, for the scope race.
    pub(crate) User(user: String);
}

static RACE_STARTED: LazyLock<Notify> = LazyLock::new(Notify::new);
static RACE_GATE: LazyLock<Notify> = LazyLock::new(Notify::new);
/// 0: stores "old"; 1: the refresh, gated, returns "refreshed"; 2: "after".
static RACE_PHASE: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>:<id>", group = "<user>", scope = User, stale = "30s")]
async fn race(user: &str, id: u32) -> String {
    match RACE_PHASE.load(SeqCst) {
        0 => format!("{user}/{id}: old"),
        1 => {
            RACE_STARTED.notify_one();
            gate(&RACE_GATE).await;
            format!("{user}/{id}: refreshed")
        }
        _ => format!("{user}/{id}: after"),
    }
}

/// A background refresh in flight when its key, group, scope or cache is invalidated is not
/// stored, and the invalidated value is never served stale afterwards: the next call, still
/// inside the old value's window, fetches.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refresh_in_flight_when_invalidated_is_not_stored() {
    for kind in ["key", "group", "scope", "clear"] {
        RACE_PHASE.store(0, SeqCst);
        assert_eq!(race(kind, 1).await, format!("{kind}/1: old"));
        advance(TTL).await;
        RACE_PHASE.store(1, SeqCst);
        let served = race_cache().stats().stale_served;
        assert_eq!(race(kind, 1).await, format!("{kind}/1: old"));
        started(&RACE_STARTED).await;
        assert_eq!(race_cache().stats().refreshes_in_flight, 1);
        match kind {
            "key" => assert!(invalidate_race_key(kind, 1).await),
            "group" => assert_eq!(invalidate_race(kind).await, 1),
            "scope" => assert_eq!(User::invalidate(kind).await, 1),
            _ => assert_eq!(race_cache().clear().await, 1),
        }
        RACE_GATE.notify_one();
        settle().await;
        assert_eq!(race_cache().stats().refreshes_in_flight, 0);
        RACE_PHASE.store(2, SeqCst);
        assert_eq!(
            race(kind, 1).await,
            format!("{kind}/1: after"),
            "{kind}: the refresh that began before the invalidation was stored, or the \
             invalidated value was served stale"
        );
        assert_eq!(race_cache().stats().stale_served, served + 1, "{kind}");
        advance(Duration::from_secs(3600)).await; // the next kind starts from nothing
        race_cache().purge_expired().await;
    }
    // And without an invalidation the same refresh is stored.
    RACE_PHASE.store(0, SeqCst);
    assert_eq!(race("none", 1).await, "none/1: old");
    advance(TTL).await;
    RACE_PHASE.store(1, SeqCst);
    assert_eq!(race("none", 1).await, "none/1: old");
    started(&RACE_STARTED).await;
    RACE_GATE.notify_one();
    settle().await;
    RACE_PHASE.store(2, SeqCst);
    assert_eq!(race("none", 1).await, "none/1: refreshed");
}

static MIXED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Borrowed (`&str`, `&[String]`) and owned (`u64`, `String`, `Vec<u8>`) parameters, a
/// `mut` one among them.
#[ttl_cached(ttl = 60, key = "<name>:<count>:<label>", ignore = [tags, bytes], stale = "30s")]
async fn mixed(
    name: &str,
    tags: &[String],
    count: u64,
    mut label: String,
    bytes: Vec<u8>,
) -> String {
    label.push('!');
    let run = MIXED_RUNS.fetch_add(1, SeqCst) + 1;
    format!("{name} {tags:?} {count} {label} {bytes:?} v{run}")
}

/// The refresh runs after the call returned and after the caller's values were dropped: it
/// sees its own copies of the borrowed parameters and the owned ones moved in.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn borrowed_and_owned_parameters_reach_the_refresh() {
    let call = || async {
        let name = String::from("ann");
        let tags = vec!["a".to_string(), "b".to_string()];
        let got = mixed(&name, &tags, 3, "x".to_string(), vec![1, 2]).await;
        drop((name, tags));
        got
    };
    assert_eq!(call().await, r#"ann ["a", "b"] 3 x! [1, 2] v1"#);
    advance(TTL).await;
    assert_eq!(call().await, r#"ann ["a", "b"] 3 x! [1, 2] v1"#);
    assert_eq!(mixed_cache().stats().refreshes_started, 1);
    settle().await;
    assert_eq!(call().await, r#"ann ["a", "b"] 3 x! [1, 2] v2"#);
}

pub(crate) struct Directory;

static DIRECTORY_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Directory {
    /// Whole seconds, on an associated function without `self`.
    #[ttl_cached(ttl = 60, key = "<id>", stale = 30)]
    pub(crate) async fn lookup(id: &str) -> String {
        let run = DIRECTORY_RUNS.fetch_add(1, SeqCst) + 1;
        format!(
            "{id}@{} v{run}",
            std::any::type_name::<Self>()
                .rsplit("::")
                .next()
                .unwrap_or("")
        )
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn associated_function_without_self() {
    assert_eq!(Directory::lookup("ann").await, "ann@Directory v1");
    advance(TTL + SWR - NANO).await;
    assert_eq!(Directory::lookup("ann").await, "ann@Directory v1");
    assert_eq!(Directory::lookup_cache().stats().refreshes_started, 1);
    settle().await;
    assert_eq!(Directory::lookup("ann").await, "ann@Directory v2");
}

/// A parameter whose copy panics when `ARMED`: `&Bomb` is copied with `Clone`.
#[derive(Debug)]
pub(crate) struct Bomb;

static ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Clone for Bomb {
    fn clone(&self) -> Self {
        assert!(!ARMED.load(SeqCst), "the copy of a parameter panicked");
        Bomb
    }
}

static BOMB_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<id>", ignore = [bomb], stale = "30s")]
async fn fragile(id: u32, bomb: &Bomb) -> String {
    let _ = bomb;
    let run = BOMB_RUNS.fetch_add(1, SeqCst) + 1;
    format!("{id}: v{run}")
}

/// The caller that leads a refresh copies the parameters after it claimed the key's flight:
/// if a copy panics, the refresh is never spawned, and its claim is given up (counted out of
/// `refreshes_in_flight`), so the next stale call starts a refresh of its own.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_copy_gives_the_refresh_up() {
    use futures_util::FutureExt;
    assert_eq!(fragile(1, &Bomb).await, "1: v1");
    advance(TTL).await;
    ARMED.store(true, SeqCst);
    let panicked = std::panic::AssertUnwindSafe(fragile(1, &Bomb))
        .catch_unwind()
        .await;
    ARMED.store(false, SeqCst);
    assert!(panicked.is_err());
    let stats = fragile_cache().stats();
    assert_eq!((stats.refreshes_started, stats.refreshes_in_flight), (1, 0));
    assert_eq!(fragile(1, &Bomb).await, "1: v1");
    assert_eq!(
        fragile_cache().stats().refreshes_started,
        2,
        "the abandoned refresh still held the key"
    );
    settle().await;
    assert_eq!(fragile(1, &Bomb).await, "1: v2");
    assert_eq!(BOMB_RUNS.load(SeqCst), 2);
}

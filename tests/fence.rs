//! An invalidation fences exactly what it invalidates. While a group, key or scope invalidation
//! runs, or its `Invalidated` is held unresolved, fetches and inserts of every *other* group and
//! key are shared and stored as usual; the invalidated group or key itself stays fenced (its
//! fetches run unshared and are not stored) until the invalidation returns.
//!
//! Each interleaving is forced: the invalidation is held open, fetches wait on gates, and a
//! current-thread runtime runs every spawned caller to its gate (`settle`) before the gate
//! opens. The storms at the end run the same checks on a multi-thread runtime with invalidations
//! of other groups arriving all the time, as a backplane receiver applies them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::{ttl_cached, Invalidated, TtlCache};
use tokio::sync::Notify;
use ttl_cached_tests::{settle, Gated, SplitMix};

type Cache = TtlCache<String, u32, String>;

fn cache() -> Cache {
    TtlCache::builder()
        .ttl(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// An invalidation held open, as a handler does that calls it and awaits it later.
enum Held {
    Group(Invalidated<usize>),
    Key(Invalidated<bool>),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Group,
    Key,
}

impl Held {
    /// Resolves it: the invalidation returns here.
    fn release(self) {
        match self {
            Held::Group(invalidated) => drop(invalidated.count()),
            Held::Key(invalidated) => drop(invalidated.count()),
        }
    }
}

fn hold(cache: &Cache, kind: Kind, group: &str, key: u32) -> Held {
    match kind {
        Kind::Group => Held::Group(cache.invalidate_group(group)),
        Kind::Key => Held::Key(cache.invalidate(group, &key)),
    }
}

/// `callers` concurrent misses of `(group, key)` on a current-thread runtime, whose fetch waits
/// on a gate opened once every caller has reached its wait: returns how many fetches ran, and
/// the values the callers got.
async fn stampede(cache: &Cache, group: &str, key: u32, callers: usize) -> (usize, Vec<String>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (cache, fetches, gate) = (cache.clone(), fetches.clone(), gate.clone());
            let group = group.to_string();
            tokio::spawn(async move {
                let name = group.clone();
                cache
                    .get_with(&group, &key, || async move {
                        let run = fetches.fetch_add(1, SeqCst);
                        gate.notified().await;
                        format!("{name}/{key}#{run}")
                    })
                    .await
            })
        })
        .collect();
    settle().await;
    // Every fetch that started waits at the gate; release them all (and any to come).
    let opener = {
        let gate = gate.clone();
        tokio::spawn(async move {
            loop {
                gate.notify_waiters();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    opener.abort();
    (fetches.load(SeqCst), values)
}

async fn fenced_exactly(kind: Kind) {
    let cache = cache();
    cache.get_with("alice", &1, || async { "a1".into() }).await;
    cache.get_with("alice", &2, || async { "a2".into() }).await;
    let held = hold(&cache, kind, "alice", 1);
    assert_eq!(
        cache.get("alice", &1),
        None,
        "{kind:?}: evicted at the call"
    );

    // Another group: one fetch for the stampede, stored.
    let (fetches, values) = stampede(&cache, "bob", 7, 50).await;
    assert_eq!(
        fetches, 1,
        "{kind:?}: bob's stampede during alice's invalidation"
    );
    assert!(
        values.iter().all(|v| *v == values[0]),
        "{kind:?}: {values:?}"
    );
    assert_eq!(
        cache.get("bob", &7).as_ref(),
        Some(&values[0]),
        "{kind:?}: bob's value stored"
    );
    cache.insert("bob", &8, "inserted".into()).await;
    assert_eq!(
        cache.get("bob", &8).as_deref(),
        Some("inserted"),
        "{kind:?}: insert of another group"
    );

    // The invalidated key (and for a group, its siblings) stays fenced: run unshared, not stored.
    let (fetches, _) = stampede(&cache, "alice", 1, 5).await;
    assert_eq!(
        fetches, 5,
        "{kind:?}: the fenced key's fetches are not shared"
    );
    assert_eq!(
        cache.get("alice", &1),
        None,
        "{kind:?}: the fenced key stored"
    );
    cache.insert("alice", &1, "inserted".into()).await;
    assert_eq!(
        cache.get("alice", &1),
        None,
        "{kind:?}: insert of the fenced key"
    );
    let (fetches, values) = stampede(&cache, "alice", 3, 10).await;
    match kind {
        Kind::Group => {
            assert_eq!(fetches, 10, "a sibling in the fenced group is fenced too");
            assert_eq!(cache.get("alice", &3), None);
        }
        Kind::Key => {
            assert_eq!(fetches, 1, "a sibling of the fenced key is not fenced");
            assert_eq!(cache.get("alice", &3).as_ref(), Some(&values[0]));
            assert_eq!(
                cache.get("alice", &2).as_deref(),
                Some("a2"),
                "sibling kept"
            );
        }
    }

    held.release();
    let (fetches, values) = stampede(&cache, "alice", 1, 20).await;
    assert_eq!(fetches, 1, "{kind:?}: after the invalidation returned");
    assert_eq!(cache.get("alice", &1).as_ref(), Some(&values[0]));
}

#[tokio::test]
async fn a_held_group_invalidation_fences_its_group_only() {
    fenced_exactly(Kind::Group).await;
}

#[tokio::test]
async fn a_held_key_invalidation_fences_its_key_only() {
    fenced_exactly(Kind::Key).await;
}

#[tokio::test]
async fn a_held_clear_fences_everything() {
    let cache = cache();
    let held = cache.clear();
    let (fetches, _) = stampede(&cache, "bob", 1, 5).await;
    assert_eq!(fetches, 5, "clear fences the whole cache");
    assert_eq!(cache.get("bob", &1), None);
    drop(held);
    let (fetches, _) = stampede(&cache, "bob", 1, 5).await;
    assert_eq!(fetches, 1);
}

/// A key invalidation leaves its siblings' fetches, refreshes and background revalidations in
/// flight alone: they are joined and stored as usual.
#[tokio::test]
async fn a_key_invalidation_leaves_a_siblings_fetch_in_flight_joinable_and_stored() {
    let cache = cache();
    let gated = Arc::new(Gated::default());
    let first = {
        let (cache, gated) = (cache.clone(), gated.clone());
        tokio::spawn(async move {
            cache
                .get_with("u", &2, || async move { gated.run("two").await })
                .await
        })
    };
    gated.started.notified().await;
    assert!(!cache.invalidate("u", &1).await, "nothing stored for key 1");
    let held = cache.invalidate("u", &1);
    let joiner = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_with("u", &2, || async { "a second fetch".to_string() })
                .await
        })
    };
    settle().await;
    gated.gate.notify_one();
    assert_eq!(first.await.unwrap(), "two");
    assert_eq!(
        joiner.await.unwrap(),
        "two",
        "the sibling's fetch was not joined"
    );
    assert_eq!(gated.runs.load(SeqCst), 1);
    assert_eq!(cache.get("u", &2).as_deref(), Some("two"), "not stored");
    assert_eq!(cache.stats().coalesced, 1);
    drop(held);
}

/// The repro: a stale refresh of key 2 in flight while key 1 is invalidated. Before,
/// the key invalidation bumped a generation shared by the group, and the refresh of key 2 was
/// neither stored nor joined (a second stale call started a second refresh).
#[tokio::test(start_paused = true)]
async fn a_key_invalidation_leaves_a_siblings_background_refresh_alone() {
    let cache: Cache = TtlCache::builder()
        .ttl(Duration::from_secs(10))
        .stale_while_revalidate(Duration::from_secs(60))
        .build()
        .unwrap();
    cache.get_with("u", &1, || async { "one".into() }).await;
    cache.get_with("u", &2, || async { "two".into() }).await;
    tokio::time::advance(Duration::from_secs(11)).await;
    let gated = Arc::new(Gated::default());
    let stale = {
        let gated = gated.clone();
        cache
            .get_with_stale("u", &2, || async move { gated.run("two, refreshed").await })
            .await
    };
    assert_eq!(stale, "two", "served stale, refresh started");
    gated.started.notified().await;
    assert!(cache.invalidate("u", &1).await);
    let again = cache
        .get_with_stale("u", &2, || async { "a second refresh".to_string() })
        .await;
    assert_eq!(again, "two", "still stale while the refresh runs");
    gated.gate.notify_one();
    settle().await;
    assert_eq!(
        cache.get("u", &2).as_deref(),
        Some("two, refreshed"),
        "the sibling's refresh was not stored"
    );
    assert_eq!(
        cache.stats().refreshes_started,
        1,
        "a second refresh started"
    );
    assert_eq!(gated.runs.load(SeqCst), 1);
}

/// A stale-if-error window of `Duration::MAX` means forever: the expired value is kept, and
/// stands in for a failed fetch long after its TTL (it was swept right after the TTL, since
/// `now - window` underflows).
#[tokio::test(start_paused = true)]
async fn a_stale_window_of_duration_max_keeps_the_value_forever() {
    let cache: Cache = TtlCache::builder()
        .ttl(Duration::from_secs(10))
        .stale_if_error(Duration::MAX)
        .build()
        .unwrap();
    cache.get_with("u", &1, || async { "kept".into() }).await;
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(3_600)).await;
        // Misses of other keys sweep expired entries, and so does a purge.
        for key in 100..120 {
            cache.get_with("v", &key, || async { "x".into() }).await;
        }
        cache.purge_expired().await;
        let answer = cache
            .try_get_with("u", &1, || async { Err::<String, _>("upstream down") })
            .await;
        assert_eq!(answer.as_deref(), Ok("kept"), "the stale value was swept");
    }
}

// ---- Scopes: through the attribute. ----

cache_core::scope! {
    /// Everything cached for one account of one provider.
    pub Account(user_id: String, provider: String);
}

#[ttl_cached(
    ttl = 600,
    key = "<user_id>:<provider>:<folder>",
    group = "<user_id>:<provider>",
    scope = Account,
    ignore = [gate]
)]
async fn listing(user_id: &str, provider: &str, folder: &str, gate: Arc<Gated>) -> String {
    gate.run(&format!("{user_id}/{provider}/{folder}")).await
}

/// 50 concurrent calls of `listing` for one key, gated: how many bodies ran.
async fn listing_stampede(user: &str, folder: &str, callers: usize) -> usize {
    let gate = Arc::new(Gated::default());
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (gate, user, folder) = (gate.clone(), user.to_string(), folder.to_string());
            tokio::spawn(async move { listing(&user, "drive", &folder, gate).await })
        })
        .collect();
    settle().await;
    for _ in 0..callers {
        gate.gate.notify_one();
        settle().await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    gate.runs.load(SeqCst)
}

#[tokio::test]
async fn a_held_scope_invalidation_fences_its_group_only() {
    assert_eq!(listing_stampede("alice", "root", 1).await, 1);
    let held = Account::invalidate("alice", "drive");
    assert_eq!(listing_cache().len(), 0);
    assert_eq!(
        listing_stampede("bob", "root", 50).await,
        1,
        "bob's stampede during alice's scope invalidation"
    );
    assert_eq!(listing_cache().len(), 1, "bob's listing stored");
    assert_eq!(
        listing_stampede("alice", "root", 3).await,
        3,
        "alice stays fenced"
    );
    assert_eq!(
        listing_cache().len(),
        1,
        "alice's listing stored while fenced"
    );
    drop(held);
    assert_eq!(listing_stampede("alice", "root", 3).await, 1);
    assert_eq!(listing_cache().len(), 2);
}

#[ttl_cached(
    ttl = 600,
    key = "<user_id>:<provider>:<folder>",
    group = "<user_id>:<provider>",
    scope = Account,
    ignore = [value]
)]
async fn first_use(user_id: &str, provider: &str, folder: &str, value: &'static str) -> String {
    format!("{user_id}/{provider}/{folder}: {value}")
}

/// The hole the issue found: `refresh_<fn>` as the cache's *first* use while a scope
/// invalidation is held took its stamp before the cache joined the scope, and its value was
/// stored and served after the invalidation returned.
#[tokio::test]
async fn a_refresh_that_is_a_caches_first_use_is_fenced_by_a_held_scope_invalidation() {
    let held = Account::invalidate("carol", "drive");
    let refreshed = refresh_first_use("carol", "drive", "root", "during").await;
    assert!(refreshed.ends_with("during"));
    drop(held);
    let after = first_use("carol", "drive", "root", "after").await;
    assert!(
        after.ends_with("after"),
        "a refresh from during the invalidation was served after it: {after}"
    );
}

// ---- Storms: invalidations of other groups all the time. ----

/// Stampedes on a multi-thread runtime while another thread keeps invalidating other groups,
/// each held for a moment (about 1 000 a second), as a backplane receiver or a busy handler
/// does: every stampede makes exactly one fetch, stored. With a cache-wide fence nearly every
/// miss overlapped an invalidation and ran unshared.
#[test]
fn stampedes_make_one_fetch_while_other_groups_are_invalidated_all_the_time() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cache = cache();
    let stop = Arc::new(AtomicBool::new(false));
    let invalidations = Arc::new(AtomicUsize::new(0));
    let invalidator = {
        let (cache, stop, invalidations) = (cache.clone(), stop.clone(), invalidations.clone());
        std::thread::spawn(move || {
            let mut rng = SplitMix::new(19);
            while !stop.load(SeqCst) {
                let other = format!("other-{}", rng.below(100));
                let held = if rng.chance(50) {
                    Held::Group(cache.invalidate_group(&other))
                } else {
                    Held::Key(cache.invalidate(&other, &(rng.below(10) as u32)))
                };
                std::thread::sleep(Duration::from_micros(900));
                held.release();
                invalidations.fetch_add(1, SeqCst);
            }
        })
    };
    let rounds = 40;
    for round in 0..rounds {
        let fetches = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                runtime.spawn(async move {
                    cache
                        .get_with("bob", &round, || async move {
                            fetches.fetch_add(1, SeqCst);
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            format!("bob/{round}")
                        })
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(runtime.block_on(caller).unwrap(), format!("bob/{round}"));
        }
        assert_eq!(
            fetches.load(SeqCst),
            1,
            "round {round}: one fetch per stampede"
        );
        assert_eq!(cache.get("bob", &round), Some(format!("bob/{round}")));
    }
    stop.store(true, SeqCst);
    invalidator.join().unwrap();
    assert!(
        invalidations.load(SeqCst) > 10,
        "the invalidations ran alongside"
    );
}

/// moka's `runtime_tokio` test, ported: tasks insert their keys and read them back while other
/// tasks invalidate theirs. With a cache-wide fence, an insert made while another task's
/// invalidation was unresolved was not stored, and read back `None`.
#[test]
fn inserts_read_back_while_other_tasks_invalidate() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cache = cache();
    let tasks: Vec<_> = (0..8u32)
        .map(|task| {
            let cache = cache.clone();
            runtime.spawn(async move {
                let group = format!("task-{task}");
                for i in 0..500u32 {
                    if task % 2 == 0 {
                        let value = format!("{task}/{i}");
                        cache.insert(&group, &i, value.clone()).await;
                        assert_eq!(cache.get(&group, &i), Some(value), "task {task}, key {i}");
                    } else {
                        let held = cache.invalidate(&group, &i);
                        tokio::task::yield_now().await;
                        drop(held);
                        let held = cache.invalidate_group(&group);
                        tokio::task::yield_now().await;
                        drop(held);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
}

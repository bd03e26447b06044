//! The runtime as a moka user expects it: `TtlCache` is a cheap `Clone` handle (clones are one
//! cache), `insert` stores a value already in hand and wins over a fetch in flight, and
//! `FlatCache` takes one-part keys with every guarantee of the grouped cache. Interleavings are
//! forced with `Notify` gates on a current-thread runtime.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::{FlatCache, TtlCache};
use ttl_cached_tests::{settle, Gated};

/// Counts the values alive, to see when the cache drops what it held.
struct Tracked(Arc<AtomicUsize>);

impl Tracked {
    fn new(alive: &Arc<AtomicUsize>) -> Self {
        alive.fetch_add(1, SeqCst);
        Self(Arc::clone(alive))
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Self::new(&self.0)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

fn grouped() -> TtlCache<String, u32, String> {
    TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn clones_are_one_cache_and_the_values_go_with_the_last_clone() {
    let alive = Arc::new(AtomicUsize::new(0));
    let cache: TtlCache<String, u32, Tracked> = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let clone = cache.clone();
    let fetches = AtomicUsize::new(0);
    for n in 0..3 {
        clone
            .get_with("u", &n, || async {
                fetches.fetch_add(1, SeqCst);
                Tracked::new(&alive)
            })
            .await;
    }
    // What one clone stored, the other serves, counts and invalidates.
    for n in 0..3 {
        cache
            .get_with("u", &n, || async {
                unreachable!("stored through the clone")
            })
            .await;
    }
    assert_eq!(fetches.load(SeqCst), 3);
    assert_eq!((cache.len(), cache.stats().hits), (3, 3));
    assert!(cache.invalidate("u", &0).await);
    assert_eq!(clone.get("u", &0).map(|_| ()), None);
    // A setting changed through one clone is the other's.
    clone.set_capacity(7).unwrap();
    assert_eq!(cache.capacity(), 7);

    assert_eq!(alive.load(SeqCst), 2, "two values stored");
    drop(clone);
    assert_eq!(alive.load(SeqCst), 2, "a clone is gone, the cache is not");
    drop(cache);
    assert_eq!(alive.load(SeqCst), 0, "the last clone dropped the values");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_moved_into_tasks_shares_one_fetch_per_key() {
    let cache = grouped();
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (cache, runs, gate) = (cache.clone(), runs.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                cache
                    .get_with("u", &1, || async {
                        runs.fetch_add(1, SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        "v".to_string()
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "v");
    }
    assert_eq!(runs.load(SeqCst), 1);
}

/// `insert` during a fetch of the same key: the fetch's callers get what it fetched, but it is
/// not stored over the inserted value, and a caller arriving after the insert gets the inserted
/// value without joining the old fetch.
#[tokio::test(flavor = "current_thread")]
async fn an_insert_wins_over_the_fetch_in_flight() {
    let cache = grouped();
    let old = Arc::new(Gated::default());
    let before = {
        let (cache, old) = (cache.clone(), old.clone());
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async move { old.run("fetched").await })
                .await
        })
    };
    old.started.notified().await;

    tokio::time::timeout(
        Duration::from_secs(5),
        cache.insert("u", &1, "inserted".to_string()),
    )
    .await
    .expect("an insert does not wait for the fetch in flight");
    let after = cache
        .get_with("u", &1, || async { unreachable!("the insert is stored") })
        .await;
    assert_eq!(after, "inserted");

    old.gate.notify_one();
    assert_eq!(
        before.await.unwrap(),
        "fetched",
        "its caller gets its value"
    );
    settle().await;
    assert_eq!(cache.get("u", &1).as_deref(), Some("inserted"));
    assert_eq!(old.runs.load(SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.misses, stats.hits),
        (1, 2),
        "an insert is not a miss"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_inserted_value_lives_one_ttl_and_replaces_the_stored_one() {
    let cache = grouped();
    cache.get_with("u", &1, || async { "a".to_string() }).await;
    tokio::time::advance(Duration::from_secs(30)).await;
    cache.insert("u", &1, "b".to_string()).await;
    assert_eq!(cache.get("u", &1).as_deref(), Some("b"));
    assert_eq!(cache.len(), 1);
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        cache.get("u", &1).as_deref(),
        Some("b"),
        "60 s from the insert"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(cache.get("u", &1), None);
}

/// An invalidation of the group while a fetch is in flight, then an insert: the insert is
/// stored, the fetch (from before the invalidation) is not.
#[tokio::test(flavor = "current_thread")]
async fn an_insert_after_an_invalidation_is_kept_and_the_older_fetch_is_not() {
    let cache = grouped();
    let old = Arc::new(Gated::default());
    let before = {
        let (cache, old) = (cache.clone(), old.clone());
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async move { old.run("revoked").await })
                .await
        })
    };
    old.started.notified().await;
    cache.invalidate_group("u").await;
    cache.insert("u", &1, "fresh".to_string()).await;
    old.gate.notify_one();
    before.await.unwrap();
    settle().await;
    assert_eq!(cache.get("u", &1).as_deref(), Some("fresh"));
}

fn flat() -> FlatCache<String, String> {
    FlatCache::builder()
        .ttl(Duration::from_secs(60))
        .build_flat()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_flat_cache_shares_one_fetch_per_key_and_keys_stay_apart() {
    let cache = flat();
    let fetch = Arc::new(Gated::default());
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (cache, fetch) = (cache.clone(), fetch.clone());
            tokio::spawn(async move {
                cache
                    .get_with("a", || async move { fetch.run("A").await })
                    .await
            })
        })
        .collect();
    fetch.started.notified().await;
    settle().await;
    fetch.gate.notify_one();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), "A");
    }
    assert_eq!(fetch.runs.load(SeqCst), 1);
    let b = cache.get_with("b", || async { "B".to_string() }).await;
    assert_eq!((b.as_str(), cache.len()), ("B", 2));
    assert_eq!(cache.get("a").as_deref(), Some("A"));
}

/// The flat verbs keep the invalidation guarantee: a fetch in flight when its key is
/// invalidated is neither joined by a later caller nor stored.
#[tokio::test(flavor = "current_thread")]
async fn a_flat_invalidation_wins_over_the_fetch_in_flight() {
    let cache = flat();
    let old = Arc::new(Gated::default());
    let before = {
        let (cache, old) = (cache.clone(), old.clone());
        tokio::spawn(async move {
            cache
                .get_with("a", || async move { old.run("old").await })
                .await
        })
    };
    old.started.notified().await;
    assert!(!cache.invalidate("a").await, "nothing stored yet");
    let new = Arc::new(Gated::default());
    let after = {
        let (cache, new) = (cache.clone(), new.clone());
        tokio::spawn(async move {
            cache
                .get_with("a", || async move { new.run("new").await })
                .await
        })
    };
    new.started.notified().await;
    old.gate.notify_one();
    assert_eq!(before.await.unwrap(), "old");
    settle().await;
    assert_eq!(cache.get("a"), None, "the old fetch was not stored");
    new.gate.notify_one();
    assert_eq!(after.await.unwrap(), "new");
    assert_eq!(cache.get("a").as_deref(), Some("new"));

    let failed: Result<String, &str> = cache.try_get_with("e", || async { Err("429") }).await;
    assert_eq!(failed, Err("429"));
    assert_eq!(cache.get("e"), None, "an error is not stored");
    cache.insert("e", "put".to_string()).await;
    assert_eq!(
        cache.refresh("e", || async { "re".to_string() }).await,
        "re"
    );
    assert_eq!(cache.get("e").as_deref(), Some("re"));
    assert_eq!(cache.clear().await, 2);
    assert!(cache.is_empty());
}

//! Single-flight: concurrent misses for one key run one fetch; a cancelled or panicking leader
//! hands over to a waiter; nobody hangs.
//!
//! The interleavings are forced: with tokio's paused clock on a current-thread runtime, time
//! only advances once every task is idle, so a `sleep` in the test returns exactly when every
//! caller has reached its wait.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::TtlCache;
use futures_util::FutureExt;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

type Cache = TtlCache<String, String, Arc<String>>;

fn cache() -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
}

/// Lets every runnable task run until it blocks (paused clock: auto-advance waits for idle).
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_misses_run_one_fetch() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut callers = JoinSet::new();
    for _ in 0..1000 {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        callers.spawn(async move {
            cache
                .get_with("u1", "cold-folder", || async move {
                    fetches.fetch_add(1, SeqCst);
                    // The slow upstream: every other caller arrives while this runs.
                    sleep(Duration::from_millis(100)).await;
                    Arc::new("listing".to_string())
                })
                .await
        });
    }
    let results = callers.join_all().await;
    assert_eq!(fetches.load(SeqCst), 1);
    assert!(results.iter().all(|v| **v == "listing"));
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.coalesced, stats.hits), (1, 999, 0));
    assert_eq!(stats.inserts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_on_threads_run_one_fetch_per_key() {
    for round in 0..20 {
        let cache = cache();
        let fetches = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(200));
        let mut callers = JoinSet::new();
        for _ in 0..200 {
            let (cache, fetches, barrier) = (cache.clone(), fetches.clone(), barrier.clone());
            callers.spawn(async move {
                barrier.wait().await;
                cache
                    .get_with("u1", &format!("folder-{round}"), || async move {
                        fetches.fetch_add(1, SeqCst);
                        sleep(Duration::from_millis(20)).await;
                        Arc::new(format!("listing-{round}"))
                    })
                    .await
            });
        }
        let results = callers.join_all().await;
        assert_eq!(fetches.load(SeqCst), 1, "round {round}");
        assert!(results.iter().all(|v| **v == format!("listing-{round}")));
        let stats = cache.stats();
        assert_eq!(stats.misses, 1);
        assert_eq!(stats.coalesced + stats.hits, 199);
    }
}

/// A fetch whose first run never finishes, and whose later runs answer after 10 ms.
async fn stuck_then_ok(fetches: Arc<AtomicUsize>) -> Arc<String> {
    let run = fetches.fetch_add(1, SeqCst);
    if run == 0 {
        std::future::pending::<()>().await;
    }
    sleep(Duration::from_millis(10)).await;
    Arc::new(format!("value from fetch {run}"))
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_hands_over_to_one_waiter() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let leader = {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        tokio::spawn(async move { cache.get_with("u1", "k", || stuck_then_ok(fetches)).await })
    };
    settle().await;
    let mut waiters = JoinSet::new();
    for _ in 0..10 {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        waiters.spawn(async move { cache.get_with("u1", "k", || stuck_then_ok(fetches)).await });
    }
    settle().await;
    assert_eq!(
        fetches.load(SeqCst),
        1,
        "the waiters joined the leader's flight"
    );

    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    let results = timeout(Duration::from_secs(60), waiters.join_all())
        .await
        .expect("no waiter hangs after the leader is cancelled");
    assert_eq!(fetches.load(SeqCst), 2, "exactly one waiter took over");
    assert!(results.iter().all(|v| **v == "value from fetch 1"));
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.coalesced), (2, 9));
    assert_eq!(
        cache.get("u1", "k").as_deref().map(String::as_str),
        Some("value from fetch 1")
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_leading_future_hands_over_too() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut leading = Box::pin(cache.get_with("u1", "k", || stuck_then_ok(fetches.clone())));
    assert!(timeout(Duration::from_millis(1), &mut leading)
        .await
        .is_err());
    let waiter = {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        tokio::spawn(async move { cache.get_with("u1", "k", || stuck_then_ok(fetches)).await })
    };
    settle().await;
    drop(leading);
    let value = timeout(Duration::from_secs(60), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*value, "value from fetch 1");
    assert_eq!(fetches.load(SeqCst), 2);
}

/// A fetch whose first run panics after 10 ms, and whose later runs answer.
async fn panics_then_ok(fetches: Arc<AtomicUsize>) -> Arc<String> {
    let run = fetches.fetch_add(1, SeqCst);
    sleep(Duration::from_millis(10)).await;
    assert!(run != 0, "upstream exploded");
    Arc::new(format!("value from fetch {run}"))
}

#[tokio::test(start_paused = true)]
async fn a_panicking_fetch_panics_its_own_caller_only() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let leader = {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        tokio::spawn(async move { cache.get_with("u1", "k", || panics_then_ok(fetches)).await })
    };
    settle().await;
    let mut waiters = JoinSet::new();
    for _ in 0..10 {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        waiters.spawn(async move { cache.get_with("u1", "k", || panics_then_ok(fetches)).await });
    }
    let panic = leader.await.unwrap_err();
    assert!(panic.is_panic(), "the panic reached the leader");
    let results = timeout(Duration::from_secs(60), waiters.join_all())
        .await
        .expect("no waiter hangs after the leader panicked");
    assert!(
        results.iter().all(|v| **v == "value from fetch 1"),
        "waiters retried"
    );
    assert_eq!(fetches.load(SeqCst), 2);
    assert_eq!(cache.len(), 1, "the cache is still usable");
}

#[tokio::test(start_paused = true)]
async fn a_panic_caught_by_the_caller_leaves_the_key_usable() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let caught = AssertUnwindSafe(cache.get_with("u1", "k", || panics_then_ok(fetches.clone())))
        .catch_unwind()
        .await;
    assert!(caught.is_err());
    let value = timeout(
        Duration::from_secs(60),
        cache.get_with("u1", "k", || panics_then_ok(fetches.clone())),
    )
    .await
    .expect("the next call does not wait on the panicked fetch");
    assert_eq!(*value, "value from fetch 1");
}

#[tokio::test(start_paused = true)]
async fn waiters_on_a_failed_fetch_retry_and_errors_are_not_stored() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let fetch = |fetches: Arc<AtomicUsize>| async move {
        let run = fetches.fetch_add(1, SeqCst);
        sleep(Duration::from_millis(10)).await;
        if run == 0 {
            Err(std::io::Error::other("429 too many requests"))
        } else {
            Ok(Arc::new(format!("value from fetch {run}")))
        }
    };
    let mut callers = JoinSet::new();
    for _ in 0..5 {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        callers.spawn(async move { cache.try_get_with("u1", "k", || fetch(fetches)).await });
    }
    let results = callers.join_all().await;
    assert_eq!(
        results.iter().filter(|r| r.is_err()).count(),
        1,
        "the leader got its error"
    );
    assert_eq!(
        fetches.load(SeqCst),
        2,
        "one waiter retried, the rest joined it"
    );
    assert!(results
        .iter()
        .flatten()
        .all(|v| **v == "value from fetch 1"));
    assert_eq!(cache.stats().inserts, 1);
}

#[tokio::test(start_paused = true)]
async fn waiters_on_a_failed_fetch_share_a_clonable_error() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut callers = JoinSet::new();
    for _ in 0..50 {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        callers.spawn(async move {
            cache
                .try_get_with_shared("u1", "k", || async move {
                    fetches.fetch_add(1, SeqCst);
                    sleep(Duration::from_millis(10)).await;
                    Err::<Arc<String>, _>("429 too many requests".to_string())
                })
                .await
        });
    }
    let results = callers.join_all().await;
    assert_eq!(
        fetches.load(SeqCst),
        1,
        "one upstream call for the whole stampede"
    );
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err() == "429 too many requests"));
    assert!(cache.is_empty(), "the error was not stored");
    assert_eq!(cache.stats().coalesced, 49);
    let ok = cache
        .try_get_with_shared("u1", "k", || async {
            Ok::<_, String>(Arc::new("ok".to_string()))
        })
        .await;
    assert_eq!(ok.unwrap().as_str(), "ok", "the next call fetches again");
}

/// A cancelled leader takes its flight out of the map as it is dropped (synchronously, no later
/// operation needed), and the group it created goes with it.
#[tokio::test(start_paused = true)]
async fn abandoned_flights_and_empty_groups_are_reclaimed() {
    let cache = cache();
    for i in 0..50 {
        let user = format!("user-{i}");
        let mut leading =
            Box::pin(cache.get_with(&user, "k", || stuck_then_ok(Arc::new(AtomicUsize::new(0)))));
        assert!(timeout(Duration::from_millis(1), &mut leading)
            .await
            .is_err());
        let (_, groups, flights) = cache.__internal_sizes();
        assert_eq!((groups, flights), (1, 1), "the leader is running");
        drop(leading);
        assert_eq!(
            cache.__internal_sizes(),
            (0, 0, 0),
            "a cancelled leader left its flight or group behind"
        );
    }
    let not_stuck = Arc::new(AtomicUsize::new(1));
    cache
        .get_with("other", "k", || stuck_then_ok(not_stuck))
        .await;
    cache.invalidate_group("other").await;
    assert_eq!(cache.__internal_sizes(), (0, 0, 0));
}

/// Callers arriving while the leader finishes: a caller that missed just before the value was
/// stored must find it (or the flight), not start a second fetch. Instant fetches on several
/// threads make that window as wide as it gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_racing_a_finishing_leader_do_not_fetch_twice() {
    let cache = cache();
    let fetches = Arc::new(AtomicUsize::new(0));
    let rounds = 2000;
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut callers = JoinSet::new();
    for _ in 0..8 {
        let (cache, fetches, barrier) = (cache.clone(), fetches.clone(), barrier.clone());
        callers.spawn(async move {
            for round in 0..rounds {
                barrier.wait().await;
                let fetches = fetches.clone();
                cache
                    .get_with("u1", &round.to_string(), || async move {
                        fetches.fetch_add(1, SeqCst);
                        Arc::new(String::new())
                    })
                    .await;
            }
        });
    }
    callers.join_all().await;
    assert_eq!(fetches.load(SeqCst), rounds, "one fetch per key");
}

/// The window the re-check under the flight entry closes: a caller missed, then the leader
/// stored its value and retired its flight, then the caller reaches the flight map. It must
/// find the stored value, not start a second fetch.
#[tokio::test(start_paused = true)]
async fn a_caller_that_missed_just_before_the_store_does_not_fetch_again() {
    let (pauses, hook) =
        ttl_cached_tests::Pauses::at(&[(cache_core::HookPoint::BeforeFlightEntry, 1)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .__hook(hook)
            .build()
            .unwrap(),
    );
    let fetches = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Notify::new());
    let call = |cache: Arc<Cache>, fetches: Arc<AtomicUsize>, gate: Arc<tokio::sync::Notify>| async move {
        cache
            .get_with("u1", "k", || async move {
                if fetches.fetch_add(1, SeqCst) == 0 {
                    gate.notified().await;
                }
                Arc::new("listing".to_string())
            })
            .await
    };
    let leader = tokio::spawn(call(cache.clone(), fetches.clone(), gate.clone()));
    settle().await;
    let late = tokio::spawn(call(cache.clone(), fetches.clone(), gate.clone()));
    pauses.reached(0).await; // the late caller missed and stands before the flight map
    gate.notify_one();
    assert_eq!(*leader.await.unwrap(), "listing");
    pauses.resume(0);
    assert_eq!(*late.await.unwrap(), "listing");
    assert_eq!(fetches.load(SeqCst), 1);
    assert_eq!(cache.stats().hits, 1);
}

/// A leader cancelled while it was storing leaves no flight behind: waiters are woken, and the
/// flight map is cleaned by the next operation.
#[tokio::test(start_paused = true)]
async fn a_leader_cancelled_while_storing_leaves_nothing_behind() {
    let (pauses, hook) = ttl_cached_tests::Pauses::at(&[(cache_core::HookPoint::BeforeStore, 0)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .__hook(hook)
            .build()
            .unwrap(),
    );
    let fetches = Arc::new(AtomicUsize::new(0));
    let call = |cache: Arc<Cache>, fetches: Arc<AtomicUsize>| async move {
        cache
            .get_with("u1", "k", || async move {
                let run = fetches.fetch_add(1, SeqCst);
                sleep(Duration::from_millis(10)).await;
                Arc::new(format!("value from fetch {run}"))
            })
            .await
    };
    let leader = tokio::spawn(call(cache.clone(), fetches.clone()));
    settle().await;
    let waiter = tokio::spawn(call(cache.clone(), fetches.clone()));
    pauses.reached(0).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    let value = timeout(Duration::from_secs(60), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*value, "value from fetch 1", "the waiter took over");
    cache.invalidate_group("nobody").await; // any operation runs the deferred clean-up
    let (entries, groups, flights) = cache.__internal_sizes();
    assert_eq!((entries, groups, flights), (1, 1, 0));
}

/// A key part whose `Clone` calls back into the cache, for the key it is a copy of. If the
/// cache cloned a key part while holding one of its own locks (the flight entry, say), the
/// call back would wait for that lock on the same thread and never return.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Reentrant(u32);

static REENTRANT_CACHE: std::sync::OnceLock<TtlCache<String, Reentrant, u32>> =
    std::sync::OnceLock::new();

impl Clone for Reentrant {
    fn clone(&self) -> Self {
        if let Some(cache) = REENTRANT_CACHE.get() {
            // Takes the key's flight entry: waits forever if this thread holds it.
            drop(cache.invalidate("u1", self));
        }
        Reentrant(self.0)
    }
}

/// "No lock is held across user code" includes a key part's `Clone`: one that calls back into
/// the cache does not deadlock the miss path.
#[test]
fn a_key_part_clone_that_calls_back_into_the_cache_does_not_deadlock() {
    REENTRANT_CACHE.get_or_init(|| {
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .build()
            .unwrap()
    });
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cache = REENTRANT_CACHE.get().unwrap();
        let first = runtime.block_on(cache.get_with("u1", &Reentrant(7), || async { 1 }));
        let second = runtime.block_on(cache.get_with("u1", &Reentrant(7), || async { 2 }));
        done.send((first, second)).unwrap();
    });
    let (first, second) = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("a key part's Clone ran under one of the cache's locks: deadlock");
    assert_eq!(first, 1);
    // Each clone invalidated the key after the fetch read its stamp: never stored.
    assert_eq!(second, 2, "a fetch invalidated while it ran was stored");
}

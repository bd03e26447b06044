//! Invalidation is race-free: a call that begins after `invalidate_group`, `invalidate` or
//! `clear` returned never receives a value whose fetch began before that return. Each test
//! pins a fetch in flight behind a gate, invalidates, and then lets the fetches finish in every
//! order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cache_core::TtlCache;
use tokio::sync::Notify;
use tokio::time::sleep;

type Cache = TtlCache<String, String, u64>;

fn cache() -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
}

async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

/// The upstream: a version per user (bumped when credentials rotate), and one gate per fetch so
/// the test decides when each fetch returns.
#[derive(Default)]
struct Upstream {
    version: AtomicU64,
    started: AtomicUsize,
    gates: Mutex<HashMap<usize, Arc<Notify>>>,
}

impl Upstream {
    fn gate(&self, run: usize) -> Arc<Notify> {
        self.gates.lock().unwrap().entry(run).or_default().clone()
    }

    /// Reads the version when the fetch starts, then waits for its gate.
    async fn fetch(self: Arc<Self>) -> u64 {
        let version = self.version.load(SeqCst);
        let run = self.started.fetch_add(1, SeqCst);
        self.gate(run).notified().await;
        version
    }

    fn release(&self, run: usize) {
        self.gate(run).notify_one();
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Group,
    Key,
    Clear,
}

async fn invalidate(cache: &Cache, op: Op) {
    match op {
        Op::Group => {
            cache.invalidate_group("u1").await;
        }
        Op::Key => {
            cache.invalidate("u1", "root").await;
        }
        Op::Clear => {
            cache.clear().await;
        }
    }
}

fn spawn_get(cache: &Arc<Cache>, upstream: &Arc<Upstream>) -> tokio::task::JoinHandle<u64> {
    let (cache, upstream) = (cache.clone(), upstream.clone());
    tokio::spawn(async move { cache.get_with("u1", "root", || upstream.fetch()).await })
}

/// Old fetch in flight, invalidation, new call; then the two fetches finish in either order.
#[tokio::test(start_paused = true)]
async fn a_fetch_from_before_an_invalidation_is_not_joined_nor_stored() {
    for op in [Op::Group, Op::Key, Op::Clear] {
        for old_finishes_first in [true, false] {
            let (cache, upstream) = (cache(), Arc::new(Upstream::default()));
            let old = spawn_get(&cache, &upstream);
            settle().await;
            // Credentials rotate: the upstream now answers version 1, and the cache is told.
            upstream.version.store(1, SeqCst);
            invalidate(&cache, op).await;

            let new = spawn_get(&cache, &upstream);
            settle().await;
            assert_eq!(
                upstream.started.load(SeqCst),
                2,
                "{op:?}: the new call did not join the fetch that began before the invalidation"
            );
            let order = if old_finishes_first { [0, 1] } else { [1, 0] };
            for run in order {
                upstream.release(run);
                settle().await;
                assert_ne!(
                    cache.get("u1", "root"),
                    Some(0),
                    "{op:?}: the old value was stored after the invalidation"
                );
            }
            assert_eq!(
                old.await.unwrap(),
                0,
                "the old call itself began before: it gets the old value"
            );
            assert_eq!(new.await.unwrap(), 1, "{op:?}");
            assert_eq!(
                cache.get("u1", "root"),
                Some(1),
                "{op:?}: the new value is cached"
            );
        }
    }
}

/// The old fetch finishes after the invalidation with nobody else waiting: the next call must
/// fetch again rather than read the late value.
#[tokio::test(start_paused = true)]
async fn a_late_result_from_before_an_invalidation_is_not_served_later() {
    for op in [Op::Group, Op::Key, Op::Clear] {
        let (cache, upstream) = (cache(), Arc::new(Upstream::default()));
        let old = spawn_get(&cache, &upstream);
        settle().await;
        upstream.version.store(1, SeqCst);
        invalidate(&cache, op).await;
        upstream.release(0);
        assert_eq!(old.await.unwrap(), 0);
        assert!(cache.is_empty(), "{op:?}: the late result was not stored");

        let next = spawn_get(&cache, &upstream);
        settle().await;
        upstream.release(1);
        assert_eq!(next.await.unwrap(), 1, "{op:?}: the next call fetched anew");
    }
}

/// Waiters that joined before the invalidation may share the old fetch; callers after it may not.
#[tokio::test(start_paused = true)]
async fn waiters_from_before_share_the_old_fetch_callers_after_do_not() {
    let (cache, upstream) = (cache(), Arc::new(Upstream::default()));
    let before: Vec<_> = (0..5).map(|_| spawn_get(&cache, &upstream)).collect();
    settle().await;
    upstream.version.store(1, SeqCst);
    cache.invalidate_group("u1").await;
    let after: Vec<_> = (0..5).map(|_| spawn_get(&cache, &upstream)).collect();
    settle().await;
    assert_eq!(upstream.started.load(SeqCst), 2);
    upstream.release(0);
    upstream.release(1);
    for call in before {
        assert_eq!(call.await.unwrap(), 0);
    }
    for call in after {
        assert_eq!(call.await.unwrap(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn invalidation_removes_entries_and_counts_them() {
    let cache = cache();
    for folder in ["a", "b", "c"] {
        cache.get_with("u1", folder, || async { 1 }).await;
    }
    cache.get_with("u2", "a", || async { 2 }).await;
    assert_eq!(cache.invalidate_group("u1").await, 3);
    assert_eq!(cache.len(), 1);
    assert!(cache.invalidate("u2", "a").await);
    assert!(!cache.invalidate("u2", "a").await);
    cache.get_with("u3", "a", || async { 3 }).await;
    assert_eq!(cache.clear().await, 1);
    assert_eq!(cache.stats().invalidated, 5);
    assert_eq!(
        cache.__internal_sizes(),
        (0, 0, 0),
        "emptied groups left the group index"
    );
}

/// Many threads mixing reads and credential rotations on a few users. A rotation bumps the
/// user's upstream version and then invalidates the group; a read that starts after a rotation
/// returned must see at least that version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_read_after_an_invalidation_sees_an_older_version() {
    const USERS: usize = 4;
    let cache = cache();
    let versions: Arc<Vec<AtomicU64>> = Arc::new((0..USERS).map(|_| AtomicU64::new(0)).collect());
    let floors: Arc<Vec<AtomicU64>> = Arc::new((0..USERS).map(|_| AtomicU64::new(0)).collect());
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let (cache, versions, floors) = (cache.clone(), versions.clone(), floors.clone());
        workers.spawn(async move {
            let mut rng = worker.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for _ in 0..1500 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let user = (rng % USERS as u64) as usize;
                let name = format!("user-{user}");
                if rng % 10 == 0 {
                    let v = versions[user].fetch_add(1, SeqCst) + 1;
                    cache.invalidate_group(&name).await;
                    floors[user].fetch_max(v, SeqCst);
                } else {
                    let floor = floors[user].load(SeqCst);
                    let versions = versions.clone();
                    let got = cache
                        .get_with(&name, &format!("folder-{}", rng % 3), || async move {
                            let v = versions[user].load(SeqCst);
                            tokio::task::yield_now().await;
                            v
                        })
                        .await;
                    assert!(
                        got >= floor,
                        "read version {got} after an invalidation at version {floor}"
                    );
                }
            }
        });
    }
    workers.join_all().await;
    assert!(cache.stats().invalidated > 0);
}

/// Stores racing invalidations of the same group on several threads: every read is of a cold
/// key (so each one stores), and each checks that it saw no version older than the last
/// invalidation that returned before it began.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_racing_invalidations_never_resurface_old_versions() {
    let cache = cache();
    let version = Arc::new(AtomicU64::new(0));
    let floor = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let invalidator = {
        let (cache, version, floor, stop) =
            (cache.clone(), version.clone(), floor.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(SeqCst) {
                let v = version.fetch_add(1, SeqCst) + 1;
                cache.invalidate_group("u1").await;
                floor.fetch_max(v, SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let mut readers = tokio::task::JoinSet::new();
    for reader in 0..3u64 {
        let (cache, version, floor) = (cache.clone(), version.clone(), floor.clone());
        readers.spawn(async move {
            for i in 0..20_000u64 {
                let key = format!("{}", i % 64 + 64 * reader);
                let before = floor.load(SeqCst);
                let version = version.clone();
                let got = cache
                    .get_with("u1", &key, || async move { version.load(SeqCst) })
                    .await;
                assert!(
                    got >= before,
                    "read version {got} after an invalidation at {before}"
                );
            }
        });
    }
    readers.join_all().await;
    stop.store(true, SeqCst);
    invalidator.await.unwrap();
}

/// The window the hit-time generation check closes: a leader found its flight current, then an
/// invalidation of the group completed (finding nothing stored yet), then the leader stored
/// its value. Until the leader notices, only the generation check keeps the value unread.
#[test]
fn a_value_invalidated_while_being_stored_is_never_served() {
    use cache_core::HookPoint::{AfterInsert, StoreLocked};
    let (pauses, hook) = ttl_cached_tests::SyncPauses::at(&[(StoreLocked, 0), (AfterInsert, 0)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .__sync_hook(hook)
            .build()
            .unwrap(),
    );
    let leader = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move { cache.get_with("u1", "root", || async { 0 }).await })
        })
    };
    pauses.wait_reached(0);
    assert_eq!(
        cache.invalidate_group("u1").count(),
        0,
        "nothing stored yet"
    );
    pauses.resume(0);
    pauses.wait_reached(1);
    assert_eq!(cache.len(), 1, "the stale value is in the index");
    assert_eq!(
        cache.get("u1", "root"),
        None,
        "a value fetched before the invalidation was served"
    );
    pauses.resume(1);
    assert_eq!(leader.join().unwrap(), 0);
    assert!(cache.is_empty(), "the leader removed its stale entry");
}

/// Which invalidation a mid-invalidation test stops half-way.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Group,
    Key,
    Clear,
}

/// The window the second pass closes: an invalidation has made everything fetched so far
/// unreadable, and before it returns a fetch begins, reads the new stamp, and stores. That fetch
/// began before the invalidation returned, so a call that begins after the return must not be
/// served its value. Without the second pass (one bump at the start, as before) `get` returns it.
fn a_fetch_that_begins_during_an_invalidation_is_not_served_after_it(kind: Kind) {
    use cache_core::HookPoint::InvalidationMidway;
    let (pauses, hook) = ttl_cached_tests::SyncPauses::at(&[(InvalidationMidway, 0)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .__sync_hook(hook)
            .build()
            .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        cache.get_with("u1", "root", || async { 1 }).await;
        cache.get_with("u2", "root", || async { 2 }).await;
    });
    let invalidation = {
        let cache = cache.clone();
        std::thread::spawn(move || match kind {
            Kind::Group => cache.invalidate_group("u1").count(),
            Kind::Key => usize::from(cache.invalidate("u1", "root").count()),
            Kind::Clear => cache.clear().count(),
        })
    };
    pauses.wait_reached(0);
    // Half-way: the old value is already unreadable, and a fetch begins and stores.
    assert_eq!(
        cache.get("u1", "root"),
        None,
        "first pass left the old value readable"
    );
    let during = runtime.block_on(cache.get_with("u1", "root", || async { 10 }));
    assert_eq!(during, 10, "the caller that fetched gets its own value");
    pauses.resume(0);
    let removed = invalidation.join().unwrap();
    assert!(removed >= 1, "{kind:?}: removed {removed}");
    assert_eq!(
        cache.get("u1", "root"),
        None,
        "{kind:?}: a value whose fetch began during the invalidation was served after it returned"
    );
    let after = runtime.block_on(cache.get_with("u1", "root", || async { 20 }));
    assert_eq!(after, 20, "{kind:?}: a call after the return fetched anew");
    let other = cache.get("u2", "root");
    match kind {
        Kind::Clear => assert_eq!(other, None),
        Kind::Group | Kind::Key => assert_eq!(other, Some(2), "{kind:?} touched another group"),
    }
}

#[test]
fn a_fetch_that_begins_during_a_group_invalidation_is_not_served_after_it() {
    a_fetch_that_begins_during_an_invalidation_is_not_served_after_it(Kind::Group);
}

#[test]
fn a_fetch_that_begins_during_a_key_invalidation_is_not_served_after_it() {
    a_fetch_that_begins_during_an_invalidation_is_not_served_after_it(Kind::Key);
}

#[test]
fn a_fetch_that_begins_during_a_clear_is_not_served_after_it() {
    a_fetch_that_begins_during_an_invalidation_is_not_served_after_it(Kind::Clear);
}

/// The invalidation takes effect at the call: a dropped, never-polled `Invalidated` still
/// evicts, and a fetch running at the call is neither stored nor joined afterwards.
#[tokio::test(start_paused = true)]
async fn an_invalidation_that_is_not_awaited_still_invalidates() {
    for kind in [Kind::Group, Kind::Key, Kind::Clear] {
        let cache = cache();
        cache.get_with("u1", "stored", || async { 1 }).await;
        let gate = Arc::new(Notify::new());
        let running = {
            let (cache, gate) = (cache.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_with("u1", "running", || async move {
                        gate.notified().await;
                        2
                    })
                    .await
            })
        };
        settle().await;
        match kind {
            Kind::Group => drop(cache.invalidate_group("u1")),
            // What users write (clippy rightly flags it): it must invalidate all the same.
            #[allow(clippy::let_underscore_future)]
            Kind::Key => {
                let _ = cache.invalidate("u1", "stored");
                let _ = cache.invalidate("u1", "running");
            }
            Kind::Clear => drop(cache.clear()),
        }
        assert_eq!(
            cache.get("u1", "stored"),
            None,
            "{kind:?}: old value served"
        );
        let late = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get_with("u1", "running", || async { 3 }).await })
        };
        settle().await;
        gate.notify_one();
        assert_eq!(running.await.unwrap(), 2);
        assert_eq!(
            late.await.unwrap(),
            3,
            "{kind:?}: a later call joined the old fetch"
        );
        assert_eq!(
            cache.get("u1", "running"),
            Some(3),
            "{kind:?}: old fetch stored"
        );
    }
}

/// A fetch that read its stamp just before an invalidation and registers its flight just after
/// it (so the invalidation found no flight to mark) began before the invalidation: its value
/// must not be stored. The generation in the stamp (the group's, the group's key generation, or
/// the cache's epoch) is what refuses it.
fn a_fetch_stamped_just_before_an_invalidation_is_not_stored(kind: Kind) {
    use cache_core::HookPoint::StampTaken;
    let (pauses, hook) = ttl_cached_tests::SyncPauses::at(&[(StampTaken, 0)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .__sync_hook(hook)
            .build()
            .unwrap(),
    );
    let fetch = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move { cache.get_with("u1", "root", || async { 1 }).await })
        })
    };
    pauses.wait_reached(0);
    let removed = match kind {
        Kind::Group => cache.invalidate_group("u1").count(),
        Kind::Key => usize::from(cache.invalidate("u1", "root").count()),
        Kind::Clear => cache.clear().count(),
    };
    assert_eq!(removed, 0, "nothing stored yet");
    pauses.resume(0);
    assert_eq!(fetch.join().unwrap(), 1, "the caller gets its own fetch");
    assert_eq!(
        cache.get("u1", "root"),
        None,
        "{kind:?}: a value whose fetch began before the invalidation was stored"
    );
}

#[test]
fn a_fetch_stamped_just_before_a_group_invalidation_is_not_stored() {
    a_fetch_stamped_just_before_an_invalidation_is_not_stored(Kind::Group);
}

#[test]
fn a_fetch_stamped_just_before_a_key_invalidation_is_not_stored() {
    a_fetch_stamped_just_before_an_invalidation_is_not_stored(Kind::Key);
}

#[test]
fn a_fetch_stamped_just_before_a_clear_is_not_stored() {
    a_fetch_stamped_just_before_an_invalidation_is_not_stored(Kind::Clear);
}

/// The invalidation returns when its `Invalidated` completes or is dropped: a fetch that
/// begins before that is not stored; one that begins after is.
#[tokio::test(start_paused = true)]
async fn an_invalidation_returns_when_its_future_completes_or_is_dropped() {
    let cache = cache();
    cache.get_with("u1", "a", || async { 1 }).await;
    let pending = cache.invalidate_group("u1");
    assert_eq!(cache.get("u1", "a"), None, "evicted at the call");
    assert_eq!(cache.get_with("u1", "a", || async { 2 }).await, 2);
    assert_eq!(
        cache.get("u1", "a"),
        None,
        "fetched before the return, so not stored"
    );
    assert_eq!(pending.await, 1);
    assert_eq!(cache.get_with("u1", "a", || async { 3 }).await, 3);
    assert_eq!(
        cache.get("u1", "a"),
        Some(3),
        "fetched after the return: stored"
    );
}

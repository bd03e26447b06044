//! TTL on tokio's clock, the hard capacity bound and its eviction order, and reclamation of
//! expired entries that nobody reads again.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::{BuildError, TtlCache};
use tokio::time::{advance, sleep};

type Cache = TtlCache<String, u32, u64>;

fn cache(ttl: u64, capacity: usize) -> Cache {
    TtlCache::builder()
        .ttl(Duration::from_secs(ttl))
        .capacity(capacity)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_entry_is_fresh_at_59s_and_expired_at_61s() {
    let cache = cache(60, 100);
    let fetches = AtomicUsize::new(0);
    let fetch = || async {
        fetches.fetch_add(1, SeqCst);
        7
    };
    cache.get_with("u", &1, fetch).await;
    advance(Duration::from_secs(59)).await;
    assert_eq!(cache.get("u", &1), Some(7));
    cache.get_with("u", &1, fetch).await;
    assert_eq!(fetches.load(SeqCst), 1, "fresh at 59 s");
    advance(Duration::from_secs(2)).await;
    assert_eq!(cache.get("u", &1), None);
    cache.get_with("u", &1, fetch).await;
    assert_eq!(fetches.load(SeqCst), 2, "expired at 61 s");
    assert_eq!(
        cache.stats().evicted_expired,
        1,
        "the expired entry was replaced"
    );
}

#[tokio::test(start_paused = true)]
async fn an_entry_lives_ttl_after_it_was_stored_not_after_its_fetch_began() {
    let cache = cache(60, 100);
    cache
        .get_with("u", &1, || async {
            sleep(Duration::from_secs(10)).await; // a slow upstream
            7
        })
        .await;
    advance(Duration::from_secs(59)).await; // 69 s after the fetch began
    assert_eq!(cache.get("u", &1), Some(7));
    advance(Duration::from_secs(2)).await;
    assert_eq!(cache.get("u", &1), None);
}

#[tokio::test(start_paused = true)]
async fn sub_second_ttls_follow_the_clock_too() {
    let cache: Cache = TtlCache::builder()
        .ttl(Duration::from_millis(250))
        .build()
        .unwrap();
    cache.get_with("u", &1, || async { 1 }).await;
    advance(Duration::from_millis(249)).await;
    assert_eq!(cache.get("u", &1), Some(1));
    advance(Duration::from_millis(2)).await;
    assert_eq!(cache.get("u", &1), None);
}

#[tokio::test(start_paused = true)]
async fn when_full_an_entry_read_since_it_was_stored_outlives_unread_ones() {
    let cache = cache(60, 3);
    for k in 1..=3 {
        cache
            .get_with("u", &k, || async move { u64::from(k) })
            .await;
    }
    assert_eq!(cache.get("u", &1), Some(1)); // 1 is read; 2 is the oldest unread entry
    cache.get_with("u", &4, || async { 4 }).await;
    assert_eq!(cache.len(), 3);
    assert_eq!(
        cache.get("u", &2),
        None,
        "the oldest unread entry was evicted"
    );
    for k in [1, 3, 4] {
        assert!(cache.get("u", &k).is_some(), "{k} stayed");
    }
    assert_eq!(cache.stats().evicted_capacity, 1);
}

#[tokio::test(start_paused = true)]
async fn when_full_expired_entries_go_before_live_ones() {
    let cache = cache(60, 3);
    cache.get_with("u", &1, || async { 1 }).await; // stored at 0 s, expires at 60 s
    advance(Duration::from_secs(30)).await;
    cache.get_with("u", &2, || async { 2 }).await; // stored at 30 s
    cache.get_with("u", &3, || async { 3 }).await;
    advance(Duration::from_secs(31)).await; // 61 s: only 1 has expired
    cache.get_with("u", &4, || async { 4 }).await;
    let stats = cache.stats();
    assert_eq!((stats.evicted_expired, stats.evicted_capacity), (1, 0));
    for k in [2, 3, 4] {
        assert!(cache.get("u", &k).is_some(), "{k} stayed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_entries_never_exceed_capacity_under_concurrent_inserts() {
    let cache = Arc::new(cache(60, 50));
    let over = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8u32 {
        let (cache, over) = (cache.clone(), over.clone());
        writers.spawn(async move {
            for i in 0..2_000u32 {
                cache
                    .get_with(
                        &format!("user-{}", i % 7),
                        &(writer * 10_000 + i),
                        || async { 1 },
                    )
                    .await;
                if cache.len() > 50 {
                    over.fetch_add(1, SeqCst);
                }
            }
        });
    }
    writers.join_all().await;
    assert_eq!(over.load(SeqCst), 0, "len() exceeded the capacity");
    assert!(cache.len() <= 50);
    let (entries, _, _) = cache.__internal_sizes();
    assert!(entries <= 50, "{entries} entries in the index");
    assert!(cache.stats().evicted_capacity >= 16_000 - 50);
}

#[tokio::test(start_paused = true)]
async fn expired_entries_are_reclaimed_without_being_read() {
    let cache = cache(60, 10_000);
    for k in 0..500 {
        cache
            .get_with(&format!("user-{k}"), &k, || async { 1 })
            .await;
    }
    advance(Duration::from_secs(61)).await;
    // Unrelated traffic only: the 500 expired keys are never read again.
    for k in 0..100 {
        cache.get_with("someone-else", &k, || async { 2 }).await;
    }
    assert_eq!(cache.len(), 100);
    assert_eq!(cache.stats().evicted_expired, 500);
    let (entries, groups, flights) = cache.__internal_sizes();
    assert_eq!(
        (entries, groups, flights),
        (100, 1, 0),
        "entries, groups and flights all came back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_churn_of_ten_times_capacity_stays_within_capacity() {
    let cache = cache(60, 1_000);
    let mut peak = 0;
    for k in 0..10_000u32 {
        cache
            .get_with(&format!("user-{}", k % 97), &k, || async { 1 })
            .await;
        peak = peak.max(cache.len());
        if k % 1_000 == 999 {
            advance(Duration::from_secs(20)).await;
        }
    }
    assert!(peak <= 1_000, "peak {peak}");
    let (entries, groups, _) = cache.__internal_sizes();
    assert!(entries <= 1_000);
    assert!(groups <= 97);
    let stats = cache.stats();
    assert_eq!(stats.inserts, 10_000);
    assert_eq!(
        stats.evicted_expired + stats.evicted_capacity + cache.len() as u64,
        10_000
    );
}

#[tokio::test(start_paused = true)]
async fn purge_expired_empties_a_quiet_cache() {
    let cache = cache(60, 100);
    for k in 0..20 {
        cache.get_with("u", &k, || async { 1 }).await;
    }
    advance(Duration::from_secs(61)).await;
    assert_eq!(cache.purge_expired().await, 20);
    assert_eq!(cache.__internal_sizes(), (0, 0, 0));
}

#[test]
fn a_cache_that_would_store_nothing_is_refused() {
    let zero_ttl = TtlCache::<String, u32, u64>::builder()
        .ttl(Duration::ZERO)
        .build();
    assert_eq!(zero_ttl.unwrap_err(), BuildError::ZeroTtl);
    let zero_capacity = TtlCache::<String, u32, u64>::builder()
        .ttl(Duration::from_secs(1))
        .capacity(0)
        .build();
    assert_eq!(zero_capacity.unwrap_err(), BuildError::ZeroCapacity);
    let no_ttl = TtlCache::<String, u32, u64>::builder().build();
    assert_eq!(no_ttl.unwrap_err(), BuildError::MissingTtl);
    assert!(BuildError::ZeroTtl
        .to_string()
        .contains("greater than zero"));
}

#[tokio::test]
async fn a_huge_ttl_does_not_overflow_the_clock() {
    let cache: Cache = TtlCache::builder().ttl(Duration::MAX).build().unwrap();
    cache.get_with("u", &1, || async { 1 }).await;
    assert_eq!(cache.get("u", &1), Some(1));
}

/// A leader cancelled at its last `.await` before storing must not hold a slot of capacity:
/// otherwise each such cancellation shrinks the cache for good. (From that point on the store
/// runs synchronously to the end, so there is no later point at which it can be cancelled.)
#[tokio::test(start_paused = true)]
async fn a_cancelled_store_gives_its_capacity_back() {
    let (pauses, hook) = ttl_cached_tests::Pauses::at(&[(cache_core::HookPoint::BeforeStore, 0)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .capacity(2)
            .__hook(hook)
            .build()
            .unwrap(),
    );
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_with("u", &1, || async { 1 }).await })
    };
    pauses.reached(0).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    cache.get_with("u", &2, || async { 2 }).await;
    cache.get_with("u", &3, || async { 3 }).await;
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache.get("u", &2),
        Some(2),
        "both new entries fit: no slot was leaked"
    );
    assert_eq!(cache.get("u", &3), Some(3));
    assert_eq!(cache.stats().evicted_capacity, 0);
}

/// A leader of a full cache cancelled just before it would evict must leave the would-be victim
/// stored and evictable: the next store still makes room.
#[tokio::test(start_paused = true)]
async fn a_cancelled_eviction_leaves_its_victim_evictable() {
    let (pauses, hook) = ttl_cached_tests::Pauses::at(&[(cache_core::HookPoint::BeforeStore, 1)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .capacity(1)
            .__hook(hook)
            .build()
            .unwrap(),
    );
    cache.get_with("u", &1, || async { 1 }).await;
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_with("u", &2, || async { 2 }).await })
    };
    pauses.reached(0).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    assert_eq!(
        cache.get("u", &1),
        Some(1),
        "the would-be victim is still stored"
    );
    cache.get_with("u", &3, || async { 3 }).await;
    assert_eq!(
        cache.get("u", &3),
        Some(3),
        "the full cache could still make room"
    );
    assert_eq!(cache.get("u", &1), None);
    assert_eq!(cache.len(), 1);
}

//! Which entries a full cache keeps. Every miss is an upstream call against a slow, rate-limited
//! API, so a read entry must outlive unread ones, and a scan of one-off keys must not flush the
//! entries that are read again and again. (`benches/examples/miss_ratio.rs` measures the miss
//! ratio against peers on long traces; these tests pin the behaviours.)

use std::time::Duration;

use cache_core::TtlCache;

type Cache = TtlCache<String, u32, u32>;

fn cache(capacity: usize) -> Cache {
    TtlCache::builder()
        .ttl(Duration::from_secs(3600))
        .capacity(capacity)
        .build()
        .unwrap()
}

async fn store(cache: &Cache, k: u32) {
    cache.get_with("u", &k, || async move { k }).await;
}

/// Ported from Python's `cachetools.TTLCache(maxsize=1000)`: store f0..f999, read f0, store
/// 100 more. f0 must stay while never-read entries go (with a FIFO, or a CLOCK whose second
/// chance leaves the read entry at the front, f0 goes after one more eviction).
#[tokio::test(start_paused = true)]
async fn a_read_entry_outlives_entries_never_read() {
    let cache = cache(1_000);
    for k in 0..1_000 {
        store(&cache, k).await;
    }
    assert_eq!(cache.get("u", &0), Some(0));
    for k in 1_000..1_100 {
        store(&cache, k).await;
    }
    assert_eq!(cache.len(), 1_000);
    assert_eq!(cache.get("u", &0), Some(0), "the read entry was evicted");
    assert_eq!(cache.stats().evicted_capacity, 100);
    let unread_left = (1..1_000).filter(|k| cache.get("u", k).is_some()).count();
    assert_eq!(unread_left, 899, "the 100 evicted were unread ones");
}

/// A scan of 20 times the capacity in one-off keys leaves the entries read more than once in
/// place: one-off keys leave from the small probationary queue.
#[tokio::test(start_paused = true)]
async fn a_scan_of_one_off_keys_does_not_flush_the_hot_entries() {
    let cache = cache(100);
    for round in 0..3 {
        for k in 0..50 {
            store(&cache, k).await;
            if round > 0 {
                assert_eq!(cache.get("u", &k), Some(k));
            }
        }
    }
    for k in 1_000..3_000 {
        store(&cache, k).await;
    }
    let hot_left = (0..50).filter(|k| cache.get("u", k).is_some()).count();
    assert_eq!(
        hot_left,
        50,
        "the scan flushed {} hot entries",
        50 - hot_left
    );
    assert!(cache.len() <= 100);
}

/// A key evicted without a second read, and asked for again soon after, was evicted too
/// early: it comes back into the main queue, where a following scan does not reach it.
#[tokio::test(start_paused = true)]
async fn a_key_asked_for_again_soon_after_its_eviction_is_kept_longer() {
    let cache = cache(100);
    store(&cache, 7).await;
    // 31 evictions, 7 the first: within the ghost list's memory (half the capacity).
    for k in 1_000..1_130 {
        store(&cache, k).await;
    }
    assert_eq!(cache.get("u", &7), None, "evicted unread by the first scan");
    store(&cache, 7).await; // its ghost is remembered: into the main queue
    for k in 2_000..2_500 {
        store(&cache, k).await;
    }
    assert_eq!(
        cache.get("u", &7),
        Some(7),
        "the second scan evicted it again"
    );
}

/// When the popular keys change, the old ones leave the main queue within about a round, not
/// after the several rounds their hit counts would buy them in a steady workload: the cache
/// notices that most of its best-credited entries went a whole round unread.
#[tokio::test(start_paused = true)]
async fn when_the_popular_keys_change_the_old_ones_leave_quickly() {
    let cache = cache(200);
    // Reads each of `keys` twice in a row, storing it on a miss; returns the misses.
    let round = |keys: std::ops::Range<u32>| {
        let cache = &cache;
        async move {
            let mut misses = 0;
            for k in keys {
                for _ in 0..2 {
                    if cache.get("u", &k).is_none() {
                        store(cache, k).await;
                        misses += 1;
                    }
                }
            }
            misses
        }
    };
    // Yesterday's favourites (150 of the 200 slots), read again and again while one-off keys
    // come and go.
    let mut one_off = 1_000_000;
    let mut yesterday = 0;
    for _ in 0..20 {
        yesterday = round(0..150).await;
        round(one_off..one_off + 30).await;
        one_off += 30;
    }
    assert_eq!(
        yesterday, 0,
        "the favourites were evicted in a steady workload"
    );
    // Today's favourites: a different set of 150.
    let mut misses = Vec::new();
    for _ in 0..6 {
        misses.push(round(10_000..10_150).await);
        round(one_off..one_off + 30).await;
        one_off += 30;
    }
    assert_eq!(misses[0], 150);
    // Keeping yesterday's favourites for as many rounds as their counters allow (the policy
    // before the shift detection) misses 135 of 150 here.
    assert!(
        misses[1] <= 50,
        "the second round of today's favourites missed {} of 150: {misses:?}",
        misses[1]
    );
    assert!(misses[2..].iter().all(|&m| m == 0), "{misses:?}");
}

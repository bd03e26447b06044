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

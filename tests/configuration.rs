//! TTL and capacity from configuration: named in the attribute (`ttl = LISTING_TTL`,
//! `capacity = LISTINGS`), and changed at run time (`set_ttl`, `set_capacity`) on a generated
//! handle and on a `TtlCache`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cache_core::{ttl_cached, BuildError, TtlCache};
use tokio::time::advance;

const LISTING_TTL: Duration = Duration::from_secs(30);
static METADATA_TTL_SECS: u64 = 120;
const LISTINGS: usize = 3;

mod config {
    pub(crate) static SEARCH_TTL: std::time::Duration = std::time::Duration::from_millis(1_500);
    pub(crate) static SEARCHES: usize = 7;
}

static LISTED: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = LISTING_TTL, capacity = LISTINGS)]
async fn list_folders(user: u32) -> Vec<u32> {
    LISTED.fetch_add(1, SeqCst);
    vec![user]
}

#[ttl_cached(ttl = METADATA_TTL_SECS)]
async fn file_metadata(file: u32) -> String {
    format!("file {file}")
}

#[ttl_cached(ttl = config::SEARCH_TTL, capacity = config::SEARCHES)]
async fn search(query: &str) -> Vec<String> {
    vec![query.to_string()]
}

#[tokio::test(start_paused = true)]
async fn a_named_ttl_and_capacity_are_the_caches_settings() {
    assert_eq!(list_folders_cache().ttl(), LISTING_TTL);
    assert_eq!(list_folders_cache().capacity(), LISTINGS);
    assert_eq!(file_metadata_cache().ttl(), Duration::from_secs(120));
    assert_eq!(search_cache().ttl(), Duration::from_millis(1_500));
    assert_eq!(search_cache().capacity(), 7);

    // The named values are what the cache runs with: expiry at 30 s, at most 3 entries.
    for user in 0..5 {
        list_folders(user).await;
    }
    assert_eq!(list_folders_cache().len(), LISTINGS);
    let before = LISTED.load(SeqCst);
    list_folders(4).await;
    assert_eq!(LISTED.load(SeqCst), before, "fresh");
    advance(Duration::from_secs(31)).await;
    list_folders(4).await;
    assert_eq!(
        LISTED.load(SeqCst),
        before + 1,
        "expired after the named 30 s"
    );

    search("q").await;
    advance(Duration::from_millis(1_600)).await;
    assert_eq!(search_cache().purge_expired().await, 1);
    file_metadata(1).await;
    advance(Duration::from_secs(119)).await;
    assert_eq!(file_metadata_cache().purge_expired().await, 0);
}

static NAMED: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60)]
async fn set_before_first_call(n: u32) -> u32 {
    NAMED.fetch_add(1, SeqCst);
    n
}

/// The usual start-up order: configuration is applied before the function's first call, when
/// its cache does not exist yet. The setting must reach the cache made later.
#[tokio::test(start_paused = true)]
async fn a_setting_made_before_the_first_call_applies_to_the_cache_made_later() {
    let handle = set_before_first_call_cache();
    handle.set_ttl(Duration::from_secs(5)).unwrap();
    handle.set_capacity(2).unwrap();
    assert_eq!(handle.ttl(), Duration::from_secs(5));
    for n in 0..4 {
        set_before_first_call(n).await;
    }
    assert_eq!(handle.len(), 2, "the capacity set before the first call");
    advance(Duration::from_secs(6)).await;
    assert_eq!(
        handle.purge_expired().await,
        2,
        "the ttl set before the first call"
    );
}

#[ttl_cached(ttl = 60)]
async fn set_while_storing(n: u32) -> u32 {
    n
}

/// A new TTL applies to values stored afterwards; values already stored keep their expiry.
#[tokio::test(start_paused = true)]
async fn a_new_ttl_applies_to_values_stored_afterwards() {
    set_while_storing(1).await; // 60 s
    set_while_storing_cache()
        .set_ttl(Duration::from_secs(10))
        .unwrap();
    set_while_storing(2).await; // 10 s
    advance(Duration::from_secs(11)).await;
    assert_eq!(set_while_storing_cache().purge_expired().await, 1);
    assert_eq!(
        set_while_storing_cache().len(),
        1,
        "the 60 s value is still there"
    );
    set_while_storing_cache()
        .set_ttl(Duration::from_secs(600))
        .unwrap();
    set_while_storing(3).await; // 600 s
    advance(Duration::from_secs(50)).await; // 61 s after the first store
    assert_eq!(set_while_storing_cache().purge_expired().await, 1);
    assert_eq!(set_while_storing_cache().len(), 1, "the 600 s value");
}

#[ttl_cached(ttl = 60, capacity = 10)]
async fn shrunk(n: u32) -> u32 {
    n
}

/// Lowered below the number stored, the capacity evicts down at once (and the values evicted
/// are gone); later stores keep to it; raised again, more entries are kept.
#[tokio::test]
async fn a_lowered_capacity_evicts_down_at_once_and_bounds_later_stores() {
    for n in 0..10 {
        shrunk(n).await;
    }
    assert_eq!(shrunk_cache().len(), 10);
    shrunk_cache().set_capacity(4).unwrap();
    assert_eq!(shrunk_cache().capacity(), 4);
    assert_eq!(shrunk_cache().len(), 4);
    assert_eq!(shrunk_cache().stats().evicted_capacity, 6);
    for n in 10..20 {
        shrunk(n).await;
        assert!(shrunk_cache().len() <= 4);
    }
    shrunk_cache().set_capacity(8).unwrap();
    for n in 20..30 {
        shrunk(n).await;
    }
    assert_eq!(shrunk_cache().len(), 8);
}

#[ttl_cached(ttl = 60, capacity = 5)]
async fn refused(n: u32) -> u32 {
    n
}

#[tokio::test]
async fn a_zero_setting_at_run_time_is_an_error_and_changes_nothing() {
    let handle = refused_cache();
    assert_eq!(handle.set_ttl(Duration::ZERO), Err(BuildError::ZeroTtl));
    assert_eq!(handle.set_capacity(0), Err(BuildError::ZeroCapacity));
    refused(1).await; // the cache is made with the attribute's settings
    assert_eq!(handle.set_ttl(Duration::ZERO), Err(BuildError::ZeroTtl));
    assert_eq!(handle.set_capacity(0), Err(BuildError::ZeroCapacity));
    assert_eq!(
        (handle.ttl(), handle.capacity()),
        (Duration::from_secs(60), 5)
    );
    for n in 0..7 {
        refused(n).await;
    }
    assert_eq!(handle.len(), 5);
}

const NO_TIME: Duration = Duration::ZERO;

#[ttl_cached(ttl = NO_TIME)]
async fn named_zero(n: u32) -> u32 {
    n
}

/// A zero written in the attribute is a compile error (`tests/ui/zero-ttl.rs`); a zero named by
/// it is refused when the cache is made, with a panic that says which cache and which setting.
#[tokio::test]
#[should_panic(expected = "the `ttl` named in its `#[ttl_cached]` attribute is zero")]
async fn a_named_zero_ttl_panics_when_the_cache_is_made() {
    named_zero(1).await;
}

type Cache = TtlCache<String, u32, u64>;

#[tokio::test(start_paused = true)]
async fn a_ttlcache_takes_new_settings_like_a_handle() {
    let cache: Cache = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .capacity(100)
        .build()
        .unwrap();
    cache.get_with("u", &1, || async { 1 }).await;
    cache.set_ttl(Duration::from_secs(1)).unwrap();
    cache.get_with("u", &2, || async { 2 }).await;
    advance(Duration::from_secs(2)).await;
    assert_eq!(cache.get("u", &1), Some(1));
    assert_eq!(cache.get("u", &2), None);

    for n in 3..50 {
        cache
            .get_with("u", &n, || async move { u64::from(n) })
            .await;
    }
    cache.set_capacity(10).unwrap();
    assert_eq!(cache.len(), 10);
    // The expired entry went first.
    assert_eq!(cache.stats().evicted_expired, 1);
    assert_eq!(cache.set_capacity(0), Err(BuildError::ZeroCapacity));
    assert_eq!(cache.set_ttl(Duration::ZERO), Err(BuildError::ZeroTtl));
    assert_eq!(
        (cache.capacity(), cache.ttl()),
        (10, Duration::from_secs(1))
    );
}

/// "No bound", named through a `const`: its value is known only at run time.
const UNBOUNDED: usize = usize::MAX;

#[ttl_cached(ttl = 60, capacity = UNBOUNDED)]
async fn unbounded(n: u32) -> u32 {
    n
}

#[ttl_cached(ttl = 60, capacity = usize::MAX)]
async fn unbounded_by_path(n: u32) -> u32 {
    n
}

/// `capacity = usize::MAX` saturates (to a bound no machine reaches) instead of overflowing in
/// the eviction queues' sizing, which panicked on the first call in debug builds.
#[tokio::test]
async fn a_capacity_of_usize_max_saturates_and_the_cache_works() {
    for n in 0..100 {
        assert_eq!(unbounded(n).await, n);
        assert_eq!(unbounded_by_path(n).await, n);
    }
    assert_eq!(unbounded(7).await, 7);
    assert_eq!(unbounded_by_path(7).await, 7);
    for cache in [unbounded_cache(), unbounded_by_path_cache()] {
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.stats().hits, 1);
        assert_eq!(cache.stats().evicted_capacity, 0);
        assert!(cache.capacity() >= usize::MAX / 4, "{}", cache.capacity());
    }
}

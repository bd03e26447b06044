//! Group invalidation costs O(group size), not O(cache size): counted in key hashes, which a
//! scan of the cache would do once per entry.

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use cache_core::TtlCache;

thread_local! {
    static HASHES: Cell<u64> = const { Cell::new(0) };
}

/// A key part that counts how often it is hashed.
#[derive(Clone, PartialEq, Eq)]
struct Counted(u64);

impl Hash for Counted {
    fn hash<H: Hasher>(&self, state: &mut H) {
        HASHES.with(|h| h.set(h.get() + 1));
        self.0.hash(state);
    }
}

fn hashes() -> u64 {
    HASHES.with(Cell::get)
}

async fn hashes_to_invalidate_a_group_of_20(other_entries: u64) -> u64 {
    let cache: TtlCache<Counted, Counted, u8> = TtlCache::builder()
        .ttl(Duration::from_secs(600))
        .capacity(1_000_000)
        .build()
        .unwrap();
    for i in 0..other_entries {
        cache
            .get_with(&Counted(1 + i / 20), &Counted(i), || async { 0 })
            .await;
    }
    for i in 0..20 {
        cache
            .get_with(&Counted(0), &Counted(i), || async { 0 })
            .await;
    }
    let before = hashes();
    assert_eq!(cache.invalidate_group(&Counted(0)).await, 20);
    hashes() - before
}

#[tokio::test(flavor = "current_thread")]
async fn invalidating_a_group_does_not_scan_the_cache() {
    let small = hashes_to_invalidate_a_group_of_20(1_000).await;
    let large = hashes_to_invalidate_a_group_of_20(100_000).await;
    assert_eq!(small, large, "the cost did not grow with the cache");
    assert!(small < 200, "{small} hashes for 20 entries");
}

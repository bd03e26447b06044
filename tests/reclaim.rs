//! Removed entries release their values promptly. A test binary of its own: epoch-based
//! reclamation waits for every thread that holds an epoch, so other tests running beside this
//! one would make the timing below depend on them.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::TtlCache;
use tokio::time::advance;

/// A value that counts its drops.
#[derive(Clone)]
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Removed entries release their values within a few hundred operations, without waiting for
/// scc's `HashIndex` to clean the removed entries out of their buckets, which takes far longer.
#[tokio::test(start_paused = true)]
async fn removed_values_are_dropped_not_kept_by_the_index() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let cache: TtlCache<String, u32, Tracked> = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .capacity(10_000)
        .build()
        .unwrap();
    for k in 0..2_000 {
        let value = Tracked(dropped.clone());
        let group = if k < 1_000 { "invalidated" } else { "expired" };
        cache.get_with(group, &k, || async move { value }).await;
    }
    // Each stored value has one clone in the cache; the caller's copy was dropped already.
    let baseline = dropped.load(SeqCst);
    assert_eq!(cache.invalidate_group("invalidated").await, 1_000);
    advance(Duration::from_secs(61)).await;
    assert_eq!(cache.purge_expired().await, 1_000);
    // Epoch-based reclamation frees a value once no reader can still see it, which takes a
    // little more activity on the cache's threads (here, a few hundred lookups).
    for _ in 0..512 {
        let _ = cache.get("nobody", &0);
    }
    tokio::task::yield_now().await;
    assert_eq!(
        dropped.load(SeqCst) - baseline,
        2_000,
        "every removed value was dropped"
    );
}

//! Removed entries release their values at removal: when `invalidate_group`, `invalidate`,
//! `clear` or `purge_expired` returns, the values it removed have been dropped, with no later
//! traffic needed (an idle thread used to keep them, through epoch-based reclamation).

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

/// Removed entries release their values as they are removed, without waiting for scc's
/// `HashIndex` to clean the removed entries out of their buckets, nor for any later operation.
#[tokio::test(start_paused = true)]
async fn removed_values_are_dropped_not_kept_by_the_index() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let cache: TtlCache<String, u32, Tracked> = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .capacity(10_000)
        .build()
        .unwrap();
    for k in 0..3_000 {
        let value = Tracked(dropped.clone());
        let group = match k {
            0..1_000 => "invalidated",
            1_000..2_000 => "expired",
            _ => "cleared",
        };
        cache.get_with(group, &k, || async move { value }).await;
    }
    // Each stored value has one clone in the cache; the caller's copy was dropped already.
    let baseline = dropped.load(SeqCst);
    assert_eq!(cache.invalidate_group("invalidated").await, 1_000);
    assert_eq!(
        dropped.load(SeqCst) - baseline,
        1_000,
        "after invalidate_group"
    );
    assert!(cache.invalidate("cleared", &2_000).await);
    assert_eq!(dropped.load(SeqCst) - baseline, 1_001, "after invalidate");
    advance(Duration::from_secs(61)).await;
    assert_eq!(cache.purge_expired().await, 2_999 - 1_000);
    assert_eq!(
        dropped.load(SeqCst) - baseline,
        3_000,
        "after purge_expired"
    );
}

/// `clear` drops every value before it returns, on a multi-thread runtime whose workers did the
/// stores and then went idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_drops_values_stored_by_idle_workers() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let cache: Arc<TtlCache<String, u32, Tracked>> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .capacity(10_000)
            .build()
            .unwrap(),
    );
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4u32 {
        let (cache, dropped) = (cache.clone(), dropped.clone());
        workers.spawn(async move {
            for k in 0..500 {
                let value = Tracked(dropped.clone());
                cache
                    .get_with(&format!("user-{w}"), &k, || async move { value })
                    .await;
            }
        });
    }
    workers.join_all().await;
    let baseline = dropped.load(SeqCst);
    assert_eq!(cache.clear().await, 2_000);
    assert_eq!(dropped.load(SeqCst) - baseline, 2_000, "after clear");
}

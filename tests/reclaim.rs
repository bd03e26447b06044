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

/// A value whose `Drop` calls back into its cache: `invalidate` of its own key, which takes
/// that key's flight entry. Only the copies made while `armed` do it.
#[derive(Clone)]
struct CallsBack {
    cache: Arc<std::sync::OnceLock<Arc<TtlCache<String, u32, CallsBack>>>>,
    armed: Arc<std::sync::atomic::AtomicBool>,
    called_back: Arc<AtomicUsize>,
}

impl Drop for CallsBack {
    fn drop(&mut self) {
        if self.armed.load(SeqCst) {
            if let Some(cache) = self.cache.get() {
                drop(cache.invalidate("g", &1));
                self.called_back.fetch_add(1, SeqCst);
            }
        }
    }
}

/// The copy of a fetched value made for storing is dropped outside every lock when the store is
/// refused (here: the group was invalidated while the fetch ran), so a value's `Drop` may use
/// the cache. It used to be dropped under the key's flight entry, and this call back into the
/// same entry never returned.
#[test]
fn a_value_refused_for_storing_is_dropped_outside_the_flight_entry() {
    let (done, finished) = std::sync::mpsc::channel();
    let called_back = Arc::new(AtomicUsize::new(0));
    let counted = called_back.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let cache = Arc::new(
                TtlCache::<String, u32, CallsBack>::builder()
                    .ttl(Duration::from_secs(60))
                    .capacity(100)
                    .build()
                    .unwrap(),
            );
            let slot = Arc::new(std::sync::OnceLock::new());
            let _ = slot.set(cache.clone());
            let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let value = CallsBack {
                cache: slot.clone(),
                armed: armed.clone(),
                called_back: counted,
            };
            let invalidator = cache.clone();
            let answer = cache
                .get_with("g", &1, || async move {
                    // While the fetch runs: its result may no longer be stored.
                    drop(invalidator.invalidate_group("g"));
                    armed.store(true, SeqCst);
                    value
                })
                .await;
            answer.armed.store(false, SeqCst);
            assert_eq!(
                cache.len(),
                0,
                "a fetch that began before the invalidation is not stored"
            );
            // Break the cycle between the cache and the values that name it.
            drop(answer);
        });
        let _ = done.send(());
    });
    finished.recv_timeout(Duration::from_secs(30)).expect(
        "a value's Drop that calls back into the cache never returned: dropped under a lock",
    );
    assert!(
        called_back.load(SeqCst) >= 1,
        "the refused copy was dropped, and its Drop called back"
    );
}

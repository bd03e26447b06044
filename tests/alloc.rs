//! A hit allocates nothing: counted by a global allocator, over many hits, through the runtime
//! and through `#[ttl_cached]` with borrowed `&str` key parts.
#![allow(unsafe_code)] // the counting allocator below

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use cache_core::{ttl_cached, TtlCache};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls on the current thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[ttl_cached(
    ttl = 600,
    key = "<user_id>:<provider>:<folder_id>",
    group = "<user_id>:<provider>"
)]
async fn list_folders(
    user_id: &str,
    provider: &str,
    folder_id: &str,
) -> Result<Arc<Vec<u64>>, String> {
    Ok(Arc::new(vec![
        user_id.len() as u64,
        provider.len() as u64,
        folder_id.len() as u64,
    ]))
}

#[test]
fn hits_allocate_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cache: TtlCache<(String, String), String, Arc<Vec<u64>>> = TtlCache::builder()
            .ttl(Duration::from_secs(600))
            .build()
            .unwrap();
        let group = ("user-0123456789".to_string(), "google-drive".to_string());
        cache
            .get_with(&group, "folder-abcdef", || async {
                Arc::new(vec![1, 2, 3])
            })
            .await;
        list_folders("user-0123456789", "google-drive", "folder-abcdef")
            .await
            .unwrap();
        // Warm-up hits: the first ones set up thread-local state (epoch-based reclamation).
        for _ in 0..10 {
            cache
                .get_with(&group, "folder-abcdef", || async { unreachable!() })
                .await;
            list_folders("user-0123456789", "google-drive", "folder-abcdef")
                .await
                .unwrap();
        }

        let before = allocations();
        for _ in 0..10_000 {
            let value = cache
                .get_with(&group, "folder-abcdef", || async { unreachable!() })
                .await;
            assert_eq!(value.len(), 3);
        }
        assert_eq!(allocations() - before, 0, "runtime hits allocated");

        let before = allocations();
        for _ in 0..10_000 {
            let value = list_folders("user-0123456789", "google-drive", "folder-abcdef")
                .await
                .unwrap();
            assert_eq!(value.len(), 3);
        }
        assert_eq!(allocations() - before, 0, "#[ttl_cached] hits allocated");
        assert_eq!(list_folders_cache().stats().hits, 10_010);

        // The counter does count: a miss allocates.
        let before = allocations();
        list_folders("someone-else", "dropbox", "root")
            .await
            .unwrap();
        assert!(allocations() > before);
    });
}

#[test]
fn borrowed_tuple_hits_allocate_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cache: TtlCache<(String, String), String, Arc<Vec<u64>>> = TtlCache::builder()
            .ttl(Duration::from_secs(600))
            .build()
            .unwrap();
        let group = cache_core::Borrowed(("user-0123456789", "google-drive"));
        cache
            .get_with(&group, "folder-abcdef", || async { Arc::new(vec![1]) })
            .await;
        for _ in 0..10 {
            cache
                .get_with(&group, "folder-abcdef", || async { unreachable!() })
                .await;
        }
        let before = allocations();
        for _ in 0..10_000 {
            cache
                .get_with(&group, "folder-abcdef", || async { unreachable!() })
                .await;
        }
        assert_eq!(allocations() - before, 0);
    });
}

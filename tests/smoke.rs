use cache_core::ttl_cached;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, PartialEq)]
struct ApiError(String);

#[ttl_cached(
    ttl = 60,
    key = "<user_id>:<provider>:<folder_id>",
    group = "<user_id>:<provider>"
)]
async fn list_folders(
    user_id: &str,
    provider: &str,
    folder_id: &str,
) -> Result<Arc<Vec<String>>, ApiError> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(Arc::new(vec![format!("{user_id}/{provider}/{folder_id}")]))
}

#[tokio::test]
async fn smoke() {
    let a = list_folders("u1", "drive", "root").await.unwrap();
    let b = list_folders("u1", "drive", "root").await.unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(invalidate_list_folders("u1", "drive").await, 1);
    let _ = list_folders("u1", "drive", "root").await.unwrap();
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    let s = list_folders_cache().stats();
    assert_eq!((s.hits, s.misses, s.invalidated), (1, 2, 1));
}

//! `#[ttl_cached]` on free functions: templates, groups, TTL forms, capacity, companions, and
//! which outcomes are stored.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::ttl_cached;
use tokio::time::advance;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError(String);

static LIST_CALLS: AtomicUsize = AtomicUsize::new(0);

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
    LIST_CALLS.fetch_add(1, SeqCst);
    if folder_id == "missing" {
        return Err(ApiError(format!("{folder_id} not found")));
    }
    Ok(Arc::new(vec![format!("{user_id}/{provider}/{folder_id}")]))
}

#[tokio::test(start_paused = true)]
async fn caches_per_key_and_invalidates_per_group() {
    let a = list_folders("u1", "drive", "root").await.unwrap();
    let b = list_folders("u1", "drive", "root").await.unwrap();
    assert!(Arc::ptr_eq(&a, &b), "the second call was a hit");
    list_folders("u1", "drive", "docs").await.unwrap();
    list_folders("u1", "dropbox", "root").await.unwrap();
    list_folders("u2", "drive", "root").await.unwrap();
    assert_eq!(LIST_CALLS.load(SeqCst), 4);
    assert_eq!(list_folders_cache().len(), 4);

    assert_eq!(
        invalidate_list_folders("u1", "drive").await,
        2,
        "both folders of (u1, drive)"
    );
    assert_eq!(list_folders_cache().len(), 2);
    list_folders("u1", "dropbox", "root").await.unwrap();
    assert_eq!(LIST_CALLS.load(SeqCst), 4, "(u1, dropbox) was left alone");
    list_folders("u1", "drive", "root").await.unwrap();
    assert_eq!(LIST_CALLS.load(SeqCst), 5, "(u1, drive) is fetched again");

    // Errors go to the caller and are never stored.
    assert!(list_folders("u1", "drive", "missing").await.is_err());
    assert!(list_folders("u1", "drive", "missing").await.is_err());
    assert_eq!(LIST_CALLS.load(SeqCst), 7);

    advance(Duration::from_secs(61)).await;
    list_folders("u2", "drive", "root").await.unwrap();
    assert_eq!(LIST_CALLS.load(SeqCst), 8, "expired after 60 s");

    let stats = list_folders_cache().stats();
    assert_eq!(stats.hits, 2);
    assert_eq!(stats.misses, 8);
    assert_eq!(stats.invalidated, 2);
    assert_eq!(list_folders_cache().ttl(), Duration::from_secs(60));
    assert_eq!(list_folders_cache().capacity(), 10_000);
    assert!(list_folders_cache()
        .name()
        .ends_with("free_fn::list_folders"));
}

static SQUARES: AtomicUsize = AtomicUsize::new(0);

/// Default key: every parameter; default group: the whole key.
#[ttl_cached(ttl = "1m30s", capacity = 2)]
pub(crate) async fn square(n: u64, offset: u64) -> u64 {
    SQUARES.fetch_add(1, SeqCst);
    n * n + offset
}

#[tokio::test(start_paused = true)]
async fn default_key_default_group_and_capacity() {
    assert_eq!(square(3, 0).await, 9);
    assert_eq!(square(3, 1).await, 10);
    assert_eq!(square(3, 0).await, 9);
    assert_eq!(SQUARES.load(SeqCst), 2);
    square(4, 0).await;
    assert_eq!(square_cache().len(), 2, "capacity 2");
    assert_eq!(square_cache().capacity(), 2);
    assert_eq!(square_cache().ttl(), Duration::from_secs(90));
    // The group is the whole key: invalidation takes every parameter.
    let removed = invalidate_square(4, 0).await;
    assert_eq!(removed, 1);
    advance(Duration::from_secs(91)).await;
    square(3, 0).await;
    assert_eq!(SQUARES.load(SeqCst), 4, "expired after 90 s");
    assert_eq!(square_cache().clear().await, 1);
    assert!(square_cache().is_empty());
}

static GREETS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = "250ms", key = "<name>")]
async fn greet(name: String) -> String {
    GREETS.fetch_add(1, SeqCst);
    format!("hello {name}") // the body may move the parameters the key borrowed
}

#[tokio::test(start_paused = true)]
async fn millisecond_ttls_and_owned_parameters() {
    greet("ann".to_string()).await;
    advance(Duration::from_millis(200)).await;
    assert_eq!(greet("ann".to_string()).await, "hello ann");
    assert_eq!(GREETS.load(SeqCst), 1);
    advance(Duration::from_millis(60)).await;
    greet("ann".to_string()).await;
    assert_eq!(GREETS.load(SeqCst), 2);
}

static CONFIG_LOADS: AtomicUsize = AtomicUsize::new(0);

/// No parameters: one entry; `invalidate_<fn>()` takes none.
#[ttl_cached(ttl = 5)]
async fn load_config() -> Arc<String> {
    CONFIG_LOADS.fetch_add(1, SeqCst);
    Arc::new("config".into())
}

#[tokio::test]
async fn a_function_without_parameters_has_one_entry() {
    load_config().await;
    load_config().await;
    assert_eq!(CONFIG_LOADS.load(SeqCst), 1);
    assert_eq!(invalidate_load_config().await, 1);
    load_config().await;
    assert_eq!(CONFIG_LOADS.load(SeqCst), 2);
}

mod aliases {
    //! `Err` is never stored, whatever the `Result` is called.
    use super::*;

    pub(crate) type ApiResult<T> = Result<T, ApiError>;

    pub(crate) static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[ttl_cached(ttl = 60)]
    pub(crate) async fn with_anyhow(fail: bool) -> anyhow::Result<u32> {
        CALLS.fetch_add(1, SeqCst);
        if fail {
            anyhow::bail!("upstream said 503");
        }
        Ok(1)
    }

    #[ttl_cached(ttl = 60)]
    pub(crate) async fn with_io(fail: bool) -> std::io::Result<u32> {
        CALLS.fetch_add(1, SeqCst);
        if fail {
            return Err(std::io::Error::other("connection reset"));
        }
        Ok(2)
    }

    #[ttl_cached(ttl = 60)]
    pub(crate) async fn with_user_alias(fail: bool) -> ApiResult<u32> {
        CALLS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError("429".into()))?;
        }
        Ok(3)
    }

    /// Not a `Result`: every value is stored, `None` included.
    #[ttl_cached(ttl = 60)]
    pub(crate) async fn plain_option(present: bool) -> Option<u32> {
        CALLS.fetch_add(1, SeqCst);
        present.then_some(4)
    }
}

#[tokio::test]
async fn err_is_never_stored_even_through_aliases() {
    use aliases::*;
    for _ in 0..2 {
        assert!(with_anyhow(true).await.is_err());
        assert!(with_io(true).await.is_err());
        assert!(with_user_alias(true).await.is_err());
    }
    assert_eq!(CALLS.load(SeqCst), 6, "every failing call ran");
    assert!(
        with_anyhow_cache().is_empty()
            && with_io_cache().is_empty()
            && with_user_alias_cache().is_empty()
    );
    for _ in 0..2 {
        assert_eq!(with_anyhow(false).await.unwrap(), 1);
        assert_eq!(with_io(false).await.unwrap(), 2);
        assert_eq!(with_user_alias(false).await.unwrap(), 3);
        assert_eq!(plain_option(false).await, None);
    }
    assert_eq!(
        CALLS.load(SeqCst),
        10,
        "Ok values and plain values were stored"
    );
}

static SLOW: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>")]
async fn slow_failing(user: &str) -> Result<u32, ApiError> {
    SLOW.fetch_add(1, SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Err(ApiError(format!("{user}: 429")))
}

#[tokio::test(start_paused = true)]
async fn a_stampede_on_a_failing_upstream_makes_one_call_when_the_error_is_clone() {
    let calls: Vec<_> = (0..100).map(|_| tokio::spawn(slow_failing("u1"))).collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), Err(ApiError("u1: 429".into())));
    }
    assert_eq!(SLOW.load(SeqCst), 1);
    assert!(slow_failing_cache().is_empty());
}

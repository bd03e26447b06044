//! Results returned but not stored: `store_none = false` and `store_if = PREDICATE`, and the
//! default they change (every value is stored, `None` included).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cache_core::ttl_cached;
use tokio::sync::Notify;

/// What the next call of a function below returns, and how many times its body ran.
struct Upstream<T> {
    next: std::sync::Mutex<T>,
    runs: AtomicUsize,
}

impl<T: Clone> Upstream<T> {
    const fn new(first: T) -> Self {
        Self {
            next: std::sync::Mutex::new(first),
            runs: AtomicUsize::new(0),
        }
    }
    fn set(&self, next: T) {
        *self.next.lock().unwrap() = next;
    }
    fn fetch(&self) -> T {
        self.runs.fetch_add(1, SeqCst);
        self.next.lock().unwrap().clone()
    }
    fn runs(&self) -> usize {
        self.runs.load(SeqCst)
    }
}

static STORED_BY_DEFAULT: Upstream<Option<String>> = Upstream::new(None);

#[ttl_cached(ttl = 60)]
async fn by_default(name: &str) -> Option<String> {
    let _ = name;
    STORED_BY_DEFAULT.fetch()
}

/// The default, documented: `None` is a value like any other and is stored for the full TTL.
#[tokio::test]
async fn by_default_none_is_stored() {
    assert_eq!(by_default("a").await, None);
    STORED_BY_DEFAULT.set(Some("created".into()));
    assert_eq!(by_default("a").await, None, "served from the cache");
    assert_eq!(STORED_BY_DEFAULT.runs(), 1);
}

static FILES: Upstream<Option<String>> = Upstream::new(None);

#[ttl_cached(ttl = 60, store_none = false)]
async fn find_file(name: &str) -> Option<String> {
    let _ = name;
    FILES.fetch()
}

/// `store_none = false`: a "not found" is returned but not stored, so a file created just
/// after it is found by the next call; a `Some` is stored.
#[tokio::test]
async fn store_none_false_returns_none_without_storing_it() {
    assert_eq!(find_file("report").await, None);
    assert_eq!(find_file_cache().len(), 0);
    FILES.set(Some("report.pdf".into()));
    assert_eq!(find_file("report").await.as_deref(), Some("report.pdf"));
    FILES.set(None);
    assert_eq!(
        find_file("report").await.as_deref(),
        Some("report.pdf"),
        "a Some is stored"
    );
    assert_eq!(FILES.runs(), 2);
    let stats = find_file_cache().stats();
    assert_eq!((stats.misses, stats.hits, stats.inserts), (2, 1, 1));
}

static GATE: Notify = Notify::const_new();
static STARTED: Notify = Notify::const_new();
static GATED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, store_none = false)]
async fn gated_lookup(name: &str) -> Option<String> {
    let _ = name;
    GATED_RUNS.fetch_add(1, SeqCst);
    STARTED.notify_one();
    GATE.notified().await;
    None
}

/// A result not stored is still handed to the callers that joined its fetch: they asked while
/// it ran, and a "not found" is the answer at that moment. Only later callers fetch again.
#[tokio::test(flavor = "current_thread")]
async fn a_result_not_stored_still_reaches_the_callers_that_joined_its_fetch() {
    let leader = tokio::spawn(gated_lookup("x"));
    STARTED.notified().await;
    let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(gated_lookup("x"))).collect();
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    GATE.notify_one();
    assert_eq!(leader.await.unwrap(), None);
    for waiter in waiters {
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("a waiter did not receive the result and fetched again");
        assert_eq!(answer.unwrap(), None);
    }
    assert_eq!(GATED_RUNS.load(SeqCst), 1, "a waiter fetched again");
    let stats = gated_lookup_cache().stats();
    assert_eq!((stats.misses, stats.coalesced, stats.inserts), (1, 3, 0));
    // A later caller is not answered from a result that was not stored.
    let later = tokio::spawn(gated_lookup("x"));
    STARTED.notified().await;
    GATE.notify_one();
    assert_eq!(later.await.unwrap(), None);
    assert_eq!(GATED_RUNS.load(SeqCst), 2);
}

#[derive(Debug, Clone, PartialEq)]
struct ApiError;

static LISTINGS: Upstream<Result<Vec<String>, ApiError>> = Upstream::new(Ok(Vec::new()));

/// The predicate takes the value that would be stored: for a `Result`, the `Ok` value (an
/// `Err` is never stored anyway).
#[ttl_cached(ttl = 60, store_if = |listing: &Vec<String>| !listing.is_empty())]
async fn list_folder(folder: u32) -> Result<Vec<String>, ApiError> {
    let _ = folder;
    LISTINGS.fetch()
}

#[tokio::test]
async fn store_if_closure_decides_per_value() {
    assert_eq!(list_folder(1).await, Ok(vec![]));
    assert_eq!(list_folder_cache().len(), 0, "an empty listing was stored");
    LISTINGS.set(Err(ApiError));
    assert_eq!(list_folder(1).await, Err(ApiError));
    LISTINGS.set(Ok(vec!["docs".into()]));
    assert_eq!(list_folder(1).await, Ok(vec!["docs".into()]));
    LISTINGS.set(Ok(vec![]));
    assert_eq!(list_folder(1).await, Ok(vec!["docs".into()]), "stored");
    assert_eq!(LISTINGS.runs(), 3);
}

#[derive(Debug, Clone, PartialEq)]
struct Quota {
    remaining: u32,
}

fn worth_keeping(quota: &Quota) -> bool {
    quota.remaining > 0
}

static QUOTAS: Upstream<Quota> = Upstream::new(Quota { remaining: 0 });

#[ttl_cached(ttl = 60, store_if = worth_keeping)]
async fn quota(user: u64) -> Quota {
    let _ = user;
    QUOTAS.fetch()
}

/// A path to a function works as a predicate, as does `Option::is_some` (below).
#[tokio::test]
async fn store_if_path_to_a_function() {
    quota(1).await;
    QUOTAS.set(Quota { remaining: 5 });
    assert_eq!(quota(1).await.remaining, 5);
    QUOTAS.set(Quota { remaining: 0 });
    assert_eq!(quota(1).await.remaining, 5);
    assert_eq!(QUOTAS.runs(), 2);
}

static PROFILES: Upstream<Result<Option<String>, ApiError>> = Upstream::new(Ok(None));

#[ttl_cached(ttl = 60, store_if = Option::is_some)]
async fn profile(user: u64) -> Result<Option<String>, ApiError> {
    let _ = user;
    PROFILES.fetch()
}

#[ttl_cached(ttl = 60, store_none = false)]
async fn profile_again(user: u64) -> Result<Option<String>, ApiError> {
    let _ = user;
    PROFILES.fetch()
}

/// `Result<Option<T>, E>`: both forms look at the `Ok` value.
#[tokio::test]
async fn option_inside_a_result() {
    assert_eq!(profile(1).await, Ok(None));
    assert_eq!(profile_again(1).await, Ok(None));
    assert_eq!(profile_cache().len() + profile_again_cache().len(), 0);
}

static REFRESHED: Upstream<Option<u32>> = Upstream::new(Some(1));

#[ttl_cached(ttl = 60, store_none = false)]
async fn refreshed(key: u32) -> Option<u32> {
    let _ = key;
    REFRESHED.fetch()
}

/// A refresh follows the same rule: a `None` it fetches is returned, not stored (and the value
/// it replaced is gone).
#[tokio::test]
async fn a_refresh_does_not_store_what_the_function_would_not() {
    assert_eq!(refreshed(1).await, Some(1));
    REFRESHED.set(None);
    assert_eq!(refresh_refreshed(1).await, None);
    assert_eq!(refreshed_cache().len(), 0);
    REFRESHED.set(Some(2));
    assert_eq!(refreshed(1).await, Some(2));
}

struct Drive {
    calls: Arc<AtomicUsize>,
}

impl Drive {
    #[ttl_cached(ttl = 60, ignore = [self], store_none = false)]
    async fn lookup(&self, name: &str) -> Option<String> {
        self.calls.fetch_add(1, SeqCst);
        (name == "found").then(|| name.to_string())
    }
}

#[tokio::test]
async fn methods_take_the_same_arguments() {
    let drive = Drive {
        calls: Arc::new(AtomicUsize::new(0)),
    };
    drive.lookup("missing").await;
    drive.lookup("missing").await;
    drive.lookup("found").await;
    drive.lookup("found").await;
    assert_eq!(drive.calls.load(SeqCst), 3);
}

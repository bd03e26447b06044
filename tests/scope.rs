//! Scopes: one call evicts an account from the caches of several functions (a free function, an
//! inherent method, trait impls of two types reached through `Arc<dyn CloudProvider>`), with
//! `invalidate_*`'s guarantee across all of them, forced at the interleavings that matter.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use async_trait::async_trait;
use cache_core::{ttl_cached, Scope};
use tokio::sync::Notify;

cache_core::scope! {
    /// Everything cached for one account of one provider.
    pub Account(user_id: String, provider: String);
}

static LISTINGS: AtomicUsize = AtomicUsize::new(0);

/// A free function of the scope.
#[ttl_cached(
    ttl = 600,
    key = "<user_id>:<provider>:<folder>",
    group = "<user_id>:<provider>",
    scope = Account
)]
async fn list_folders(user_id: &str, provider: &str, folder: &str) -> Arc<Vec<String>> {
    LISTINGS.fetch_add(1, SeqCst);
    Arc::new(vec![format!("{user_id}/{provider}/{folder}")])
}

#[derive(Default)]
struct Thumbnails {
    calls: AtomicUsize,
}

/// An inherent method of the scope.
impl Thumbnails {
    #[ttl_cached(
        ttl = 600,
        key = "<user_id>:<provider>:<file>",
        group = "<user_id>:<provider>",
        ignore = [self],
        scope = Account
    )]
    async fn thumbnail(&self, user_id: &str, provider: &str, file: &str) -> Vec<u8> {
        self.calls.fetch_add(1, SeqCst);
        format!("{user_id}:{provider}:{file}").into_bytes()
    }
}

#[async_trait]
trait CloudProvider: Send + Sync {
    async fn metadata(&self, user_id: &str, provider: &str, file: &str) -> String;
}

#[derive(Default)]
struct Drive {
    calls: AtomicUsize,
}

#[ttl_cached]
#[async_trait]
impl CloudProvider for Drive {
    #[ttl_cached(
        ttl = 600,
        key = "<user_id>:<provider>:<file>",
        group = "<user_id>:<provider>",
        ignore = [self],
        scope = Account
    )]
    async fn metadata(&self, user_id: &str, provider: &str, file: &str) -> String {
        self.calls.fetch_add(1, SeqCst);
        format!("drive {user_id} {provider} {file}")
    }
}

#[derive(Default)]
struct Dropbox {
    calls: AtomicUsize,
}

#[ttl_cached]
#[async_trait]
impl CloudProvider for Dropbox {
    #[ttl_cached(
        ttl = 600,
        key = "<user_id>:<provider>:<file>",
        group = "<user_id>:<provider>",
        ignore = [self],
        scope = Account
    )]
    async fn metadata(&self, user_id: &str, provider: &str, file: &str) -> String {
        self.calls.fetch_add(1, SeqCst);
        format!("dropbox {user_id} {provider} {file}")
    }
}

#[tokio::test]
async fn one_call_evicts_the_account_from_every_function_of_the_scope() {
    let thumbnails = Thumbnails::default();
    let drive = Arc::new(Drive::default());
    let dropbox = Arc::new(Dropbox::default());
    let providers: Vec<Arc<dyn CloudProvider>> = vec![drive.clone(), dropbox.clone()];

    for user in ["scope-a", "scope-b"] {
        list_folders(user, "drive", "root").await;
        thumbnails.thumbnail(user, "drive", "a.png").await;
        for provider in &providers {
            provider.metadata(user, "drive", "a.txt").await;
        }
    }
    // Four caches joined the scope; eight entries, four per account.
    assert_eq!(Account::core().len(), 4);

    // Through the scope alone: no concrete provider type is named.
    let removed = Account::invalidate("scope-a", "drive").await;
    assert_eq!(
        removed, 4,
        "one entry of scope-a in each of the four caches"
    );

    let listings = LISTINGS.load(SeqCst);
    list_folders("scope-a", "drive", "root").await;
    list_folders("scope-b", "drive", "root").await;
    assert_eq!(
        LISTINGS.load(SeqCst),
        listings + 1,
        "scope-a fetched again, scope-b untouched"
    );
    thumbnails.thumbnail("scope-a", "drive", "a.png").await;
    thumbnails.thumbnail("scope-b", "drive", "a.png").await;
    assert_eq!(thumbnails.calls.load(SeqCst), 3);
    for provider in &providers {
        provider.metadata("scope-a", "drive", "a.txt").await;
        provider.metadata("scope-b", "drive", "a.txt").await;
    }
    assert_eq!(drive.calls.load(SeqCst), 3);
    assert_eq!(dropbox.calls.load(SeqCst), 3);
}

/// A scope of its own for the race tests, so that the test above cannot disturb them.
mod races {
    use super::*;

    cache_core::scope! {
        pub Tenant(tenant: String);
    }

    // Its own scope: an invalidation of `Tenant` by the other race test, running at the same
    // time, would make `late`'s fetches unshared too.
    cache_core::scope! {
        pub Lately(tenant: String);
    }

    pub(super) static CALLS: AtomicUsize = AtomicUsize::new(0);
    /// `late`'s own count: the other race test runs at the same time.
    pub(super) static LATE_CALLS: AtomicUsize = AtomicUsize::new(0);
    pub(super) static GATE: Notify = Notify::const_new();
    pub(super) static STARTED: Notify = Notify::const_new();

    /// Waits on `GATE` when asked, so that a test can hold its fetch in flight.
    #[ttl_cached(ttl = 600, key = "<tenant>:<wait>", group = "<tenant>", scope = Tenant)]
    pub(super) async fn report(tenant: &str, wait: bool) -> usize {
        let n = CALLS.fetch_add(1, SeqCst) + 1;
        if wait {
            STARTED.notify_one();
            GATE.notified().await;
        }
        n
    }

    /// Never called before `a_cache_that_joins_during_an_invalidation_stores_nothing_from_it`,
    /// so its cache joins the scope while that test's invalidation is in progress.
    #[ttl_cached(ttl = 600, key = "<tenant>", group = "<tenant>", scope = Lately)]
    pub(super) async fn late(tenant: &str) -> usize {
        LATE_CALLS.fetch_add(1, SeqCst) + 1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_in_flight_when_the_scope_is_invalidated_is_not_stored() {
    use races::{report, Tenant, GATE, STARTED};
    let in_flight = tokio::spawn(async { report("t-flight", true).await });
    STARTED.notified().await;
    // The fetch began before this invalidation returned (it is waiting on the gate).
    drop(Tenant::invalidate("t-flight"));
    GATE.notify_one();
    let old = in_flight.await.unwrap();
    // Its caller got its result, but a call that begins now must not: it fetches again (and
    // waits at the gate), where a hit would return at once with the old value.
    let mut now = tokio::spawn(report("t-flight", true));
    tokio::select! {
        () = STARTED.notified() => GATE.notify_one(),
        served = &mut now => panic!(
            "a value fetched before the invalidation was served after it: {:?} (old {old})",
            served.unwrap()
        ),
    }
    assert_ne!(now.await.unwrap(), old);
}

#[tokio::test]
async fn a_cache_that_joins_during_an_invalidation_stores_nothing_from_it() {
    use races::{late, Lately, LATE_CALLS};
    assert!(
        late_cache().is_empty() && late_cache().stats().misses == 0,
        "`late` must not have been called before this test"
    );
    // The invalidation is in progress until `held` is dropped; it took the scope's member
    // list before `late`'s cache existed.
    let held = Lately::invalidate("t-late");
    let during = late("t-late").await;
    // A call that begins after it returned must not be served the value fetched during it.
    drop(held);
    let after = late("t-late").await;
    assert_ne!(
        after, during,
        "a value fetched during the invalidation was stored"
    );
    // From here on the cache is a member like any other.
    assert_eq!(late("t-late").await, after);
    let before = LATE_CALLS.load(SeqCst);
    assert_eq!(Lately::invalidate("t-late").await, 1);
    late("t-late").await;
    assert_eq!(LATE_CALLS.load(SeqCst), before + 1);
}

use races::late_cache;

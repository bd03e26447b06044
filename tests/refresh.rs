//! Refresh of one key (`TtlCache::refresh`, the generated `refresh_<fn>`) and single-key
//! invalidation (`invalidate_<fn>_key`), with the interleavings that matter forced by `Notify`
//! gates: a refresh while a fetch of the key is in flight, a caller arriving during a refresh,
//! an invalidation during a refresh, a cancelled refresh.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cache_core::TtlCache;
use ttl_cached_tests::{settle, Gated};

type Cache = TtlCache<String, u32, String>;

fn cache() -> Arc<Cache> {
    Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
}

/// The core of refresh: the fetch in flight when the refresh began is not joined by it, its
/// value goes to the callers already waiting on it but is not stored, and a caller arriving
/// during the refresh joins the refresh (its own fetch never runs).
#[tokio::test(flavor = "current_thread")]
async fn a_refresh_does_not_join_the_fetch_in_flight_which_is_then_not_stored() {
    let cache = cache();
    let old = Arc::new(Gated::default());
    let new = Arc::new(Gated::default());
    let spawn_get = |fetch: Arc<Gated>, value: &'static str| {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async move { fetch.run(value).await })
                .await
        })
    };
    let before = spawn_get(old.clone(), "old");
    old.started.notified().await;
    let joined_before = spawn_get(Arc::new(Gated::default()), "never");
    settle().await;

    let refresh = {
        let (cache, new) = (cache.clone(), new.clone());
        tokio::spawn(async move {
            cache
                .refresh("u", &1, || async move { new.run("new").await })
                .await
        })
    };
    new.started.notified().await;
    assert_eq!(old.runs.load(SeqCst), 1, "the refresh ran its own fetch");
    let late = Arc::new(Gated::default());
    let joined_refresh = spawn_get(late.clone(), "late");
    settle().await;

    // The old fetch finishes during the refresh: its callers get its value; nothing is stored.
    old.gate.notify_one();
    assert_eq!(before.await.unwrap(), "old");
    assert_eq!(joined_before.await.unwrap(), "old");
    assert_eq!(
        cache.get("u", &1),
        None,
        "the displaced fetch's value was stored"
    );

    new.gate.notify_one();
    assert_eq!(refresh.await.unwrap(), "new");
    assert_eq!(
        joined_refresh.await.unwrap(),
        "new",
        "a caller arriving during the refresh did not get its value"
    );
    assert_eq!(
        late.runs.load(SeqCst),
        0,
        "the late caller fetched on its own"
    );
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.coalesced, stats.inserts), (2, 2, 1));
}

/// A stored value is not served once a refresh has begun: callers wait for the refresh.
#[tokio::test(flavor = "current_thread")]
async fn a_caller_arriving_during_a_refresh_gets_the_refreshed_value_not_the_stored_one() {
    let cache = cache();
    cache
        .get_with("u", &1, || async { "old".to_string() })
        .await;
    let new = Arc::new(Gated::default());
    let refresh = {
        let (cache, new) = (cache.clone(), new.clone());
        tokio::spawn(async move {
            cache
                .refresh("u", &1, || async move { new.run("new").await })
                .await
        })
    };
    new.started.notified().await;
    assert_eq!(cache.get("u", &1), None, "the old value is still served");
    let during = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async { "own fetch".to_string() })
                .await
        })
    };
    settle().await;
    new.gate.notify_one();
    assert_eq!(refresh.await.unwrap(), "new");
    assert_eq!(during.await.unwrap(), "new");
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().invalidated, 1, "the replaced entry");
}

/// A refresh is a fetch like any other: an invalidation of its key while it runs means its
/// value is not stored (and a caller after the invalidation does not join it).
#[tokio::test(flavor = "current_thread")]
async fn a_refresh_of_a_key_invalidated_meanwhile_is_not_stored() {
    for group_wide in [false, true] {
        let cache = cache();
        let new = Arc::new(Gated::default());
        let refresh = {
            let (cache, new) = (cache.clone(), new.clone());
            tokio::spawn(async move {
                cache
                    .refresh("u", &1, || async move { new.run("stale").await })
                    .await
            })
        };
        new.started.notified().await;
        if group_wide {
            cache.invalidate_group("u").await;
        } else {
            cache.invalidate("u", &1).await;
        }
        let after = tokio::time::timeout(
            Duration::from_secs(5),
            cache.get_with("u", &1, || async { "after".to_string() }),
        )
        .await
        .expect("a call after the invalidation waits for the refresh");
        assert_eq!(
            after, "after",
            "a call after the invalidation joined the refresh"
        );
        cache.invalidate("u", &1).await;
        new.gate.notify_one();
        assert_eq!(
            refresh.await.unwrap(),
            "stale",
            "the refresh returns its value"
        );
        assert_eq!(cache.get("u", &1), None, "group_wide {group_wide}: stored");
    }
}

/// A refresh whose caller is cancelled hands over like any leader: a waiting caller runs its
/// own fetch, and nobody hangs.
#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_refresh_hands_over_to_a_waiter() {
    let cache = cache();
    let new = Arc::new(Gated::default());
    let refresh = {
        let (cache, new) = (cache.clone(), new.clone());
        tokio::spawn(async move {
            cache
                .refresh("u", &1, || async move { new.run("never").await })
                .await
        })
    };
    new.started.notified().await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_with("u", &1, || async { "waiter".to_string() })
                .await
        })
    };
    settle().await;
    refresh.abort();
    let value = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter hangs")
        .unwrap();
    assert_eq!(value, "waiter");
    assert_eq!(cache.get("u", &1).as_deref(), Some("waiter"));
    assert_eq!(cache.__internal_sizes().2, 0, "a flight was left behind");
}

/// `try_refresh`: `Ok` is stored; `Err` is returned, not stored, and the key is left without a
/// value (the old one went when the refresh began).
#[tokio::test(flavor = "current_thread")]
async fn try_refresh_stores_ok_and_not_err() {
    let cache = cache();
    cache
        .get_with("u", &1, || async { "old".to_string() })
        .await;
    let ok = cache
        .try_refresh("u", &1, || async { Ok::<_, String>("new".to_string()) })
        .await;
    assert_eq!(ok.as_deref(), Ok("new"));
    assert_eq!(cache.get("u", &1).as_deref(), Some("new"));
    let err = cache
        .try_refresh("u", &1, || async { Err::<String, _>("offline") })
        .await;
    assert_eq!(err, Err("offline"));
    assert_eq!(cache.get("u", &1), None);
    assert_eq!(cache.__internal_sizes(), (0, 0, 0), "nothing left behind");
}

/// A refresh that begins while an invalidation of its own group is in progress runs unshared
/// (the same rule as any fetch), and still takes the key's running fetch out of the way:
/// neither is stored, and a later call joins neither. During an invalidation of another group,
/// the same refresh is shared and stored as usual: the fence covers what is invalidated only.
fn a_refresh_during_an_invalidation_displaces_the_fetch_in_flight(invalidated: &'static str) {
    use cache_core::HookPoint::InvalidationMidway;
    let own_group = invalidated == "u";
    let (pauses, hook) = ttl_cached_tests::SyncPauses::at(&[(InvalidationMidway, 0)]);
    let cache: Arc<Cache> = Arc::new(
        TtlCache::builder()
            .ttl(Duration::from_secs(60))
            .__sync_hook(hook)
            .build()
            .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let old = Arc::new(Gated::default());
    let before = {
        let (cache, old) = (cache.clone(), old.clone());
        runtime.spawn(async move {
            cache
                .get_with("u", &1, || async move { old.run("old").await })
                .await
        })
    };
    runtime.block_on(old.started.notified());
    let invalidation = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.invalidate_group(invalidated).count())
    };
    pauses.wait_reached(0);
    let refreshed = runtime.block_on(cache.refresh("u", &1, || async { "new".to_string() }));
    assert_eq!(refreshed, "new");
    let during = cache.get("u", &1);
    pauses.resume(0);
    invalidation.join().unwrap();
    if own_group {
        assert_eq!(during, None, "the unshared refresh was stored");
    } else {
        assert_eq!(
            during.as_deref(),
            Some("new"),
            "a refresh fenced by another group's invalidation"
        );
    }
    old.gate.notify_one();
    assert_eq!(runtime.block_on(before).unwrap(), "old");
    assert_eq!(
        cache.get("u", &1).as_deref(),
        (!own_group).then_some("new"),
        "the displaced fetch was stored"
    );
    if own_group {
        let after = runtime.block_on(cache.get_with("u", &1, || async { "after".to_string() }));
        assert_eq!(after, "after");
    }
}

#[test]
fn a_refresh_during_an_invalidation_of_its_group_displaces_the_fetch_in_flight_unshared() {
    a_refresh_during_an_invalidation_displaces_the_fetch_in_flight("u");
}

#[test]
fn a_refresh_during_an_invalidation_of_another_group_is_stored() {
    a_refresh_during_an_invalidation_displaces_the_fetch_in_flight("someone else");
}

// ---- The generated companions: `refresh_<fn>` and `invalidate_<fn>_key`. ----

use cache_core::ttl_cached;

/// A fetch gate passed to the cached functions below, ignored by their keys: each call says
/// which value its body returns and when.
fn gated() -> Arc<Gated> {
    Arc::new(Gated::default())
}

#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>", ignore = [gate, value])]
async fn listing(user: &str, folder: u32, gate: Arc<Gated>, value: &'static str) -> String {
    gate.run(value).await
}

fn spawn_listing(
    user: &'static str,
    folder: u32,
    value: &'static str,
) -> (Arc<Gated>, tokio::task::JoinHandle<String>) {
    let gate = gated();
    let call = tokio::spawn(listing(user, folder, gate.clone(), value));
    (gate, call)
}

/// `refresh_listing` runs the body itself though a call of the key is in flight; that call's
/// value reaches its caller but is not stored; a caller arriving during the refresh joins it.
#[tokio::test(flavor = "current_thread")]
async fn refresh_fn_runs_the_body_itself_and_a_caller_during_it_joins_it() {
    let (old, before) = spawn_listing("u", 1, "old");
    old.started.notified().await;

    let new = gated();
    let refresh = tokio::spawn(refresh_listing("u", 1, new.clone(), "new"));
    // Its own body runs, while the old call is still in flight.
    tokio::time::timeout(Duration::from_secs(5), new.started.notified())
        .await
        .expect("refresh_listing joined the call in flight instead of running the body");
    let (late, during) = spawn_listing("u", 1, "late");
    settle().await;

    old.gate.notify_one();
    assert_eq!(before.await.unwrap(), "old");
    assert_eq!(
        listing_cache().len(),
        0,
        "the displaced call's value was stored"
    );

    new.gate.notify_one();
    assert_eq!(refresh.await.unwrap(), "new");
    assert_eq!(
        during.await.unwrap(),
        "new",
        "the caller during the refresh"
    );
    assert_eq!(
        late.runs.load(SeqCst),
        0,
        "the caller during the refresh fetched"
    );
    // Stored: the next call is a hit.
    assert_eq!(listing("u", 1, gated(), "unused").await, "new");
    let stats = listing_cache().stats();
    assert_eq!(
        (stats.misses, stats.coalesced, stats.hits, stats.inserts),
        (2, 1, 1, 1)
    );
}

#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>", ignore = [gate, value])]
async fn folder(user: &str, folder: u32, gate: Arc<Gated>, value: &'static str) -> String {
    gate.run(value).await
}

/// `invalidate_folder_key` evicts one key (not its group's other keys), and the fetch of the
/// key in flight: not joined by a call after it, not stored.
#[tokio::test(flavor = "current_thread")]
async fn invalidate_fn_key_evicts_one_key_and_its_fetch_in_flight() {
    let ready = |value| {
        let gate = gated();
        gate.gate.notify_one();
        (gate, value)
    };
    for n in [1, 2] {
        let (gate, value) = ready("stored");
        folder("u", n, gate, value).await;
    }
    assert!(invalidate_folder_key("u", 1).await);
    assert!(!invalidate_folder_key("u", 1).await);
    assert_eq!(
        folder_cache().len(),
        1,
        "the group's other key was evicted too"
    );

    let in_flight = gated();
    let before = tokio::spawn(folder("u", 3, in_flight.clone(), "before"));
    in_flight.started.notified().await;
    assert!(
        !invalidate_folder_key("u", 3).await,
        "nothing was stored yet"
    );
    let (gate, value) = ready("after");
    let after = tokio::time::timeout(Duration::from_secs(5), folder("u", 3, gate, value))
        .await
        .expect("a call after the invalidation joined the fetch in flight");
    assert_eq!(after, "after");
    in_flight.gate.notify_one();
    assert_eq!(before.await.unwrap(), "before");
    let (gate, value) = ready("unused");
    assert_eq!(
        folder("u", 3, gate, value).await,
        "after",
        "the old fetch was stored"
    );
}

/// The companions of a method with a `<self...>` key: `invalidate_<fn>_key` is a method taking
/// the rest of the key, `refresh_<fn>` a method taking the function's parameters.
struct Drive {
    account: String,
}

impl Drive {
    #[ttl_cached(ttl = 60, key = "<self.account>:<folder>", group = "<self.account>", ignore = [gate, value])]
    async fn list(&self, folder: u32, gate: Arc<Gated>, value: &'static str) -> String {
        format!("{}:{}", self.account, gate.run(value).await)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn method_companions_take_self() {
    let (a, b) = (
        Drive {
            account: "a".into(),
        },
        Drive {
            account: "b".into(),
        },
    );
    let open = || {
        let gate = gated();
        gate.gate.notify_one();
        gate
    };
    a.list(1, open(), "one").await;
    b.list(1, open(), "one").await;
    assert_eq!(a.refresh_list(1, open(), "two").await, "a:two");
    assert_eq!(a.list(1, open(), "unused").await, "a:two");
    assert_eq!(b.list(1, open(), "unused").await, "b:one");
    assert!(b.invalidate_list_key(1).await);
    assert!(!b.invalidate_list_key(1).await);
    assert_eq!(Drive::list_cache().len(), 1);
}

#[async_trait::async_trait]
trait Provider {
    async fn find(&self, name: &str) -> String;
}

struct Dropbox;

static FOUND: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached]
#[async_trait::async_trait]
impl Provider for Dropbox {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn find(&self, name: &str) -> String {
        format!("{name} #{}", FOUND.fetch_add(1, SeqCst))
    }
}

struct Catalog;

static PRICED: AtomicUsize = AtomicUsize::new(0);

impl Catalog {
    /// No `self` and no `Self`: its expansion cannot tell it from a free function, and
    /// `refresh_price` finds it through the file.
    #[ttl_cached(ttl = 60)]
    async fn price(item: u32) -> usize {
        item as usize * 100 + PRICED.fetch_add(1, SeqCst)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trait_impl_and_associated_function_companions() {
    let first = Dropbox.find("a").await;
    assert_eq!(Dropbox.find("a").await, first);
    let refreshed = Dropbox.refresh_find("a").await;
    assert_ne!(refreshed, first);
    assert_eq!(Dropbox.find("a").await, refreshed);
    assert!(Dropbox::invalidate_find_key("a").await);
    assert_eq!(Dropbox::find_cache().len(), 0);

    let first = Catalog::price(1).await;
    let refreshed = Catalog::refresh_price(1).await;
    assert_eq!((first, refreshed), (100, 101));
    assert_eq!(Catalog::price(1).await, 101);
    assert!(Catalog::invalidate_price_key(1).await);
}

static COUNTED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Every lifetime of its parameters can be written, so `refresh_counted` is an `#[inline]` `fn`
/// returning a future rather than an `async fn` (see `cache-macros/src/lifetimes.rs`).
#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>", ignore = [note])]
async fn counted(user: &str, folder: u32, note: &'static str) -> String {
    let run = COUNTED_RUNS.fetch_add(1, SeqCst) + 1;
    format!("{user}:{folder}:{note}:{run}")
}

/// As with an `async fn`, nothing happens before the future is polled: a `refresh_<fn>` built
/// and dropped unpolled neither removes the stored value nor runs the body.
#[tokio::test(flavor = "current_thread")]
async fn refresh_fn_does_nothing_until_polled() {
    let stored = counted("lazy", 1, "first").await;
    let runs = COUNTED_RUNS.load(SeqCst);
    let pending = refresh_counted("lazy", 1, "unpolled");
    assert_eq!(counted("lazy", 1, "hit").await, stored);
    drop(pending);
    assert_eq!(counted("lazy", 1, "hit").await, stored);
    assert_eq!(COUNTED_RUNS.load(SeqCst), runs);
    // Polled (here on another task: the future is `Send`), it runs the body and stores.
    let refreshed = tokio::spawn(refresh_counted("lazy", 1, "refreshed"))
        .await
        .unwrap();
    assert_eq!(refreshed, format!("lazy:1:refreshed:{}", runs + 1));
    assert_eq!(counted("lazy", 1, "hit").await, refreshed);
}

/// Named, elided and `'_` lifetimes, nested references and owned parameters: each is named in
/// `refresh_borrows`'s signature, which borrows them all until it is done.
#[ttl_cached(ttl = 60, key = "<a>:<b>:<c>:<s>", ignore = [d, o])]
async fn borrows<'a>(
    a: &'a str,
    b: &str,
    c: &'_ u64,
    s: String,
    d: &[&str],
    o: Option<&'a str>,
) -> usize {
    a.len() + b.len() + *c as usize + s.len() + d.len() + o.map_or(0, str::len)
}

#[tokio::test(flavor = "current_thread")]
async fn refresh_fn_borrows_every_parameter() {
    let text = String::from("xy");
    let list = vec![text.as_str(), "z"];
    let n = 3;
    let call = borrows(&text, &text, &n, text.clone(), &list, Some(&text)).await;
    let refreshed = refresh_borrows(&text, &text, &n, text.clone(), &list, Some(&text)).await;
    assert_eq!((call, refreshed), (13, 13));
}

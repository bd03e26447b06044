//! `stale = ".."` on methods: a `&self` method's body runs on a clone of `self` (cloned only
//! when the body runs: a miss or a refresh, never a hit), its `self` tokens renamed to the
//! clone, in `format!` and closures, but not in `self::` paths or a nested `impl`; the window's
//! boundaries and one refresh per key on paused time; a refresh in flight not stored after
//! `Type::invalidate_<fn>(..)` or `clear`; trait impls (native and `#[async_trait]`), `self` by
//! value, `self: Arc<Self>`, `mut self: Box<Self>`, `self: &Arc<Self>` (the `Arc` cloned), and a
//! method written by a `macro_rules!`. Each test has types
//! and counters of its own: the caches are global.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use cache_core::ttl_cached;
use tokio::sync::Notify;
use tokio::task::yield_now;
use tokio::time::advance;

const TTL: Duration = Duration::from_secs(60);
const SWR: Duration = Duration::from_secs(30);
const NANO: Duration = Duration::from_nanos(1);

/// Lets every spawned task of the current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..20 {
        yield_now().await;
    }
}

/// Waits for a gated refresh to start, failing (not hanging) if none does.
async fn started(notify: &Notify) {
    tokio::time::timeout(Duration::from_secs(3600), notify.notified())
        .await
        .expect("no refresh started");
}

/// Waits at a refresh's gate, failing (not hanging) if the test never opens it.
async fn gate(notify: &Notify) {
    tokio::time::timeout(Duration::from_secs(3600), notify.notified())
        .await
        .expect("the gate never opened: a caller fetched inline");
}

/// Something a `self::` path in a body names: renaming that `self` would not compile.
fn suffix() -> &'static str {
    "!"
}

static BOUNDARY_CLONES: AtomicUsize = AtomicUsize::new(0);
static BOUNDARY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A provider client whose clones are counted.
struct Boundary {
    account: String,
}

impl Clone for Boundary {
    fn clone(&self) -> Self {
        BOUNDARY_CLONES.fetch_add(1, SeqCst);
        Self {
            account: self.account.clone(),
        }
    }
}

impl Boundary {
    #[ttl_cached(ttl = 60, key = "<self.account>:<folder>", stale = "30s")]
    async fn list(&self, folder: &str) -> String {
        let run = BOUNDARY_RUNS.fetch_add(1, SeqCst) + 1;
        // `self` in a closure, in `format!`, a `self::` path, and a nested impl whose own
        // `self` is its receiver.
        let account = || self.account.clone();
        struct Tag;
        impl Tag {
            fn tag(&self) -> &'static str {
                let _ = self;
                "v"
            }
        }
        format!(
            "{}/{folder}: {}{run}{}",
            account(),
            Tag.tag(),
            self::suffix()
        )
    }
}

/// Zero clones on a hit, one on a miss and one per refresh; 1 ns before the TTL a hit; at the
/// TTL the expired value at once, one refresh started and in flight, then stored; after the
/// window the caller fetches inline.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_ref_self_method_refreshes_on_a_clone() {
    let client = Boundary {
        account: "ann".into(),
    };
    let stats = || Boundary::list_cache().stats();
    assert_eq!(client.list("a").await, "ann/a: v1!");
    assert_eq!(
        BOUNDARY_CLONES.load(SeqCst),
        1,
        "a miss runs the body on one clone"
    );
    assert_eq!(client.list("a").await, "ann/a: v1!");
    assert_eq!(BOUNDARY_CLONES.load(SeqCst), 1, "a hit cloned `self`");

    advance(TTL - NANO).await;
    assert_eq!(client.list("a").await, "ann/a: v1!");
    settle().await;
    assert_eq!(BOUNDARY_RUNS.load(SeqCst), 1, "a live value was refreshed");
    assert_eq!(BOUNDARY_CLONES.load(SeqCst), 1);
    assert_eq!((stats().stale_served, stats().refreshes_started), (0, 0));

    advance(NANO).await; // exactly the TTL
    assert_eq!(client.list("a").await, "ann/a: v1!");
    assert_eq!(
        BOUNDARY_RUNS.load(SeqCst),
        1,
        "the caller waited for the refresh"
    );
    assert_eq!((stats().stale_served, stats().refreshes_started), (1, 1));
    assert_eq!(stats().refreshes_in_flight, 1);
    assert_eq!(
        BOUNDARY_CLONES.load(SeqCst),
        2,
        "the refresh runs on one clone"
    );
    settle().await;
    assert_eq!(stats().refreshes_in_flight, 0);
    assert_eq!(
        client.list("a").await,
        "ann/a: v2!",
        "the refresh was not stored"
    );
    assert_eq!(BOUNDARY_CLONES.load(SeqCst), 2);

    advance(TTL + SWR).await; // past the window: fetched inline
    assert_eq!(client.list("a").await, "ann/a: v3!");
    assert_eq!((stats().stale_served, stats().refreshes_started), (1, 1));
    assert_eq!(BOUNDARY_CLONES.load(SeqCst), 3);
}

static SHARED_STARTED: LazyLock<Notify> = LazyLock::new(Notify::new);
static SHARED_GATE: LazyLock<Notify> = LazyLock::new(Notify::new);
static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);
static SHARED_CLONES: AtomicUsize = AtomicUsize::new(0);

struct Shared {
    inner: Arc<String>,
}

impl Clone for Shared {
    fn clone(&self) -> Self {
        SHARED_CLONES.fetch_add(1, SeqCst);
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Shared {
    #[ttl_cached(ttl = 60, key = "<id>", stale = "30s", ignore = [self])]
    async fn get(&self, id: u32) -> String {
        let run = SHARED_RUNS.fetch_add(1, SeqCst) + 1;
        if run > 1 {
            SHARED_STARTED.notify_one();
            gate(&SHARED_GATE).await;
        }
        format!("{}/{id}: v{run}", self.inner)
    }
}

/// Many concurrent stale calls of one key: all answered with the expired value, one refresh
/// (one clone) started.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn one_background_refresh_per_key() {
    let client = Shared {
        inner: Arc::new("s".into()),
    };
    assert_eq!(client.get(1).await, "s/1: v1");
    advance(TTL).await;
    let answers = futures_util::future::join_all((0..50).map(|_| client.get(1))).await;
    assert!(answers.iter().all(|a| a == "s/1: v1"), "{answers:?}");
    started(&SHARED_STARTED).await;
    let stats = Shared::get_cache().stats();
    assert_eq!((stats.stale_served, stats.refreshes_started), (50, 1));
    assert_eq!(
        SHARED_CLONES.load(SeqCst),
        2,
        "one clone for the miss, one for the refresh"
    );
    SHARED_GATE.notify_one();
    settle().await;
    assert_eq!(client.get(1).await, "s/1: v2");
    assert_eq!(SHARED_RUNS.load(SeqCst), 2);
}

static RACE_STARTED: LazyLock<Notify> = LazyLock::new(Notify::new);
static RACE_GATE: LazyLock<Notify> = LazyLock::new(Notify::new);
/// 0: "old"; 1: the refresh, gated, returns "refreshed"; 2: "after".
static RACE_PHASE: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
struct Race {
    name: String,
}

impl Race {
    #[ttl_cached(ttl = 60, key = "<user>:<id>", group = "<user>", stale = "30s", ignore = [self])]
    async fn fetch(&self, user: &str, id: u32) -> String {
        match RACE_PHASE.load(SeqCst) {
            0 => format!("{}:{user}/{id}: old", self.name),
            1 => {
                RACE_STARTED.notify_one();
                gate(&RACE_GATE).await;
                format!("{}:{user}/{id}: refreshed", self.name)
            }
            _ => format!("{}:{user}/{id}: after", self.name),
        }
    }
}

/// A refresh in flight when its group is invalidated (`Race::invalidate_fetch(user)`) or the
/// cache is cleared is not stored; the next call fetches.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refresh_in_flight_when_invalidated_is_not_stored() {
    let client = Race { name: "r".into() };
    for kind in ["group", "clear"] {
        RACE_PHASE.store(0, SeqCst);
        assert_eq!(client.fetch(kind, 1).await, format!("r:{kind}/1: old"));
        advance(TTL).await;
        RACE_PHASE.store(1, SeqCst);
        assert_eq!(client.fetch(kind, 1).await, format!("r:{kind}/1: old"));
        started(&RACE_STARTED).await;
        assert_eq!(Race::fetch_cache().stats().refreshes_in_flight, 1);
        match kind {
            "group" => assert_eq!(Race::invalidate_fetch(kind).await, 1),
            _ => assert_eq!(Race::fetch_cache().clear().await, 1),
        }
        RACE_GATE.notify_one();
        settle().await;
        assert_eq!(Race::fetch_cache().stats().refreshes_in_flight, 0);
        RACE_PHASE.store(2, SeqCst);
        assert_eq!(
            client.fetch(kind, 1).await,
            format!("r:{kind}/1: after"),
            "{kind}: the invalidated refresh was stored"
        );
        advance(Duration::from_secs(3600)).await;
    }
}

pub(crate) trait Directory {
    async fn lookup(&self, name: &str) -> String;
}

static LDAP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
pub(crate) struct Ldap {
    prefix: String,
}

#[ttl_cached]
impl Directory for Ldap {
    #[ttl_cached(ttl = 60, key = "<self.prefix>:<name>", stale = "30s")]
    async fn lookup(&self, name: &str) -> String {
        let run = LDAP_RUNS.fetch_add(1, SeqCst) + 1;
        format!("{}-{name} v{run}", self.prefix)
    }
}

/// A native trait impl's `&self` method serves stale and refreshes in the background.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_native_trait_impl_method() {
    let ldap = Ldap {
        prefix: "corp".into(),
    };
    assert_eq!(ldap.lookup("ann").await, "corp-ann v1");
    advance(TTL).await;
    assert_eq!(ldap.lookup("ann").await, "corp-ann v1");
    assert_eq!(Ldap::lookup_cache().stats().refreshes_started, 1);
    settle().await;
    assert_eq!(ldap.lookup("ann").await, "corp-ann v2");
}

#[async_trait::async_trait]
pub(crate) trait CloudProvider: Send + Sync {
    async fn list(&self, folder: &str) -> String;
}

static DRIVE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
pub(crate) struct Drive {
    account: String,
}

#[ttl_cached]
#[async_trait::async_trait]
impl CloudProvider for Drive {
    #[ttl_cached(ttl = 60, key = "<self.account>:<folder>", stale = "30s")]
    async fn list(&self, folder: &str) -> String {
        let run = DRIVE_RUNS.fetch_add(1, SeqCst) + 1;
        format!("{}:{folder} v{run}", self.account)
    }
}

/// An `#[async_trait]` impl's method, also through `dyn CloudProvider`.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_async_trait_impl_method() {
    let drive: Box<dyn CloudProvider> = Box::new(Drive {
        account: "ann".into(),
    });
    assert_eq!(drive.list("root").await, "ann:root v1");
    advance(TTL).await;
    assert_eq!(drive.list("root").await, "ann:root v1");
    assert_eq!(Drive::list_cache().stats().refreshes_started, 1);
    settle().await;
    assert_eq!(drive.list("root").await, "ann:root v2");
}

static OWNED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Not `Clone`: a receiver taken by value is moved into the refresh, never cloned.
pub(crate) struct Owned {
    name: String,
}

impl Owned {
    #[ttl_cached(ttl = 60, key = "<self.name>:<id>", stale = "30s")]
    async fn by_value(self, id: u32) -> String {
        let run = OWNED_RUNS.fetch_add(1, SeqCst) + 1;
        format!("{}/{id} v{run}", self.name)
    }

    #[ttl_cached(ttl = 60, key = "<self.name>:<id>", stale = "30s")]
    async fn by_arc(self: Arc<Self>, id: u32) -> String {
        let run = OWNED_RUNS.fetch_add(1, SeqCst) + 1;
        format!("{}/{id} arc v{run}", self.name)
    }

    #[ttl_cached(ttl = 60, key = "<self.name>:<id>", stale = "30s")]
    async fn by_box(mut self: Box<Self>, id: u32) -> String {
        let run = OWNED_RUNS.fetch_add(1, SeqCst) + 1;
        self.name.push('#');
        format!("{}/{id} box v{run}", self.name)
    }
}

/// `self`, `self: Arc<Self>` and `mut self: Box<Self>` of a type that is not `Clone` are moved
/// into the refresh.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn self_by_value_and_arc_self_are_moved() {
    let owned = || Owned { name: "o".into() };
    assert_eq!(owned().by_value(1).await, "o/1 v1");
    assert_eq!(Arc::new(owned()).by_arc(1).await, "o/1 arc v2");
    advance(TTL).await;
    assert_eq!(owned().by_value(1).await, "o/1 v1");
    assert_eq!(Arc::new(owned()).by_arc(1).await, "o/1 arc v2");
    settle().await;
    assert_eq!(OWNED_RUNS.load(SeqCst), 4);
    assert_eq!(Owned::by_value_cache().stats().refreshes_started, 1);
    assert_eq!(owned().by_value(1).await, "o/1 v3");
    assert_eq!(Arc::new(owned()).by_arc(1).await, "o/1 arc v4");

    assert_eq!(Box::new(owned()).by_box(1).await, "o#/1 box v5");
    advance(TTL).await;
    assert_eq!(Box::new(owned()).by_box(1).await, "o#/1 box v5");
    settle().await;
    assert_eq!(Box::new(owned()).by_box(1).await, "o#/1 box v6");
    assert_eq!(Owned::by_box_cache().stats().refreshes_started, 1);
}

static MACRO_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A method written by a `macro_rules!`: the receiver and the body's `self` carry the macro's
/// hygiene, and the renamed `self` still resolves to the clone's binding.
macro_rules! client {
    ($name:ident) => {
        #[derive(Clone)]
        pub(crate) struct $name {
            account: String,
        }

        impl $name {
            #[ttl_cached(ttl = 60, key = "<self.account>:<id>", stale = "30s")]
            async fn get(&self, id: u32) -> String {
                let run = MACRO_RUNS.fetch_add(1, SeqCst) + 1;
                format!("{}/{id} v{run}", self.account)
            }
        }
    };
}

client!(FromMacro);

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_method_from_a_macro() {
    let client = FromMacro {
        account: "m".into(),
    };
    assert_eq!(client.get(1).await, "m/1 v1");
    advance(TTL).await;
    assert_eq!(client.get(1).await, "m/1 v1");
    settle().await;
    assert_eq!(client.get(1).await, "m/1 v2");
}

static TYPED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Not `Clone`; its `Arc` is.
pub(crate) struct Typed {
    name: String,
}

impl Typed {
    #[ttl_cached(ttl = 60, key = "<self.name>:<id>", stale = "30s")]
    async fn get(self: &Arc<Self>, id: u32) -> String {
        let run = TYPED_RUNS.fetch_add(1, SeqCst) + 1;
        format!(
            "{}/{id} v{run} shared by {}",
            self.name,
            Arc::strong_count(self)
        )
    }
}

/// `self: &Arc<Self>`: the refresh runs on a clone of the `Arc` (one more strong count while
/// the body runs), not of the client.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_typed_reference_receiver_clones_its_pointee() {
    let client = Arc::new(Typed { name: "t".into() });
    assert_eq!(client.get(1).await, "t/1 v1 shared by 2");
    advance(TTL).await;
    assert_eq!(client.get(1).await, "t/1 v1 shared by 2");
    settle().await;
    assert_eq!(
        Arc::strong_count(&client),
        1,
        "the refresh's clone was kept"
    );
    assert_eq!(client.get(1).await, "t/1 v2 shared by 2");
}

//! The hit-path contenders, shared by `benches/hit.rs` (criterion times) and
//! `examples/hit_instructions.rs` (callgrind instruction counts), so both measure the same
//! code. Included with `#[path]`; not a module of the library because the contenders are
//! dev-dependencies.
//!
//! Every contender holds the same keys (three string parts, see `Key`) and values
//! (`Arc<Vec<u64>>`), and looks a key up from its borrowed parts where its API allows it: no
//! contender builds a `String` per hit. The hash-map floors use foldhash, the hasher cache-core
//! uses, and clone the `Arc` as every cache does.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use cache_core::{ttl_cached, Borrowed, TtlCache};
use ttl_cached_benches::{value_for, value_for_folder, Key, Tuple, Value};

pub(crate) const TTL: Duration = Duration::from_secs(600);

/// foldhash, as cache-core uses it.
pub(crate) type Fold = foldhash::fast::RandomState;

pub(crate) static MACRO_FETCHES: AtomicU64 = AtomicU64::new(0);
pub(crate) static CACHED_FETCHES: AtomicU64 = AtomicU64::new(0);

/// The contender: `&str` parts, borrowed by the generated lookup.
#[ttl_cached(
    ttl = 600,
    key = "<a>:<b>:<c>",
    group = "<a>:<b>",
    capacity = 4_000_000
)]
pub(crate) async fn hit(a: &str, b: &str, c: &str) -> Arc<Vec<u64>> {
    let _ = (a, b);
    MACRO_FETCHES.fetch_add(1, Relaxed);
    value_for_folder(c)
}

// `cached` needs owned `Clone + 'static` arguments to build its key: callers holding `&str`
// build 3 `String`s per call, and the macro clones them into the key tuple before the lookup.
// An LRU+TTL store behind an async lock taken for writing on every call (LRU hits reorder).
#[cached::proc_macro::cached(ttl_secs = 600, max_size = 2_000)]
pub(crate) async fn cached_hit(a: String, b: String, c: String) -> Arc<Vec<u64>> {
    let _ = (a, b);
    CACHED_FETCHES.fetch_add(1, Relaxed);
    value_for_folder(&c)
}

/// Who is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    /// `#[ttl_cached]` fn with `&str` parts.
    Macro,
    /// `TtlCache::get_with(&Borrowed((user, provider)), folder, fetch).await`.
    GetWith,
    /// `TtlCache::get(&Borrowed((user, provider)), folder)`, synchronous.
    Get,
    /// `scc::HashIndex<Tuple, Value, foldhash>::peek_with(&Triple, |_, v| v.clone())`.
    SccFloor,
    /// `hashbrown::HashMap<Tuple, Value, foldhash>::get(&Triple).cloned()`: no synchronization.
    HashbrownFloor,
    /// `quick_cache::sync::Cache<Tuple, Value>` (its default hasher is foldhash)`::get(&Triple)`.
    QuickCache,
    /// `moka::sync::Cache<Tuple, Value, foldhash>::get(&Triple)`.
    MokaSync,
    /// `moka::future::Cache<Tuple, Value, foldhash>::get(&Triple).await`.
    MokaFuture,
    /// `#[cached]` async fn with owned `String` arguments.
    Cached,
}

impl Contender {
    /// Every measured contender, in table order.
    pub(crate) const ALL: [Self; 9] = [
        Self::Macro,
        Self::GetWith,
        Self::Get,
        Self::SccFloor,
        Self::HashbrownFloor,
        Self::QuickCache,
        Self::MokaSync,
        Self::MokaFuture,
        Self::Cached,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Macro => "ttl_cached_macro",
            Self::GetWith => "ttlcache_get_with",
            Self::Get => "ttlcache_get_sync",
            Self::SccFloor => "scc_hashindex_floor",
            Self::HashbrownFloor => "hashbrown_floor",
            Self::QuickCache => "quick_cache_sync",
            Self::MokaSync => "moka_sync",
            Self::MokaFuture => "moka_future",
            Self::Cached => "cached_macro",
        }
    }

    #[allow(dead_code)] // used by the instruction-count example only
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether it can hold `size` keys without evicting (`cached`'s store is sized for 1 000).
    pub(crate) const fn supports(self, size: usize) -> bool {
        !matches!(self, Self::Cached) || size <= 2_000
    }
}

/// A current-thread runtime with the timer on.
pub(crate) fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// A contender's cache, filled with the keys.
#[allow(clippy::large_enum_variant)] // one per benchmark, never moved in a timed loop
pub(crate) enum Built {
    Macro,
    Runtime(TtlCache<(String, String), String, Value>, bool),
    Scc(scc::HashIndex<Tuple, Value, Fold>),
    Hashbrown(hashbrown::HashMap<Tuple, Value, Fold>),
    Quick(quick_cache::sync::Cache<Tuple, Value>),
    MokaSync(moka::sync::Cache<Tuple, Value, Fold>),
    MokaFuture(moka::future::Cache<Tuple, Value, Fold>),
    Cached,
}

/// Runs a lookup closure: the timing loop of the benchmark, the counting loop of the
/// instruction example, or the checking loop below. `f(i)` looks key `i` up.
pub(crate) trait Driver {
    fn sync_lookup<F: Fn(usize) -> Value + Sync>(&mut self, f: F);
    fn async_lookup<F, Fut>(&mut self, f: F)
    where
        F: Fn(usize) -> Fut + Sync,
        Fut: Future<Output = Value>;
}

impl Built {
    /// Builds `who`'s cache and fills it with `keys` (the macro's and `cached`'s caches are
    /// statics: filled, and emptied by [`Built::release`]).
    pub(crate) fn new(who: Contender, keys: &[Key]) -> Self {
        let cap = keys.len() * 2;
        let rt = current_thread_runtime();
        let built = match who {
            Contender::Macro => {
                rt.block_on(async {
                    for k in keys {
                        hit(&k.user, &k.provider, &k.folder).await;
                    }
                });
                Self::Macro
            }
            Contender::GetWith | Contender::Get => {
                let cache = TtlCache::builder()
                    .ttl(TTL)
                    .capacity(cap)
                    .name("hit_runtime")
                    .build()
                    .expect("valid cache config");
                rt.block_on(async {
                    for k in keys {
                        cache
                            .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                                value_for(k.id)
                            })
                            .await;
                    }
                });
                assert_eq!(cache.len(), keys.len());
                // Attached, the cache follows the fleet's lease: each hit compares it too.
                #[cfg(feature = "redis")]
                if std::env::var_os("HIT_ATTACHED").is_some() {
                    cache_core::backplane::attach(&cache).expect("a unique name");
                    rt.block_on(async {
                        for k in keys {
                            cache
                                .get_with(
                                    &Borrowed((&*k.user, &*k.provider)),
                                    &*k.folder,
                                    || async { value_for(k.id) },
                                )
                                .await;
                        }
                    });
                }
                Self::Runtime(cache, who == Contender::GetWith)
            }
            Contender::SccFloor => {
                let map = scc::HashIndex::with_capacity_and_hasher(cap, Fold::default());
                for k in keys {
                    map.insert_sync(k.tuple(), value_for(k.id))
                        .expect("distinct keys");
                }
                Self::Scc(map)
            }
            Contender::HashbrownFloor => {
                let mut map = hashbrown::HashMap::with_capacity_and_hasher(cap, Fold::default());
                for k in keys {
                    map.insert(k.tuple(), value_for(k.id));
                }
                Self::Hashbrown(map)
            }
            Contender::QuickCache => {
                let cache = quick_cache::sync::Cache::new(cap);
                for k in keys {
                    cache.insert(k.tuple(), value_for(k.id));
                }
                Self::Quick(cache)
            }
            Contender::MokaSync => {
                let cache = moka::sync::Cache::builder()
                    .max_capacity(cap as u64)
                    .time_to_live(TTL)
                    .build_with_hasher(Fold::default());
                for k in keys {
                    cache.insert(k.tuple(), value_for(k.id));
                }
                cache.run_pending_tasks();
                assert_eq!(cache.entry_count(), keys.len() as u64);
                Self::MokaSync(cache)
            }
            Contender::MokaFuture => {
                let cache = moka::future::Cache::builder()
                    .max_capacity(cap as u64)
                    .time_to_live(TTL)
                    .build_with_hasher(Fold::default());
                rt.block_on(async {
                    for k in keys {
                        cache.insert(k.tuple(), value_for(k.id)).await;
                    }
                    cache.run_pending_tasks().await;
                });
                assert_eq!(cache.entry_count(), keys.len() as u64);
                Self::MokaFuture(cache)
            }
            Contender::Cached => {
                assert!(who.supports(keys.len()), "cached's store holds 2 000");
                rt.block_on(async {
                    for k in keys {
                        cached_hit(k.user.clone(), k.provider.clone(), k.folder.clone()).await;
                    }
                });
                Self::Cached
            }
        };
        built.check(keys);
        built
    }

    /// Looks every key up once and checks it is a hit with the right value.
    fn check(&self, keys: &[Key]) {
        struct Check<'a>(&'a [Key]);
        impl Driver for Check<'_> {
            fn sync_lookup<F: Fn(usize) -> Value + Sync>(&mut self, f: F) {
                for (i, k) in self.0.iter().enumerate() {
                    assert_eq!(f(i), value_for(k.id), "key {i}");
                }
            }
            fn async_lookup<F, Fut>(&mut self, f: F)
            where
                F: Fn(usize) -> Fut + Sync,
                Fut: Future<Output = Value>,
            {
                current_thread_runtime().block_on(async {
                    for (i, k) in self.0.iter().enumerate() {
                        assert_eq!(f(i).await, value_for(k.id), "key {i}");
                    }
                });
            }
        }
        self.drive(keys, &mut Check(keys));
    }

    /// Hands `driver` this contender's lookup of key `i`.
    pub(crate) fn drive<D: Driver>(&self, keys: &[Key], driver: &mut D) {
        match self {
            Self::Macro => driver.async_lookup(|i| {
                let k = &keys[i];
                hit(&k.user, &k.provider, &k.folder)
            }),
            Self::Runtime(cache, true) => driver.async_lookup(|i| async move {
                let k = &keys[i];
                cache
                    .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                        unreachable!("every call is a hit")
                    })
                    .await
            }),
            Self::Runtime(cache, false) => driver.sync_lookup(|i| {
                let k = &keys[i];
                cache
                    .get(&Borrowed((&*k.user, &*k.provider)), &*k.folder)
                    .expect("a hit")
            }),
            Self::Scc(map) => driver.sync_lookup(|i| {
                map.peek_with(&keys[i].triple(), |_, v| v.clone())
                    .expect("a hit")
            }),
            Self::Hashbrown(map) => {
                driver.sync_lookup(|i| map.get(&keys[i].triple()).cloned().expect("a hit"));
            }
            Self::Quick(cache) => {
                driver.sync_lookup(|i| cache.get(&keys[i].triple()).expect("a hit"))
            }
            Self::MokaSync(cache) => {
                driver.sync_lookup(|i| cache.get(&keys[i].triple()).expect("a hit"));
            }
            Self::MokaFuture(cache) => driver.async_lookup(|i| async move {
                cache.get(&keys[i].triple()).await.expect("a hit")
            }),
            Self::Cached => driver.async_lookup(|i| {
                let k = &keys[i];
                cached_hit(k.user.clone(), k.provider.clone(), k.folder.clone())
            }),
        }
    }

    /// Drops the cache; empties the macro's static cache.
    pub(crate) fn release(self) {
        if matches!(self, Self::Macro) {
            drop(hit_cache().clear());
        }
    }
}

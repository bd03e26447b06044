//! The hit path: 1 000 live keys, every measured call a hit, on 1 and 2 threads.
//!
//! Each contender is timed on `t` OS threads at once (`t` = 1, 2), each thread with its own
//! current-thread tokio runtime, cycling through the 1 000 keys from its own offset. With
//! `iter_custom`, criterion's "time" is the wall time from the moment the threads are released
//! together until the last one finishes, divided by the calls *each thread* made: the latency
//! of one call while `t` threads run. Aggregate throughput is `t / time`.
//!
//! Keys are prebuilt; each contender pays for building what its API needs on every call, as
//! its users write it (see each contender's comment and the README).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use cache_core::{ttl_cached, Borrowed, TtlCache};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use ttl_cached_benches::{criterion_config, keys, value_for, value_for_folder, Key, Value};

/// Live keys.
const KEYS: usize = 1_000;
const TTL: Duration = Duration::from_secs(600);
/// Above `KEYS`, so nothing is evicted.
const CAPACITY: u64 = 2_000;

static MACRO_FETCHES: AtomicU64 = AtomicU64::new(0);
static CACHED_FETCHES: AtomicU64 = AtomicU64::new(0);

// The contender: `&str` parts, borrowed by the generated lookup; a hit allocates nothing.
#[ttl_cached(
    ttl = 600,
    key = "<a>:<b>:<c>",
    group = "<a>:<b>",
    capacity = 2_000_000
)]
async fn hit(a: &str, b: &str, c: &str) -> Arc<Vec<u64>> {
    let _ = (a, b);
    MACRO_FETCHES.fetch_add(1, Relaxed);
    value_for_folder(c)
}

// `cached` needs owned `Clone + 'static` arguments to build its key: callers holding `&str`
// allocate 3 `String`s per call, and the macro clones them into the key tuple (3 more) before
// the lookup. An LRU+TTL store (`max_size` + `ttl_secs`), behind an async `RwLock` taken for
// writing on every call (LRU hits reorder).
#[cached::proc_macro::cached(ttl_secs = 600, max_size = 2_000)]
async fn cached_hit(a: String, b: String, c: String) -> Arc<Vec<u64>> {
    let _ = (a, b);
    CACHED_FETCHES.fetch_add(1, Relaxed);
    value_for_folder(&c)
}

/// A borrowed `(String, String, String)` for `quick_cache`'s `Equivalent` lookup: hashes as the
/// owned tuple does (each `str` in order, as `String::hash` delegates to `str::hash`).
#[derive(Debug, Clone, Copy)]
struct Triple<'a>(&'a str, &'a str, &'a str);

impl Hash for Triple<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
        self.2.hash(state);
    }
}

impl quick_cache::Equivalent<(String, String, String)> for Triple<'_> {
    fn equivalent(&self, key: &(String, String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// Runs `per_thread(offset)` on `threads` OS threads released together; returns the wall
/// time from the release to the last thread's end. Each thread times itself, so thread
/// start-up and join are not counted.
fn on_threads<F>(threads: usize, per_thread: F) -> Duration
where
    F: Fn(usize) -> (Instant, Instant) + Sync,
{
    if threads == 1 {
        let (start, end) = per_thread(0);
        return end - start;
    }
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let per_thread = &per_thread;
                s.spawn(move || per_thread(t * KEYS / threads))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("one thread");
    let end = spans.iter().map(|s| s.1).max().expect("one thread");
    end - start
}

/// Times `iters` calls of an async lookup per thread, keys cycled from each thread's offset.
fn bench_async<F, Fut>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    lookup: F,
) where
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = Value>,
{
    group.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(threads);
            on_threads(threads, |offset| {
                let rt = current_thread_runtime();
                barrier.wait();
                rt.block_on(async {
                    let mut i = offset;
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(lookup(black_box(i)).await);
                        i += 1;
                        if i == KEYS {
                            i = 0;
                        }
                    }
                    (start, Instant::now())
                })
            })
        });
    });
}

/// Times `iters` calls of a synchronous lookup per thread (no runtime entered).
fn bench_sync<F>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    lookup: F,
) where
    F: Fn(usize) -> Value + Sync,
{
    group.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(threads);
            on_threads(threads, |offset| {
                barrier.wait();
                let mut i = offset;
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(lookup(black_box(i)));
                    i += 1;
                    if i == KEYS {
                        i = 0;
                    }
                }
                (start, Instant::now())
            })
        });
    });
}

/// Every contender, filled with the same 1 000 keys before anything is timed.
struct Contenders {
    keys: Vec<Key>,
    /// `keys[i].joined()`, for the contenders whose key is one string and that are given it
    /// prebuilt.
    joined: Vec<String>,
    runtime: TtlCache<(String, String), String, Value>,
    scc: scc::HashMap<String, Value>,
    moka_future: moka::future::Cache<String, Value>,
    moka_sync: moka::sync::Cache<String, Value>,
    quick: quick_cache::sync::Cache<(String, String, String), Value>,
    mutex: Mutex<HashMap<(String, String, String), Value>>,
}

impl Contenders {
    fn new() -> Self {
        let keys = keys(KEYS);
        let joined = keys.iter().map(Key::joined).collect();
        Self {
            keys,
            joined,
            runtime: TtlCache::builder()
                .ttl(TTL)
                .capacity(CAPACITY as usize)
                .name("hit_runtime")
                .build()
                .expect("valid cache config"),
            scc: scc::HashMap::new(),
            moka_future: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            moka_sync: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            quick: quick_cache::sync::Cache::new(CAPACITY as usize),
            mutex: Mutex::new(HashMap::new()),
        }
    }

    fn fill(&self) {
        current_thread_runtime().block_on(async {
            for (k, joined) in self.keys.iter().zip(&self.joined) {
                let v = hit(&k.user, &k.provider, &k.folder).await;
                assert_eq!(v, value_for(k.id));
                let v = cached_hit(k.user.clone(), k.provider.clone(), k.folder.clone()).await;
                assert_eq!(v, value_for(k.id));
                self.runtime
                    .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                        value_for(k.id)
                    })
                    .await;
                let _ = self.scc.insert_async(joined.clone(), value_for(k.id)).await;
                self.moka_future
                    .insert(joined.clone(), value_for(k.id))
                    .await;
                self.moka_sync.insert(joined.clone(), value_for(k.id));
                self.quick.insert(k.tuple(), value_for(k.id));
                self.mutex
                    .lock()
                    .expect("not poisoned")
                    .insert(k.tuple(), value_for(k.id));
            }
            self.moka_future.run_pending_tasks().await;
        });
        self.moka_sync.run_pending_tasks();
        assert_eq!(MACRO_FETCHES.load(Relaxed), KEYS as u64);
        assert_eq!(CACHED_FETCHES.load(Relaxed), KEYS as u64);
        assert_eq!(self.runtime.len(), KEYS);
        assert_eq!(self.moka_sync.entry_count(), KEYS as u64);
        assert_eq!(self.moka_future.entry_count(), KEYS as u64);
    }

    /// One lookup of every key through every contender, checking each is a hit with the right
    /// value (outside the timed loops).
    fn check_hits(&self) {
        current_thread_runtime().block_on(async {
            for (i, (k, joined)) in self.keys.iter().zip(&self.joined).enumerate() {
                let want = value_for(k.id);
                let (a, b, c) = (&*k.user, &*k.provider, &*k.folder);
                assert_eq!(hit(a, b, c).await, want, "macro, key {i}");
                assert_eq!(
                    cached_hit(a.to_owned(), b.to_owned(), c.to_owned()).await,
                    want,
                    "cached, key {i}"
                );
                let got = self
                    .runtime
                    .get_with(&Borrowed((a, b)), c, || async { unreachable!("a miss") })
                    .await;
                assert_eq!(got, want, "runtime, key {i}");
                assert_eq!(self.runtime.get(&Borrowed((a, b)), c), Some(want.clone()));
                assert_eq!(
                    self.scc.read_async(joined, |_, v| v.clone()).await,
                    Some(want.clone())
                );
                let f = format!("{a}:{b}:{c}");
                assert_eq!(self.moka_future.get(&f).await, Some(want.clone()));
                assert_eq!(self.moka_sync.get(&f), Some(want.clone()));
                assert_eq!(self.quick.get(&Triple(a, b, c)), Some(want.clone()));
                let mutex = self.mutex.lock().expect("not poisoned");
                assert_eq!(mutex.get(&k.tuple()), Some(&want));
            }
        });
    }

    /// The fetch counters did not move since the fill: every timed call was a hit.
    fn check_no_misses(&self) {
        assert_eq!(
            MACRO_FETCHES.load(Relaxed),
            KEYS as u64,
            "a macro call missed"
        );
        assert_eq!(
            CACHED_FETCHES.load(Relaxed),
            KEYS as u64,
            "a cached call missed"
        );
        assert_eq!(hit_cache().stats().misses, KEYS as u64);
        assert_eq!(self.runtime.stats().misses, KEYS as u64);
    }
}

fn hit_path(c: &mut Criterion) {
    let all = Contenders::new();
    all.fill();
    all.check_hits();
    let keys = &all.keys;
    let joined = &all.joined;

    let mut group = c.benchmark_group("hit");
    for threads in [1, 2] {
        // `#[ttl_cached]` fn called with `&str` parts: borrowed lookup, no allocation.
        bench_async(&mut group, "ttl_cached_macro", threads, |i| {
            let k = &keys[i];
            hit(&k.user, &k.provider, &k.folder)
        });

        // The runtime with a borrowed group (`Borrowed((&str, &str))`) and a `&str` rest.
        let runtime = &all.runtime;
        bench_async(&mut group, "runtime_direct", threads, |i| async move {
            let k = &keys[i];
            let group = Borrowed((&*k.user, &*k.provider));
            runtime
                .get_with(&group, &*k.folder, || async {
                    unreachable!("every call is a hit")
                })
                .await
        });

        // The runtime's synchronous peek, same borrowed key.
        bench_sync(&mut group, "runtime_get_sync", threads, |i| {
            let k = &keys[i];
            runtime
                .get(&Borrowed((&*k.user, &*k.provider)), &*k.folder)
                .expect("a hit")
        });

        // The floor: scc's HashMap (SipHash) read with a prebuilt joined `String` key.
        let scc = &all.scc;
        bench_async(
            &mut group,
            "scc_read_async_prebuilt",
            threads,
            |i| async move {
                scc.read_async(&joined[i], |_, v| v.clone())
                    .await
                    .expect("a hit")
            },
        );

        // moka's async cache with the key built by `format!` on every call.
        let moka_future = &all.moka_future;
        bench_async(&mut group, "moka_future_format", threads, |i| async move {
            let k = &keys[i];
            moka_future
                .get(&format!("{}:{}:{}", k.user, k.provider, k.folder))
                .await
                .expect("a hit")
        });

        // moka's sync cache, `format!` key.
        let moka_sync = &all.moka_sync;
        bench_sync(&mut group, "moka_sync_format", threads, |i| {
            let k = &keys[i];
            moka_sync
                .get(&format!("{}:{}:{}", k.user, k.provider, k.folder))
                .expect("a hit")
        });

        // quick_cache with a borrowed `Triple(&str, &str, &str)` through its `Equivalent`
        // support: no allocation.
        let quick = &all.quick;
        bench_sync(&mut group, "quick_cache_sync", threads, |i| {
            let k = &keys[i];
            quick
                .get(&Triple(&k.user, &k.provider, &k.folder))
                .expect("a hit")
        });

        // `#[cached]` on an async fn taking `String`s: 3 `String`s built by the caller per
        // call, cloned again by the macro into its key.
        bench_async(&mut group, "cached_macro", threads, |i| {
            let k = &keys[i];
            cached_hit(k.user.clone(), k.provider.clone(), k.folder.clone())
        });

        // `Mutex<HashMap<(String, String, String), _>>` (SipHash), the key built as an owned
        // tuple on every call: what a user writes, since std's `HashMap` cannot look a tuple
        // of `String`s up by a tuple of `&str`.
        let mutex = &all.mutex;
        bench_sync(&mut group, "mutex_hashmap", threads, |i| {
            let k = &keys[i];
            let key = (k.user.clone(), k.provider.clone(), k.folder.clone());
            mutex
                .lock()
                .expect("not poisoned")
                .get(&key)
                .cloned()
                .expect("a hit")
        });
    }
    group.finish();
    all.check_no_misses();
}

criterion_group! {
    name = benches;
    config = criterion_config();
    targets = hit_path
}
criterion_main!(benches);

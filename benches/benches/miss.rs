//! The miss path: a lookup of a cold key that fetches (the fetch builds the value, no I/O) and
//! stores, in a full cache of 1 000 entries (so every store also evicts), on 1 and 2 threads.
//!
//! Keys cycle through a pool of 100 000 three-part keys, each thread through its own share (so
//! threads running at different speeds never meet on a key): each key was last requested
//! 100 000 calls ago (50 000 with 2 threads), long evicted from a 1 000-entry cache.
//! Contenders:
//!
//! - `ttlcache_get_with`: `TtlCache::get_with(&Borrowed((user, provider)), folder, fetch)`
//!   (a lookup by borrowed key, the owned key built on the miss, the fetch, the store and
//!   whatever eviction and bookkeeping the store does);
//! - `moka_sync_get_with`: `moka::sync::Cache<Tuple, _, foldhash>::get_with(key, fetch)`, the
//!   owned key built per call (moka's `get_with` takes it by value; a miss must build it anyway
//!   to store it); moka evicts in its housekeeping, which runs inside its calls;
//! - `moka_future_get_with`: the same on `moka::future::Cache`;
//! - `scc_get_insert_fifo`: the plain floor, `scc::HashMap<Tuple, _, foldhash>`: `read_sync` by
//!   borrowed key, `insert_sync` of the owned key, and `remove_sync` of the key inserted 1 000
//!   calls before to stay at 1 000 entries (a FIFO bound, the least a bounded cache does).
//!
//! Timed as in `hit.rs` (thread CPU time by default, `BENCH_CLOCK=wall` for wall time).
//! Threads: `MISS_THREADS=1,2`.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use cache_core::{Borrowed, TtlCache};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use ttl_cached_benches::{
    criterion_config, keys, sizes_from_env, thread_cpu_time, time_threads, value_for, Key, Tuple,
    Value,
};

type Fold = foldhash::fast::RandomState;
type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Entries held: the caches are full, so each miss evicts.
const CAPACITY: usize = 1_000;
/// Distinct keys cycled through.
const POOL: usize = 100_000;
const TTL: std::time::Duration = std::time::Duration::from_secs(600);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// Where each thread stopped, so that the next batch of iterations goes on from there: a key
/// comes back only after the thread's whole share of the pool, and the scc floor's FIFO bound
/// stays exact.
struct Positions(Vec<AtomicUsize>);

impl Positions {
    fn new(threads: usize) -> Self {
        Self(
            (0..threads)
                .map(|t| AtomicUsize::new(t * POOL / threads))
                .collect(),
        )
    }

    /// The thread whose first key is `offset`.
    fn slot(&self, offset: usize) -> &AtomicUsize {
        &self.0[offset * self.0.len() / POOL]
    }

    fn start(&self, offset: usize) -> usize {
        self.slot(offset).load(Relaxed)
    }

    fn stop(&self, offset: usize, at: usize) {
        self.slot(offset).store(at, Relaxed);
    }
}

/// Times `op(i)` for keys cycled from each thread's offset; `op` returns the value it got.
fn bench_sync(
    group: &mut Group<'_>,
    name: &str,
    threads: usize,
    op: impl Fn(usize) -> Value + Sync,
) {
    // Outside the closure: criterion calls it again for each batch of samples.
    let at = Positions::new(threads);
    group.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| {
            time_threads(threads, POOL, |offset| {
                let mut i = at.start(offset);
                let (cpu, start) = (thread_cpu_time(), Instant::now());
                for _ in 0..iters {
                    black_box(op(black_box(i)));
                    i += 1;
                    if i == offset + POOL / threads {
                        i = offset;
                    }
                }
                let span = (start, Instant::now(), thread_cpu_time() - cpu);
                at.stop(offset, i);
                span
            })
        });
    });
}

fn bench_async<F, Fut>(group: &mut Group<'_>, name: &str, threads: usize, op: F)
where
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = Value>,
{
    // Outside the closure: criterion calls it again for each batch of samples.
    let at = Positions::new(threads);
    group.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| {
            time_threads(threads, POOL, |offset| {
                runtime().block_on(async {
                    let mut i = at.start(offset);
                    let (cpu, start) = (thread_cpu_time(), Instant::now());
                    for _ in 0..iters {
                        black_box(op(black_box(i)).await);
                        i += 1;
                        if i == offset + POOL / threads {
                            i = offset;
                        }
                    }
                    let span = (start, Instant::now(), thread_cpu_time() - cpu);
                    at.stop(offset, i);
                    span
                })
            })
        });
    });
}

fn miss_path(c: &mut Criterion) {
    let keys: Vec<Key> = keys(POOL);
    let keys = &keys;
    let mut group = c.benchmark_group("miss");
    for threads in sizes_from_env("MISS_THREADS", &[1, 2], &[1]) {
        // Every contender starts full: the first CAPACITY keys are stored before timing.
        let cache: TtlCache<(String, String), String, Value> = TtlCache::builder()
            .ttl(TTL)
            .capacity(CAPACITY)
            .name("miss_runtime")
            .build()
            .expect("valid cache config");
        let rt = runtime();
        for k in &keys[POOL - CAPACITY..] {
            rt.block_on(cache.get_with(
                &Borrowed((&*k.user, &*k.provider)),
                &*k.folder,
                || async { value_for(k.id) },
            ));
        }
        let cache = &cache;
        bench_async(&mut group, "ttlcache_get_with", threads, |i| async move {
            let k = &keys[i];
            cache
                .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                    value_for(k.id)
                })
                .await
        });
        let stats = cache.stats();
        assert!(cache.len() <= CAPACITY);
        assert!(
            stats.misses > stats.hits * 100,
            "the keys were not cold: {stats:?}"
        );

        let moka: moka::sync::Cache<Tuple, Value, Fold> = moka::sync::Cache::builder()
            .max_capacity(CAPACITY as u64)
            .time_to_live(TTL)
            .build_with_hasher(Fold::default());
        for k in &keys[POOL - CAPACITY..] {
            moka.insert(k.tuple(), value_for(k.id));
        }
        moka.run_pending_tasks();
        bench_sync(&mut group, "moka_sync_get_with", threads, |i| {
            let k = &keys[i];
            moka.get_with(k.tuple(), || value_for(k.id))
        });
        drop(moka);

        let moka: moka::future::Cache<Tuple, Value, Fold> = moka::future::Cache::builder()
            .max_capacity(CAPACITY as u64)
            .time_to_live(TTL)
            .build_with_hasher(Fold::default());
        rt.block_on(async {
            for k in &keys[POOL - CAPACITY..] {
                moka.insert(k.tuple(), value_for(k.id)).await;
            }
            moka.run_pending_tasks().await;
        });
        let moka = &moka;
        bench_async(
            &mut group,
            "moka_future_get_with",
            threads,
            |i| async move {
                let k = &keys[i];
                moka.get_with(k.tuple(), async { value_for(k.id) }).await
            },
        );

        let scc: scc::HashMap<Tuple, Value, Fold> =
            scc::HashMap::with_capacity_and_hasher(CAPACITY * 2, Fold::default());
        // Each thread keeps the CAPACITY keys before its position in its own range, so
        // removing key i - CAPACITY stays correct from the first timed call on.
        let span = POOL / threads;
        let before = |i: usize, n: usize| i / span * span + (i % span + span - n) % span;
        for t in 0..threads {
            for j in 1..=CAPACITY {
                let k = &keys[before(t * span, j)];
                let _ = scc.insert_sync(k.tuple(), value_for(k.id));
            }
        }
        bench_sync(&mut group, "scc_get_insert_fifo", threads, |i| {
            let k = &keys[i];
            if let Some(v) = scc.read_sync(&k.triple(), |_, v| v.clone()) {
                return v;
            }
            let v = value_for(k.id);
            let _ = scc.insert_sync(k.tuple(), v.clone());
            scc.remove_sync(&keys[before(i, CAPACITY)].triple());
            v
        });
        assert!(scc.len() <= CAPACITY * threads, "the FIFO bound drifted");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion_config();
    targets = miss_path
}
criterion_main!(benches);

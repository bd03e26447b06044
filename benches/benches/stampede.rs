//! A cold-key stampede: 1 000 tasks ask for one key that is not cached, all at once, on a
//! multi-thread tokio runtime with 2 workers. The fetch sleeps 20 ms (real time) and counts
//! its runs.
//!
//! Criterion's time is the wall time of one stampede: from before the first task is spawned
//! until the last one has its value, so at least 20 ms; the rest is the cost of coalescing
//! 1 000 callers (spawning, waiting, waking, handing the value out). Every iteration uses a
//! fresh key (a global counter in the folder part), so every iteration is a cold stampede.
//! After each stampede the fetch counter is checked: a contender that does not coalesce fails
//! the benchmark (set `STAMPEDE_NO_ASSERT=1` to only print the counts). The fetches per
//! stampede of each contender are printed at the end.
//!
//! `floor_tokio_oncecell` is the reference: one `tokio::sync::OnceCell` per key handed to all
//! 1 000 tasks, the least any coalescing cache can cost (no map, no TTL, no invalidation).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cache_core::{ttl_cached, Borrowed, TtlCache};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ttl_cached_benches::{slow_criterion_config, value_for, value_for_folder, Key, Value};

const TASKS: usize = 1_000;
const FETCH_TIME: Duration = Duration::from_millis(20);
const TTL: Duration = Duration::from_secs(600);
/// Every iteration adds one key; nothing needs evicting within a run.
const CAPACITY: usize = 1_000_000;

/// Makes every key ever used in this process distinct.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

static MACRO_FETCHES: AtomicU64 = AtomicU64::new(0);
static CACHED_FETCHES: AtomicU64 = AtomicU64::new(0);
static CACHED_BY_KEY_FETCHES: AtomicU64 = AtomicU64::new(0);

/// The slow upstream call every contender makes on a miss.
async fn upstream(counter: &AtomicU64, folder: &str) -> Value {
    counter.fetch_add(1, Relaxed);
    tokio::time::sleep(FETCH_TIME).await;
    value_for_folder(folder)
}

#[ttl_cached(
    ttl = 600,
    key = "<a>:<b>:<c>",
    group = "<a>:<b>",
    capacity = 1_000_000
)]
async fn stampede_macro(a: &str, b: &str, c: &str) -> Arc<Vec<u64>> {
    let _ = (a, b);
    upstream(&MACRO_FETCHES, c).await
}

// `sync_writes = true`: cached 4.x's whole-cache write lock, held while the body runs, so
// concurrent misses (of any key) wait for the first and then read its value.
#[cached::proc_macro::cached(ttl_secs = 600, max_size = 1_000_000, sync_writes = true)]
async fn stampede_cached(a: String, b: String, c: String) -> Arc<Vec<u64>> {
    let _ = (a, b);
    upstream(&CACHED_FETCHES, &c).await
}

// `sync_writes = "by_key"`: cached 4.x's per-key-bucket locks (64 buckets), held while the
// body runs; misses of one key coalesce without blocking the whole cache.
#[cached::proc_macro::cached(ttl_secs = 600, max_size = 1_000_000, sync_writes = "by_key")]
async fn stampede_cached_by_key(a: String, b: String, c: String) -> Arc<Vec<u64>> {
    let _ = (a, b);
    upstream(&CACHED_BY_KEY_FETCHES, &c).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a multi-thread runtime")
}

fn fresh_key() -> Arc<Key> {
    let n = NEXT_KEY.fetch_add(1, Relaxed);
    Arc::new(Key::new(n / 20, n))
}

fn assert_mode() -> bool {
    std::env::var_os("STAMPEDE_NO_ASSERT").is_none_or(|v| v.is_empty() || v == "0")
}

/// Counts stampedes and fetches of one contender, for the summary.
#[derive(Debug, Default)]
struct Tally {
    stampedes: AtomicU64,
    fetches: AtomicU64,
    max_fetches: AtomicU64,
}

impl Tally {
    fn record(&self, name: &str, fetches: u64) {
        self.stampedes.fetch_add(1, Relaxed);
        self.fetches.fetch_add(fetches, Relaxed);
        self.max_fetches.fetch_max(fetches, Relaxed);
        if assert_mode() {
            assert_eq!(fetches, 1, "{name}: {fetches} fetches for one stampede");
        }
    }

    /// One line for the summary; `None` if the contender did not run (filtered out).
    fn summary(&self, name: &str) -> Option<String> {
        let stampedes = self.stampedes.load(Relaxed);
        if stampedes == 0 {
            return None;
        }
        let fetches = self.fetches.load(Relaxed);
        Some(format!(
            "{name:<26} {stampedes:>5} stampedes, {fetches:>6} fetches, at most {} per stampede",
            self.max_fetches.load(Relaxed)
        ))
    }
}

/// One stampede: `TASKS` tasks call `call(key)` at once; returns the wall time until all have
/// their value (checked) and the fetches it caused.
async fn one_stampede<F, Fut>(counter: &AtomicU64, call: &F) -> (Duration, u64)
where
    F: Fn(Arc<Key>) -> Fut,
    Fut: Future<Output = Value> + Send + 'static,
{
    let key = fresh_key();
    let want = value_for(key.id);
    let before = counter.load(Relaxed);
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(call(Arc::clone(&key))))
        .collect();
    let mut values = Vec::with_capacity(TASKS);
    for task in tasks {
        values.push(task.await.expect("stampede task panicked"));
    }
    let elapsed = start.elapsed();
    assert!(
        values.iter().all(|v| *v == want),
        "a caller got a wrong value"
    );
    drop(values);
    (elapsed, counter.load(Relaxed) - before)
}

fn bench_contender<F, Fut>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    counter: &AtomicU64,
    call: F,
) -> Tally
where
    F: Fn(Arc<Key>) -> Fut,
    Fut: Future<Output = Value> + Send + 'static,
{
    let tally = Tally::default();
    let mut group = c.benchmark_group("stampede");
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function(BenchmarkId::new(name, TASKS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (elapsed, fetches) = rt.block_on(one_stampede(counter, &call));
                tally.record(name, fetches);
                total += elapsed;
            }
            total
        });
    });
    group.finish();
    tally
}

fn stampede(c: &mut Criterion) {
    let rt = runtime();
    let mut summaries = Vec::new();

    let name = "ttl_cached_macro";
    let tally = bench_contender(c, &rt, name, &MACRO_FETCHES, |k| async move {
        stampede_macro(&k.user, &k.provider, &k.folder).await
    });
    summaries.push(tally.summary(name));

    let runtime_cache: Arc<TtlCache<(String, String), String, Value>> = Arc::new(
        TtlCache::builder()
            .ttl(TTL)
            .capacity(CAPACITY)
            .name("stampede_runtime")
            .build()
            .expect("valid cache config"),
    );
    static RUNTIME_FETCHES: AtomicU64 = AtomicU64::new(0);
    let name = "runtime_get_with";
    let tally = bench_contender(c, &rt, name, &RUNTIME_FETCHES, |k| {
        let cache = Arc::clone(&runtime_cache);
        async move {
            cache
                .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || {
                    upstream(&RUNTIME_FETCHES, &k.folder)
                })
                .await
        }
    });
    summaries.push(tally.summary(name));

    let moka: moka::future::Cache<String, Value> = moka::future::Cache::builder()
        .max_capacity(CAPACITY as u64)
        .time_to_live(TTL)
        .build();
    static MOKA_FETCHES: AtomicU64 = AtomicU64::new(0);
    let name = "moka_future_get_with";
    let tally = bench_contender(c, &rt, name, &MOKA_FETCHES, |k| {
        let cache = moka.clone();
        async move {
            cache
                .get_with(k.joined(), upstream(&MOKA_FETCHES, &k.folder))
                .await
        }
    });
    summaries.push(tally.summary(name));

    let name = "cached_sync_writes";
    let tally = bench_contender(c, &rt, name, &CACHED_FETCHES, |k| async move {
        stampede_cached(k.user.clone(), k.provider.clone(), k.folder.clone()).await
    });
    summaries.push(tally.summary(name));

    let name = "cached_sync_writes_by_key";
    let tally = bench_contender(c, &rt, name, &CACHED_BY_KEY_FETCHES, |k| async move {
        stampede_cached_by_key(k.user.clone(), k.provider.clone(), k.folder.clone()).await
    });
    summaries.push(tally.summary(name));

    // The floor: one `tokio::sync::OnceCell` per key, the least a coalescing cache can do
    // (no map, no TTL, no invalidation).
    static ONCE_FETCHES: AtomicU64 = AtomicU64::new(0);
    type Cell = Arc<tokio::sync::OnceCell<Value>>;
    let cells: Arc<std::sync::Mutex<Option<(u64, Cell)>>> = Arc::default();
    let name = "floor_tokio_oncecell";
    let tally = bench_contender(c, &rt, name, &ONCE_FETCHES, |k| {
        let cell = {
            let mut slot = cells.lock().expect("not poisoned");
            match &*slot {
                Some((id, cell)) if *id == k.id => Arc::clone(cell),
                _ => {
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    *slot = Some((k.id, Arc::clone(&cell)));
                    cell
                }
            }
        };
        async move {
            cell.get_or_init(|| upstream(&ONCE_FETCHES, &k.folder))
                .await
                .clone()
        }
    });
    summaries.push(tally.summary(name));

    println!("\nfetches per stampede of {TASKS} tasks (want 1):");
    for line in summaries.into_iter().flatten() {
        println!("  {line}");
    }
}

criterion_group! {
    name = benches;
    config = slow_criterion_config();
    targets = stampede
}
criterion_main!(benches);

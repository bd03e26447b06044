//! Group invalidation: evict one 20-entry group from a cache holding 1 000, 100 000 or
//! 1 000 000 entries (all in distinct groups of 20), until the entries are really gone.
//!
//! - `ttlcache_invalidate_group`: `TtlCache::invalidate_group(&Borrowed((user, provider)))`.
//!   Done when it returns (it removes the group's entries before returning).
//! - `moka_invalidate_entries_if`: `moka::sync::Cache<(String, String, String), _>` built with
//!   `support_invalidation_closures()`; registers a predicate matching the group, then calls
//!   `run_pending_tasks()` until `entry_count()` has dropped by 20. (Reads stop returning the
//!   entries as soon as the predicate is registered, but they stay in memory until moka's
//!   housekeeping has scanned the cache, a batch per `run_pending_tasks()`.)
//! - `scc_retain_starts_with`: the hand-rolled baseline, an `scc::HashMap<String, _>` keyed by
//!   the joined `user:provider:folder` string, scanned with `retain_async` dropping the keys
//!   that start with `user:provider:`.
//!
//! Each cache is built once per size, outside the timing. Every iteration first refills the
//! evicted group (not timed), then times one invalidation. Sizes can be chosen with
//! `INVALIDATE_SIZES=1000,100000`; under `cargo test --benches` (no `--bench`) they are 1 000
//! and 10 000.

use std::time::{Duration, Instant};

use cache_core::{Borrowed, TtlCache};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use ttl_cached_benches::{
    keys, sizes_from_env, slow_criterion_config, value_for, Key, Value, GROUP_SIZE,
};

const TTL: Duration = Duration::from_secs(600);

type MokaKey = (String, String, String);
type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn sizes() -> Vec<usize> {
    sizes_from_env(
        "INVALIDATE_SIZES",
        &[1_000, 100_000, 1_000_000],
        &[1_000, 10_000],
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// The group evicted in every iteration: the middle one.
fn victim(keys: &[Key]) -> &[Key] {
    let groups = keys.len() / GROUP_SIZE;
    let start = groups / 2 * GROUP_SIZE;
    &keys[start..start + GROUP_SIZE]
}

async fn fill_ttlcache(cache: &TtlCache<(String, String), String, Value>, keys: &[Key]) {
    for k in keys {
        let v = cache
            .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                value_for(k.id)
            })
            .await;
        debug_assert_eq!(v[0], k.id);
    }
}

async fn fill_scc(map: &scc::HashMap<String, Value>, keys: &[Key]) {
    for k in keys {
        let _ = map.insert_async(k.joined(), value_for(k.id)).await;
    }
}

fn bench_ttlcache(group: &mut Group<'_>, rt: &tokio::runtime::Runtime, keys: &[Key]) {
    let size = keys.len();
    let cache: TtlCache<(String, String), String, Value> = TtlCache::builder()
        .ttl(TTL)
        .capacity(size * 2)
        .name("invalidate_runtime")
        .build()
        .expect("valid cache config");
    rt.block_on(fill_ttlcache(&cache, keys));
    assert_eq!(cache.len(), size);
    let victim = victim(keys);
    let (user, provider) = (&*victim[0].user, &*victim[0].provider);

    group.bench_function(BenchmarkId::new("ttlcache_invalidate_group", size), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fill_ttlcache(&cache, victim).await;
                    debug_assert_eq!(cache.len(), size);
                    let start = Instant::now();
                    let removed = cache.invalidate_group(&Borrowed((user, provider))).await;
                    total += start.elapsed();
                    assert_eq!(removed, GROUP_SIZE);
                }
                total
            })
        });
    });
    assert_eq!(cache.len(), size - GROUP_SIZE);
}

fn bench_moka(group: &mut Group<'_>, keys: &[Key]) {
    let size = keys.len();
    let cache: moka::sync::Cache<MokaKey, Value> = moka::sync::Cache::builder()
        .max_capacity(size as u64 * 2)
        .time_to_live(TTL)
        .support_invalidation_closures()
        .build();
    let fill = |keys: &[Key]| {
        for k in keys {
            cache.insert(k.tuple(), value_for(k.id));
        }
        cache.run_pending_tasks();
    };
    fill(keys);
    assert_eq!(cache.entry_count(), size as u64);
    let victim = victim(keys);
    let target = (size - GROUP_SIZE) as u64;

    group.bench_function(BenchmarkId::new("moka_invalidate_entries_if", size), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fill(victim);
                assert_eq!(cache.entry_count(), size as u64);
                let start = Instant::now();
                let (user, provider) = (victim[0].user.clone(), victim[0].provider.clone());
                cache
                    .invalidate_entries_if(move |k: &MokaKey, _| k.0 == user && k.1 == provider)
                    .expect("invalidation closures enabled");
                while cache.entry_count() > target {
                    cache.run_pending_tasks();
                }
                total += start.elapsed();
                assert!(cache.get(&victim[0].tuple()).is_none());
            }
            total
        });
    });
}

fn bench_scc(group: &mut Group<'_>, rt: &tokio::runtime::Runtime, keys: &[Key]) {
    let size = keys.len();
    let map: scc::HashMap<String, Value> = scc::HashMap::with_capacity(size);
    rt.block_on(fill_scc(&map, keys));
    assert_eq!(map.len(), size);
    let victim = victim(keys);
    let prefix = victim[0].group_prefix();

    group.bench_function(BenchmarkId::new("scc_retain_starts_with", size), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fill_scc(&map, victim).await;
                    debug_assert_eq!(map.len(), size);
                    let start = Instant::now();
                    map.retain_async(|k, _| !k.starts_with(&prefix)).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });
    assert_eq!(map.len(), size - GROUP_SIZE);
}

fn invalidate(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("invalidate_group");
    group.sampling_mode(criterion::SamplingMode::Flat);
    for size in sizes() {
        assert!(
            size >= GROUP_SIZE && size % GROUP_SIZE == 0,
            "sizes are multiples of 20"
        );
        let keys = keys(size);
        // One cache at a time, dropped before the next is built.
        bench_ttlcache(&mut group, &rt, &keys);
        bench_moka(&mut group, &keys);
        bench_scc(&mut group, &rt, &keys);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = slow_criterion_config();
    targets = invalidate
}
criterion_main!(benches);

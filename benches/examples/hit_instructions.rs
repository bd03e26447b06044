//! Runs `n` hits of one contender, for counting instructions per hit with callgrind:
//!
//! ```sh
//! hit_instructions <contender> [n = 200000] [keys = 1000]
//! ```
//!
//! The contenders are those of `benches/hit.rs` (`shared/contenders.rs`; `hit_instructions
//! list` prints their names), the misses of `benches/miss.rs` (`miss_ttlcache_get_with`,
//! `miss_moka_sync_get_with`, `miss_moka_future_get_with`, `miss_scc_get_insert_fifo`: cold keys cycled from a pool of
//! 100 000 through a full 1 000-entry cache, as there, on one thread; `keys` is ignored), plus
//! two baselines: `empty` (the loop of the sync contenders with no lookup) and `empty_async`
//! (the loop of the async ones, awaiting a ready future).
//! The cache is built, filled and checked first; the hits run in `measured_sync_loop` or
//! `measured_async_loop`, which `benches/callgrind.sh` alone collects
//! (`--toggle-collect`), so instructions per hit = (contender − baseline) / n.

use std::future::Future;
use std::hint::black_box;

use cache_core::{Borrowed, TtlCache};
use ttl_cached_benches::{keys, value_for, Key, Tuple, Value};

#[path = "../shared/contenders.rs"]
mod contenders;

use contenders::{current_thread_runtime, Built, Contender, Driver};

#[inline(never)]
fn measured_sync_loop<R>(n: u64, len: usize, f: impl Fn(usize) -> R) {
    let mut i = 0;
    for _ in 0..n {
        black_box(f(black_box(i)));
        i += 1;
        if i == len {
            i = 0;
        }
    }
}

#[inline(never)]
fn measured_async_loop<R, Fut: Future<Output = R>>(
    rt: &tokio::runtime::Runtime,
    n: u64,
    len: usize,
    f: impl Fn(usize) -> Fut,
) {
    rt.block_on(async {
        let mut i = 0;
        for _ in 0..n {
            black_box(f(black_box(i)).await);
            i += 1;
            if i == len {
                i = 0;
            }
        }
    });
}

struct Count {
    n: u64,
    len: usize,
}

impl Driver for Count {
    fn sync_lookup<F: Fn(usize) -> Value + Sync>(&mut self, f: F) {
        measured_sync_loop(self.n, self.len, f);
    }

    fn async_lookup<F, Fut>(&mut self, f: F)
    where
        F: Fn(usize) -> Fut + Sync,
        Fut: Future<Output = Value>,
    {
        measured_async_loop(&current_thread_runtime(), self.n, self.len, f);
    }
}

/// The misses of `benches/miss.rs`, one thread: `n` cold keys through a full cache.
fn miss(name: &str, n: u64) -> bool {
    const CAPACITY: usize = 1_000;
    const POOL: usize = 100_000;
    type Fold = foldhash::fast::RandomState;
    let keys: Vec<Key> = keys(POOL);
    let keys = &keys;
    let warm = &keys[POOL - CAPACITY..];
    let rt = current_thread_runtime();
    match name {
        "miss_ttlcache_get_with" => {
            let cache: TtlCache<(String, String), String, Value> = TtlCache::builder()
                .ttl(contenders::TTL)
                .capacity(CAPACITY)
                .build()
                .expect("valid cache config");
            let get = |i: usize| {
                let (k, cache) = (&keys[i], &cache);
                async move {
                    cache
                        .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                            value_for(k.id)
                        })
                        .await
                }
            };
            rt.block_on(async {
                for i in POOL - CAPACITY..POOL {
                    get(i).await;
                }
            });
            measured_async_loop(&rt, n, POOL, get);
            assert!(cache.stats().hits == 0, "a timed call hit");
        }
        "miss_moka_sync_get_with" => {
            let cache: moka::sync::Cache<Tuple, Value, Fold> = moka::sync::Cache::builder()
                .max_capacity(CAPACITY as u64)
                .time_to_live(contenders::TTL)
                .build_with_hasher(Fold::default());
            for k in warm {
                cache.insert(k.tuple(), value_for(k.id));
            }
            cache.run_pending_tasks();
            measured_sync_loop(n, POOL, |i| {
                let k = &keys[i];
                cache.get_with(k.tuple(), || value_for(k.id))
            });
        }
        "miss_moka_future_get_with" => {
            let cache: moka::future::Cache<Tuple, Value, Fold> = moka::future::Cache::builder()
                .max_capacity(CAPACITY as u64)
                .time_to_live(contenders::TTL)
                .build_with_hasher(Fold::default());
            rt.block_on(async {
                for k in warm {
                    cache.insert(k.tuple(), value_for(k.id)).await;
                }
                cache.run_pending_tasks().await;
            });
            let get = |i: usize| {
                let (k, cache) = (&keys[i], &cache);
                async move { cache.get_with(k.tuple(), async { value_for(k.id) }).await }
            };
            measured_async_loop(&rt, n, POOL, get);
        }
        "miss_scc_get_insert_fifo" => {
            let map: scc::HashMap<Tuple, Value, Fold> =
                scc::HashMap::with_capacity_and_hasher(CAPACITY * 2, Fold::default());
            for k in warm {
                let _ = map.insert_sync(k.tuple(), value_for(k.id));
            }
            measured_sync_loop(n, POOL, |i| {
                let k = &keys[i];
                if let Some(v) = map.read_sync(&k.triple(), |_, v| v.clone()) {
                    return v;
                }
                let v = value_for(k.id);
                let _ = map.insert_sync(k.tuple(), v.clone());
                map.remove_sync(&keys[(i + POOL - CAPACITY) % POOL].triple());
                v
            });
            assert!(map.len() <= CAPACITY, "the FIFO bound drifted");
        }
        _ => return false,
    }
    true
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hit_instructions <contender|empty|empty_async|list> [n] [keys]";
    let who = args.get(1).expect(usage).as_str();
    let n: u64 = args.get(2).map_or(200_000, |s| s.parse().expect(usage));
    let len: usize = args.get(3).map_or(1_000, |s| s.parse().expect(usage));
    match who {
        "list" => {
            for c in Contender::ALL {
                let kind = if matches!(
                    c,
                    Contender::Macro
                        | Contender::GetWith
                        | Contender::MokaFuture
                        | Contender::Cached
                ) {
                    "async"
                } else {
                    "sync"
                };
                println!("{} {kind}", c.name());
            }
            println!("miss_ttlcache_get_with async");
            println!("miss_moka_sync_get_with sync");
            println!("miss_moka_future_get_with async");
            println!("miss_scc_get_insert_fifo sync");
        }
        "empty" => measured_sync_loop(n, len, |i| i),
        "empty_async" => {
            measured_async_loop(&current_thread_runtime(), n, len, |i| async move { i });
        }
        name if miss(name, n) => {}
        name => {
            let c = Contender::from_name(name).unwrap_or_else(|| panic!("{usage}; got {name}"));
            assert!(c.supports(len), "{name} cannot hold {len} keys");
            let keys = keys(len);
            let built = Built::new(c, &keys);
            built.drive(&keys, &mut Count { n, len });
            built.release();
        }
    }
}

//! The hit path: every measured call a hit, 1 000 live keys (and 1 000 000 for the hit at
//! scale), on 1 and 2 threads. The contenders are in `shared/contenders.rs`, shared with the
//! callgrind example (`examples/hit_instructions.rs`, `benches/callgrind.sh`).
//!
//! Each contender is built, filled and checked (every key a hit with the right value) outside
//! the timing, timed on `t` OS threads at once (`t` = 1, 2), each cycling through the keys from
//! its own offset (sync contenders called directly, async ones inside one `block_on` of a
//! current-thread runtime per thread), then dropped before the next is built.
//!
//! Reported time per call: by default the largest **thread CPU time** of the `t` threads
//! divided by the calls each made, so time the threads spent preempted by other work on a
//! shared machine is not counted; with `BENCH_CLOCK=wall`, the wall time from the threads'
//! common release to the last one's end. Sizes: `HIT_SIZES=1000,1000000` (the default under
//! `cargo bench`; 1 000 under `cargo test --benches`); threads: `HIT_THREADS=1,2`.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use ttl_cached_benches::{
    criterion_config, keys, sizes_from_env, thread_cpu_time, time_threads, Key, Value,
};

#[path = "../shared/contenders.rs"]
mod contenders;

use contenders::{current_thread_runtime, Built, Contender, Driver};

/// Times a contender's lookups in criterion.
struct Timer<'g, 'c> {
    group: &'g mut BenchmarkGroup<'c, criterion::measurement::WallTime>,
    id: BenchmarkId,
    threads: usize,
    len: usize,
}

impl Driver for Timer<'_, '_> {
    fn sync_lookup<F: Fn(usize) -> Value + Sync>(&mut self, f: F) {
        let (threads, len) = (self.threads, self.len);
        self.group.bench_function(self.id.clone(), |b| {
            b.iter_custom(|iters| {
                time_threads(threads, len, |offset| {
                    let mut i = offset;
                    let (cpu, start) = (thread_cpu_time(), Instant::now());
                    for _ in 0..iters {
                        black_box(f(black_box(i)));
                        i += 1;
                        if i == len {
                            i = 0;
                        }
                    }
                    (start, Instant::now(), thread_cpu_time() - cpu)
                })
            });
        });
    }

    fn async_lookup<F, Fut>(&mut self, f: F)
    where
        F: Fn(usize) -> Fut + Sync,
        Fut: Future<Output = Value>,
    {
        let (threads, len) = (self.threads, self.len);
        self.group.bench_function(self.id.clone(), |b| {
            b.iter_custom(|iters| {
                time_threads(threads, len, |offset| {
                    let rt = current_thread_runtime();
                    rt.block_on(async {
                        let mut i = offset;
                        let (cpu, start) = (thread_cpu_time(), Instant::now());
                        for _ in 0..iters {
                            black_box(f(black_box(i)).await);
                            i += 1;
                            if i == len {
                                i = 0;
                            }
                        }
                        (start, Instant::now(), thread_cpu_time() - cpu)
                    })
                })
            });
        });
    }
}

fn hit_path(c: &mut Criterion) {
    let threads = sizes_from_env("HIT_THREADS", &[1, 2], &[1, 2]);
    for size in sizes_from_env("HIT_SIZES", &[1_000, 1_000_000], &[1_000]) {
        let keys: Vec<Key> = keys(size);
        let name = if size % 1_000_000 == 0 {
            format!("hit_{}m", size / 1_000_000)
        } else if size % 1_000 == 0 {
            format!("hit_{}k", size / 1_000)
        } else {
            format!("hit_{size}")
        };
        let mut group = c.benchmark_group(name);
        for who in Contender::ALL {
            if !who.supports(size) {
                continue;
            }
            let macro_fetches = contenders::MACRO_FETCHES.load(Relaxed);
            let cached_fetches = contenders::CACHED_FETCHES.load(Relaxed);
            let built = Built::new(who, &keys);
            let filled = (
                contenders::MACRO_FETCHES.load(Relaxed),
                contenders::CACHED_FETCHES.load(Relaxed),
            );
            for &t in &threads {
                let mut timer = Timer {
                    group: &mut group,
                    id: BenchmarkId::new(who.name(), t),
                    threads: t,
                    len: size,
                };
                built.drive(&keys, &mut timer);
            }
            // Every timed call was a hit: the fetch counters did not move after the fill.
            let after = (
                contenders::MACRO_FETCHES.load(Relaxed),
                contenders::CACHED_FETCHES.load(Relaxed),
            );
            assert_eq!(after, filled, "{}: a timed call missed", who.name());
            assert!(filled.0 - macro_fetches <= size as u64);
            assert!(filled.1 - cached_fetches <= size as u64);
            built.release();
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = criterion_config();
    targets = hit_path
}
criterion_main!(benches);

//! Runs `n` hits of one contender, for counting instructions per hit with callgrind:
//!
//! ```sh
//! hit_instructions <contender> [n = 200000] [keys = 1000]
//! ```
//!
//! The contenders are those of `benches/hit.rs` (`shared/contenders.rs`; `hit_instructions
//! list` prints their names), plus two baselines: `empty` (the loop of the sync contenders
//! with no lookup) and `empty_async` (the loop of the async ones, awaiting a ready future).
//! The cache is built, filled and checked first; the hits run in `measured_sync_loop` or
//! `measured_async_loop`, which `benches/callgrind.sh` alone collects
//! (`--toggle-collect`), so instructions per hit = (contender − baseline) / n.

use std::future::Future;
use std::hint::black_box;

use ttl_cached_benches::{keys, Value};

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
        }
        "empty" => measured_sync_loop(n, len, |i| i),
        "empty_async" => {
            measured_async_loop(&current_thread_runtime(), n, len, |i| async move { i });
        }
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

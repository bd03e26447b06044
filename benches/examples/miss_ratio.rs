//! Replays deterministic traces (`src/traces.rs`) through each cache at a fixed capacity and
//! prints the misses as a markdown table.
//!
//! ```sh
//! cargo run --release -p ttl-cached-benches --example miss_ratio            # 2 M requests per trace
//! MISS_RATIO_REQUESTS=200000 cargo run --release -p ttl-cached-benches --example miss_ratio
//! MISS_RATIO_CONTENDERS=ours,lru cargo run --release -p ttl-cached-benches --example miss_ratio
//! ```
//!
//! Traces: Zipf 0.7 / 0.9 / 1.1 over 100 000 keys; Zipf 0.9 with scans of 50 000 fresh keys;
//! the folder browser (300 users, bursty sessions, hot roots, 5 % one-off folders); Zipf 0.9
//! reshuffled every 300 000 requests. Capacities: 1 %, 5 % and 10 % of the distinct keys of the
//! trace. TTLs are a day: nothing expires during a replay.
//!
//! Contenders (each request is a lookup, and on a miss an insert):
//!
//! - `ours`: `cache_core::TtlCache<u64, u32, u32>` through its public API: `get`, and on a miss
//!   `get_with` whose fetch counts an upstream call (the misses reported are those calls).
//!   Group = the trace's group (the user in the folder-browser trace; 0, one group for all,
//!   in the traces without users), rest = the rest; with `MISS_RATIO_OURS_GROUPS=key`, every
//!   key is its own group (the macro's default when `group` is not given). One current-thread
//!   runtime, one `block_on` around the whole replay.
//! - `quick_cache`: `quick_cache::sync::Cache<u64, u32>` of `capacity` entries, `get` /
//!   `insert`, with a fixed foldhash seed (so its shards, and its counts, repeat exactly).
//! - `moka`: `moka::sync::Cache<u64, u32>` with `max_capacity(capacity)`, `get` / `insert`,
//!   `run_pending_tasks()` every 1 000 requests (moka applies its admission and eviction in
//!   those), with a fixed foldhash seed too.
//! - `lru`: exact least-recently-used (a hash map to slots of an index-linked list).
//! - `fifo`: first in, first out.
//! - `belady`: Belady's offline optimum (evicts the key whose next use is farthest, and does not
//!   admit a key whose next use is farther than every cached key's): the floor no online cache
//!   reaches.
//!
//! "best peer" is the fewest misses among quick_cache, moka and exact LRU; the table gives
//! ours / best peer for every run, then the worst and the mean of that ratio.

use std::cell::Cell;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use cache_core::TtlCache;
use ttl_cached_benches::traces::{self, Trace};

type Fixed = foldhash::fast::FixedState;
type Map<K, V> = hashbrown::HashMap<K, V, Fixed>;

const DAY: Duration = Duration::from_secs(86_400);

/// Which contenders, in table order.
const CONTENDERS: [&str; 6] = ["belady", "ours", "quick_cache", "moka", "lru", "fifo"];

/// Exact LRU: slots in a doubly linked list by index, most recent at `head`.
struct Lru {
    map: Map<u64, u32>,
    keys: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
    capacity: usize,
}

const NIL: u32 = u32::MAX;

impl Lru {
    fn new(capacity: usize) -> Self {
        Self {
            map: Map::with_capacity_and_hasher(capacity, foldhash::fast::FixedState::default()),
            keys: Vec::with_capacity(capacity),
            prev: Vec::with_capacity(capacity),
            next: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.prev[s as usize], self.next[s as usize]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
    }

    fn push_front(&mut self, s: u32) {
        self.prev[s as usize] = NIL;
        self.next[s as usize] = self.head;
        if self.head == NIL {
            self.tail = s;
        } else {
            self.prev[self.head as usize] = s;
        }
        self.head = s;
    }

    /// Looks `key` up; inserts it on a miss. Returns whether it was a hit.
    fn access(&mut self, key: u64) -> bool {
        if let Some(&s) = self.map.get(&key) {
            if s != self.head {
                self.unlink(s);
                self.push_front(s);
            }
            return true;
        }
        let s = if self.keys.len() < self.capacity {
            self.keys.push(key);
            self.prev.push(NIL);
            self.next.push(NIL);
            (self.keys.len() - 1) as u32
        } else {
            let s = self.tail;
            self.unlink(s);
            self.map.remove(&self.keys[s as usize]);
            self.keys[s as usize] = key;
            s
        };
        self.map.insert(key, s);
        self.push_front(s);
        false
    }
}

fn replay_lru(trace: &Trace, capacity: usize) -> u64 {
    let mut lru = Lru::new(capacity);
    trace
        .requests
        .iter()
        .filter(|r| !lru.access(r.id()))
        .count() as u64
}

fn replay_fifo(trace: &Trace, capacity: usize) -> u64 {
    let mut set: Map<u64, ()> =
        Map::with_capacity_and_hasher(capacity, foldhash::fast::FixedState::default());
    let mut order = VecDeque::with_capacity(capacity);
    let mut misses = 0;
    for r in &trace.requests {
        let key = r.id();
        if set.contains_key(&key) {
            continue;
        }
        misses += 1;
        if order.len() == capacity {
            let old = order.pop_front().expect("full");
            set.remove(&old);
        }
        order.push_back(key);
        set.insert(key, ());
    }
    misses
}

/// Belady's MIN with bypass: needs each request's next use.
fn replay_belady(trace: &Trace, capacity: usize) -> u64 {
    const NEVER: u32 = u32::MAX;
    let reqs = &trace.requests;
    let mut next_use = vec![NEVER; reqs.len()];
    let mut seen: Map<u64, u32> = Map::default();
    for (i, r) in reqs.iter().enumerate().rev() {
        if let Some(&n) = seen.get(&r.id()) {
            next_use[i] = n;
        }
        seen.insert(r.id(), i as u32);
    }
    drop(seen);
    // Cached key -> its next use; a max-heap of (next use, key) with stale entries skipped.
    let mut cached: Map<u64, u32> = Map::default();
    let mut heap: BinaryHeap<(u32, u64)> = BinaryHeap::new();
    let mut misses = 0;
    for (i, r) in reqs.iter().enumerate() {
        let (key, next) = (r.id(), next_use[i]);
        if let Some(n) = cached.get_mut(&key) {
            *n = next;
            heap.push((next, key));
            continue;
        }
        misses += 1;
        if next == NEVER {
            continue; // never used again: not worth a slot
        }
        if cached.len() == capacity {
            let victim = loop {
                let (n, k) = *heap.peek().expect("a cached key");
                if cached.get(&k) == Some(&n) {
                    break (n, k);
                }
                heap.pop();
            };
            if victim.0 <= next {
                continue; // every cached key is used again sooner: bypass
            }
            heap.pop();
            cached.remove(&victim.1);
        }
        cached.insert(key, next);
        heap.push((next, key));
    }
    misses
}

fn replay_quick_cache(trace: &Trace, capacity: usize) -> u64 {
    // A fixed hasher: quick_cache's default is seeded at random, which moves its shards' keys
    // and so its counts a little from run to run.
    let cache: quick_cache::sync::Cache<u64, u32, _, Fixed> = quick_cache::sync::Cache::with(
        capacity,
        capacity as u64,
        quick_cache::UnitWeighter,
        Fixed::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    );
    let mut misses = 0;
    for r in &trace.requests {
        if cache.get(&r.id()).is_none() {
            misses += 1;
            cache.insert(r.id(), r.rest);
        }
    }
    misses
}

fn replay_moka(trace: &Trace, capacity: usize) -> u64 {
    let cache: moka::sync::Cache<u64, u32, Fixed> = moka::sync::Cache::builder()
        .max_capacity(capacity as u64)
        .build_with_hasher(Fixed::default());
    let mut misses = 0;
    for (i, r) in trace.requests.iter().enumerate() {
        if cache.get(&r.id()).is_none() {
            misses += 1;
            cache.insert(r.id(), r.rest);
        }
        if i % 1_000 == 999 {
            cache.run_pending_tasks();
        }
    }
    misses
}

fn replay_ours(trace: &Trace, capacity: usize) -> u64 {
    let cache: TtlCache<u64, u32, u32> = TtlCache::builder()
        .ttl(DAY)
        .capacity(capacity)
        .name("miss_ratio")
        .build()
        .expect("valid cache config");
    let upstream = Cell::new(0u64);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    // `MISS_RATIO_OURS_GROUPS=key`: every key its own group (the macro's default) instead.
    let own_group = std::env::var("MISS_RATIO_OURS_GROUPS").is_ok_and(|v| v == "key");
    rt.block_on(async {
        for r in &trace.requests {
            let (group, rest) = if own_group {
                (r.id(), 0)
            } else {
                (u64::from(r.group), r.rest)
            };
            if cache.get(&group, &rest).is_none() {
                let v = cache
                    .get_with(&group, &rest, || async {
                        upstream.set(upstream.get() + 1);
                        r.rest
                    })
                    .await;
                debug_assert_eq!(v, r.rest);
            }
        }
    });
    assert!(cache.len() <= capacity, "ours holds more than its capacity");
    upstream.get()
}

fn replay(who: &str, trace: &Trace, capacity: usize) -> u64 {
    match who {
        "belady" => replay_belady(trace, capacity),
        "ours" => replay_ours(trace, capacity),
        "quick_cache" => replay_quick_cache(trace, capacity),
        "moka" => replay_moka(trace, capacity),
        "lru" => replay_lru(trace, capacity),
        "fifo" => replay_fifo(trace, capacity),
        _ => unreachable!("checked in main"),
    }
}

fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var).ok().map_or(default, |v| {
        v.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{var}: a number, got {v:?}"))
    })
}

fn main() {
    let len = env_usize("MISS_RATIO_REQUESTS", traces::STANDARD_LEN);
    let who: Vec<&str> = match std::env::var("MISS_RATIO_CONTENDERS") {
        Ok(list) => {
            let list: Vec<&str> = CONTENDERS
                .into_iter()
                .filter(|c| list.split(',').any(|w| w.trim() == *c))
                .collect();
            assert!(
                !list.is_empty(),
                "MISS_RATIO_CONTENDERS: some of {CONTENDERS:?}"
            );
            list
        }
        Err(_) => CONTENDERS.to_vec(),
    };
    let peers: Vec<&str> = who
        .iter()
        .copied()
        .filter(|w| matches!(*w, "quick_cache" | "moka" | "lru"))
        .collect();

    let started = Instant::now();
    eprintln!("generating traces, {len} requests each");
    let traces = traces::standard(len);

    println!("Misses (upstream calls) per {len} requests; miss ratio in parentheses.\n");
    print!("| trace | distinct keys | capacity |");
    for w in &who {
        print!(" {w} |");
    }
    println!(" ours / best peer |");
    print!("|---|---:|---:|");
    for _ in &who {
        print!("---:|");
    }
    println!("---:|");

    let mut ratios = Vec::new();
    let mut seconds: Vec<(String, f64)> = who.iter().map(|w| ((*w).to_string(), 0.0)).collect();
    for trace in &traces {
        let distinct = trace.distinct();
        for pct in [1, 5, 10] {
            let capacity = (distinct * pct / 100).max(1);
            print!("| {} | {distinct} | {capacity} ({pct} %) |", trace.name);
            let mut ours = None;
            let mut best: Option<u64> = None;
            for (j, w) in who.iter().enumerate() {
                let t = Instant::now();
                let misses = replay(w, trace, capacity);
                seconds[j].1 += t.elapsed().as_secs_f64();
                let ratio = misses as f64 / trace.requests.len() as f64;
                print!(" {misses} ({:.2} %) |", ratio * 100.0);
                if *w == "ours" {
                    ours = Some(misses);
                }
                if peers.contains(w) {
                    best = Some(best.map_or(misses, |b| b.min(misses)));
                }
            }
            match (ours, best) {
                (Some(o), Some(b)) => {
                    let r = o as f64 / b.max(1) as f64;
                    ratios.push((format!("{} @ {pct} %", trace.name), r));
                    println!(" {r:.3} |");
                }
                _ => println!(" — |"),
            }
        }
    }
    if !ratios.is_empty() {
        let worst = ratios
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("one run");
        let mean = ratios.iter().map(|r| r.1).sum::<f64>() / ratios.len() as f64;
        println!(
            "\nours / best peer: worst {:.3} ({}), mean {mean:.3} over {} runs",
            worst.1,
            worst.0,
            ratios.len()
        );
    }
    eprintln!();
    for (w, s) in seconds {
        eprintln!("{w}: {s:.1} s replaying");
    }
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
}

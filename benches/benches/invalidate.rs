//! Group invalidation, cold: evict one 20-entry group from a cache holding 1 000, 100 000 or
//! 1 000 000 entries (all in distinct groups of 20), until its entries are really gone. Not a
//! criterion benchmark: it runs a fixed number of evictions and prints a markdown table.
//!
//! Cold and spread: the groups evicted are taken in a fixed random order over the whole cache
//! (no group is evicted twice before every other group was), and before each round of
//! evictions the CPU caches are flushed by streaming through a buffer 1.5 times the largest
//! CPU cache the kernel reports (720 MiB on the machine used, whose VM reports a 480 MiB L3).
//! Only after a round are its groups refilled (untimed), and the flush that starts the next
//! round pushes them out of the CPU caches again. So an eviction finds its group where a
//! service would: in memory, not in cache. (An earlier version refilled the group right before
//! evicting it, which timed a hot group.)
//!
//! - `TtlCache::invalidate_group(&Borrowed((user, provider)))`: removes the group's entries
//!   before it returns (O(group)). Timed: the call; its count (20) is checked after.
//! - `moka::sync::Cache<(String, String, String), _>` with `support_invalidation_closures()`:
//!   `invalidate_entries_if` matching the group, then `run_pending_tasks()` until
//!   `entry_count()` has dropped by 20 (moka's housekeeping scans the whole cache).
//! - scan and remove, the hand-rolled baseline: `scc::HashMap<String, _>` keyed by the joined
//!   `user:provider:folder`, `retain_sync` dropping the keys that start with `user:provider:`
//!   (O(cache)).
//!
//! Each eviction is timed alone (wall clock: the evictions are short, and the median of many
//! is robust to the odd preemption on a shared machine). Reported: median and mean per
//! eviction, and how many were timed. Sizes: `INVALIDATE_SIZES=1000,100000` (default 1 000,
//! 100 000, 1 000 000 under `cargo bench`; 1 000 and 10 000 under `cargo test --benches`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cache_core::{Borrowed, TtlCache};
use ttl_cached_benches::traces::Rng;
use ttl_cached_benches::{keys, sizes_from_env, value_for, Key, Value, GROUP_SIZE};

const TTL: Duration = Duration::from_secs(600);
/// Bytes streamed through to flush the CPU caches: 1.5 times the largest cache the kernel
/// reports (`/sys/devices/system/cpu/cpu0/cache/index*/size`), at least 64 MiB, at most 1 GiB.
fn flush_bytes() -> usize {
    let largest = (0..8)
        .filter_map(|i| {
            let path = format!("/sys/devices/system/cpu/cpu0/cache/index{i}/size");
            let text = std::fs::read_to_string(path).ok()?;
            let text = text.trim();
            let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
            let n: usize = n.parse().ok()?;
            Some(match unit {
                "K" => n << 10,
                "M" => n << 20,
                "G" => n << 30,
                _ => n,
            })
        })
        .max()
        .unwrap_or(0);
    (largest / 2 * 3).clamp(64 << 20, 1 << 30)
}

type MokaKey = (String, String, String);

/// Reads and writes every cache line of `buf`, evicting what the CPU caches held.
fn flush_cpu_caches(buf: &mut [u8]) {
    for line in buf.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    black_box(buf);
}

/// A contender: evicts group `g` (its keys `keys[g * 20..][..20]`) and refills it.
trait Contender {
    fn name(&self) -> &'static str;
    /// Evicts the group; returns the time it took, or `None` if entries of the group were
    /// still readable afterwards.
    fn evict(&mut self, group: &[Key]) -> Option<Duration>;
    /// Puts the group back (untimed).
    fn refill(&mut self, group: &[Key]);
}

struct Ours {
    rt: tokio::runtime::Runtime,
    cache: TtlCache<(String, String), String, Value>,
}

impl Contender for Ours {
    fn name(&self) -> &'static str {
        "`TtlCache::invalidate_group`"
    }

    fn evict(&mut self, group: &[Key]) -> Option<Duration> {
        let (user, provider) = (&*group[0].user, &*group[0].provider);
        let start = Instant::now();
        let removed = self.cache.invalidate_group(&Borrowed((user, provider)));
        let took = start.elapsed();
        assert_eq!(self.rt.block_on(removed), GROUP_SIZE);
        Some(took)
    }

    fn refill(&mut self, group: &[Key]) {
        self.rt.block_on(async {
            for k in group {
                self.cache
                    .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                        value_for(k.id)
                    })
                    .await;
            }
        });
    }
}

struct Moka(moka::sync::Cache<MokaKey, Value>, u64);

impl Contender for Moka {
    fn name(&self) -> &'static str {
        "moka `invalidate_entries_if` + `run_pending_tasks` until gone"
    }

    fn evict(&mut self, group: &[Key]) -> Option<Duration> {
        let target = self.1 - GROUP_SIZE as u64;
        let start = Instant::now();
        let (user, provider) = (group[0].user.clone(), group[0].provider.clone());
        self.0
            .invalidate_entries_if(move |k: &MokaKey, _| k.0 == user && k.1 == provider)
            .expect("invalidation closures enabled");
        // Until the count has dropped by 20, or 100 000 calls in a row left it unchanged.
        let (mut last, mut still) = (u64::MAX, 0);
        while self.0.entry_count() > target && still < 100_000 {
            self.0.run_pending_tasks();
            let now = self.0.entry_count();
            still = if now == last { still + 1 } else { 0 };
            last = now;
        }
        let took = start.elapsed();
        // Untimed: let moka finish applying the predicate to the whole cache before the next
        // one is registered (the count can drop by 20 before the scan has ended).
        for _ in 0..16 {
            self.0.run_pending_tasks();
        }
        self.1 = self.0.entry_count();
        let left = group
            .iter()
            .filter(|k| self.0.get(&k.triple()).is_some())
            .count();
        if left == 0 {
            Some(took)
        } else {
            // Seen with moka 0.12.16: now and then one entry of the group is still served by
            // `get` and counted after 100 000 `run_pending_tasks()` calls with no progress.
            // Not timed; counted in the table.
            None
        }
    }

    fn refill(&mut self, group: &[Key]) {
        for k in group {
            self.0.insert(k.tuple(), value_for(k.id));
        }
        self.0.run_pending_tasks();
        self.1 = self.0.entry_count();
    }
}

struct Scan(scc::HashMap<String, Value>);

impl Contender for Scan {
    fn name(&self) -> &'static str {
        "scan and remove (`scc` `retain_sync` with `starts_with`)"
    }

    fn evict(&mut self, group: &[Key]) -> Option<Duration> {
        let prefix = group[0].group_prefix();
        let before = self.0.len();
        let start = Instant::now();
        self.0.retain_sync(|k, _| !k.starts_with(&prefix));
        let took = start.elapsed();
        assert_eq!(self.0.len(), before - GROUP_SIZE);
        Some(took)
    }

    fn refill(&mut self, group: &[Key]) {
        for k in group {
            let _ = self.0.insert_sync(k.joined(), value_for(k.id));
        }
    }
}

fn build(which: usize, keys: &[Key]) -> Box<dyn Contender> {
    let size = keys.len();
    match which {
        0 => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a current-thread runtime");
            let cache = TtlCache::builder()
                .ttl(TTL)
                .capacity(size * 2)
                .name("invalidate_runtime")
                .build()
                .expect("valid cache config");
            let mut ours = Ours { rt, cache };
            ours.refill(keys);
            assert_eq!(ours.cache.len(), size);
            Box::new(ours)
        }
        1 => {
            let mut moka = Moka(
                moka::sync::Cache::builder()
                    .max_capacity(size as u64 * 2)
                    .time_to_live(TTL)
                    .support_invalidation_closures()
                    .build(),
                0,
            );
            moka.refill(keys);
            assert_eq!(moka.0.entry_count(), size as u64);
            Box::new(moka)
        }
        _ => {
            let mut scan = Scan(scc::HashMap::with_capacity(size));
            scan.refill(keys);
            assert_eq!(scan.0.len(), size);
            Box::new(scan)
        }
    }
}

/// Evictions per round and rounds, by contender and size: the slow ones (moka and the scan at
/// large sizes take milliseconds to a second per eviction) do fewer.
fn plan(which: usize, size: usize, full: bool) -> (usize, usize) {
    let (per_round, rounds) = match (which, size) {
        (0, _) => (25, 20),
        (_, s) if s <= 10_000 => (25, 8),
        (1, s) if s <= 100_000 => (5, 3),
        (1, _) => (2, 2),
        (_, s) if s <= 100_000 => (10, 3),
        _ => (5, 2),
    };
    let groups = size / GROUP_SIZE;
    let per_round = per_round.min(groups / 2).max(1);
    let mut rounds = if full { rounds * 3 } else { rounds };
    if which == 1 {
        // moka evicts each group once (its evictions are slow, and this keeps a refilled
        // group from being evicted again).
        rounds = rounds.min(groups / per_round).max(1);
    }
    (per_round, rounds)
}

fn main() {
    let sizes = sizes_from_env(
        "INVALIDATE_SIZES",
        &[1_000, 100_000, 1_000_000],
        &[1_000, 10_000],
    );
    let full = ttl_cached_benches::full_mode();
    let mut flush = vec![0u8; flush_bytes()];
    eprintln!("flushing CPU caches with {} MiB", flush.len() >> 20);
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        assert!(
            size >= 2 * GROUP_SIZE && size % GROUP_SIZE == 0,
            "sizes are multiples of 20, at least 40"
        );
        let keys = keys(size);
        let groups = size / GROUP_SIZE;
        // The same spread order of groups for every contender.
        let order = Rng::new(0x1A7E_0000 + size as u64).permutation(groups);
        for which in 0..3 {
            // One cache at a time, dropped before the next is built.
            let mut c = build(which, &keys);
            let (per_round, rounds) = plan(which, size, full);
            let mut times = Vec::with_capacity(per_round * rounds);
            let mut incomplete = 0;
            let mut next = 0;
            for _ in 0..rounds {
                flush_cpu_caches(&mut flush);
                let round: Vec<usize> = (0..per_round)
                    .map(|_| {
                        let g = order[next % groups] as usize;
                        next += 1;
                        g
                    })
                    .collect();
                for &g in &round {
                    match c.evict(&keys[g * GROUP_SIZE..][..GROUP_SIZE]) {
                        Some(t) => times.push(t),
                        None => incomplete += 1,
                    }
                }
                for &g in &round {
                    c.refill(&keys[g * GROUP_SIZE..][..GROUP_SIZE]);
                }
            }
            times.sort_unstable();
            let median = times[times.len() / 2];
            let mean = times.iter().sum::<Duration>() / times.len() as u32;
            let mut cell = format!("{median:.2?} ({mean:.2?}, n = {})", times.len());
            if incomplete > 0 {
                cell += &format!("; {incomplete} left an entry served");
            }
            eprintln!("{} at {size}: median {cell}", c.name());
            if i == 0 {
                rows.push((c.name().to_string(), Vec::new()));
            }
            rows[which].1.push(cell);
        }
    }
    println!("\nEvicting one cold 20-entry group: median per eviction (mean, evictions timed).\n");
    print!("| contender |");
    for s in &sizes {
        print!(" {s} entries |");
    }
    println!();
    print!("|---|");
    for _ in &sizes {
        print!("---:|");
    }
    println!();
    for (name, cells) in rows {
        println!("| {name} | {} |", cells.join(" | "));
    }
}

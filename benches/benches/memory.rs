//! Memory per entry at 100 000 and 1 000 000 entries, measured with a counting global
//! allocator, printed as a markdown table. Not a criterion benchmark: it measures bytes, once.
//!
//! For each contender and size: the keys are prebuilt, then the bytes currently allocated are
//! read, the cache is built and filled (values are allocated as they are stored, key strings
//! copied into the cache), housekeeping is run where the cache has any, and the bytes are
//! read again. The difference is everything the cache holds:
//!
//! - **raw / entry**: that difference divided by the entries held;
//! - **payload / entry**: what the entry's data takes however it is stored: three owned
//!   `String`s (3 × 24-byte headers + their bytes, 44 to 49 bytes here) and the value (the
//!   8-byte `Arc` pointer, the `Arc`'s 40-byte allocation and the `Vec`'s 64-byte buffer);
//! - **overhead / entry**: raw − payload, what the cache adds. `TtlCache` stores a group's
//!   `(user, provider)` strings once per group (20 entries here), not once per entry, which is
//!   why its overhead can look smaller than its index alone.
//!
//! Bytes are the sizes requested from the allocator (the allocator's own rounding and headers
//! are not counted). `SIZES=100000` runs one size only; under `cargo test --benches` (no
//! `--bench`) it checks 10 000 entries only. A filter argument that is not part of `memory`
//! (`cargo bench -- hit`) skips it.
#![allow(unsafe_code)] // The counting global allocator needs `unsafe impl GlobalAlloc`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use cache_core::{Borrowed, TtlCache};
use ttl_cached_benches::{
    keys, sizes_from_env, value_for, value_payload_bytes, Key, Value, GROUP_SIZE,
};

/// Forwards to the system allocator and keeps a count of the bytes currently allocated.
#[derive(Debug)]
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the counter updates have no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // On success the old block (`layout.size()` bytes) is gone and the new one exists.
            ALLOCATED.fetch_add(new_size, Relaxed);
            ALLOCATED.fetch_sub(layout.size(), Relaxed);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated() -> usize {
    ALLOCATED.load(Relaxed)
}

/// One row of the table.
#[derive(Debug)]
struct Row {
    contender: &'static str,
    size: usize,
    held: usize,
    bytes: usize,
    payload_per_entry: f64,
    /// Bytes still allocated after the cache was dropped (should be 0).
    left_after_drop: isize,
    fill_time: Duration,
}

impl Row {
    fn raw_per_entry(&self) -> f64 {
        self.bytes as f64 / self.held as f64
    }
}

/// Average bytes of one entry's key and value, stored as owned data.
fn payload_per_entry(keys: &[Key]) -> f64 {
    let keys_bytes: usize = keys.iter().map(Key::payload_bytes).sum();
    keys_bytes as f64 / keys.len() as f64 + value_payload_bytes() as f64
}

/// Builds a cache with `build`, fills it with `fill`, and measures what it holds.
fn measure<C>(
    contender: &'static str,
    keys: &[Key],
    build: impl FnOnce() -> C,
    fill: impl FnOnce(&C, &[Key]),
    held: impl FnOnce(&C) -> usize,
) -> Row {
    let before = allocated();
    let start = Instant::now();
    let cache = build();
    fill(&cache, keys);
    let fill_time = start.elapsed();
    let bytes = allocated() - before;
    let held = held(&cache);
    drop(cache);
    let left_after_drop = allocated() as isize - before as isize;
    Row {
        contender,
        size: keys.len(),
        held,
        bytes,
        payload_per_entry: payload_per_entry(keys),
        left_after_drop,
        fill_time,
    }
}

type Runtime = TtlCache<(String, String), String, Value>;

fn ttl_cache(capacity: usize) -> Runtime {
    TtlCache::builder()
        .ttl(Duration::from_secs(600))
        .capacity(capacity)
        .name("memory")
        .build()
        .expect("valid cache config")
}

async fn fill_ttl_cache(cache: &Runtime, keys: &[Key]) {
    for k in keys {
        cache
            .get_with(&Borrowed((&*k.user, &*k.provider)), &*k.folder, || async {
                value_for(k.id)
            })
            .await;
    }
}

fn main() {
    // A criterion-style filter: `cargo bench -- hit` skips this binary.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "memory".contains(f.as_str())) {
        return;
    }
    // Under `cargo test --benches` (no `--bench`), a quick check at 10 000 entries.
    let sizes = sizes_from_env("SIZES", &[100_000, 1_000_000], &[10_000]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");

    let mut rows = Vec::new();
    for &size in &sizes {
        let keys = keys(size);

        rows.push(measure(
            "TtlCache (get_with, Borrowed)",
            &keys,
            || ttl_cache(size),
            |cache, keys| rt.block_on(fill_ttl_cache(cache, keys)),
            |cache| {
                let (entries, groups, flights) = cache.__internal_sizes();
                assert_eq!((entries, groups, flights), (size, size / GROUP_SIZE, 0));
                cache.len()
            },
        ));

        // The same cache after every group was invalidated once and refilled: same live
        // entries, but what invalidated entries leave behind is still counted.
        rows.push(measure(
            "TtlCache after invalidate+refill of every group",
            &keys,
            || ttl_cache(size),
            |cache, keys| {
                rt.block_on(async {
                    fill_ttl_cache(cache, keys).await;
                    for group in keys.chunks(GROUP_SIZE) {
                        let g = Borrowed((&*group[0].user, &*group[0].provider));
                        assert_eq!(cache.invalidate_group(&g).await, GROUP_SIZE);
                        fill_ttl_cache(cache, group).await;
                    }
                });
            },
            Runtime::len,
        ));

        rows.push(measure(
            "moka::sync::Cache<(String, String, String), _>",
            &keys,
            || {
                moka::sync::Cache::builder()
                    .max_capacity(size as u64)
                    .time_to_live(Duration::from_secs(600))
                    .build()
            },
            |cache: &moka::sync::Cache<(String, String, String), Value>, keys| {
                for k in keys {
                    cache.insert(k.tuple(), value_for(k.id));
                }
                cache.run_pending_tasks();
            },
            |cache| cache.entry_count() as usize,
        ));

        rows.push(measure(
            "quick_cache::sync::Cache<(String, String, String), _>",
            &keys,
            || quick_cache::sync::Cache::new(size),
            |cache: &quick_cache::sync::Cache<(String, String, String), Value>, keys| {
                for k in keys {
                    cache.insert(k.tuple(), value_for(k.id));
                }
            },
            quick_cache::sync::Cache::len,
        ));
    }

    println!();
    println!("| contender | entries | held | raw B/entry | payload B/entry | overhead B/entry | left after drop | fill time |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} B | {:.2} s |",
            row.contender,
            row.size,
            row.held,
            row.raw_per_entry(),
            row.payload_per_entry,
            row.raw_per_entry() - row.payload_per_entry,
            row.left_after_drop,
            row.fill_time.as_secs_f64(),
        );
    }
    println!();
    if let Some(keys) = sizes.first().map(|&n| keys(n)) {
        // The group's two strings, which `TtlCache` stores once per group, not per entry.
        let group_bytes: usize = keys
            .iter()
            .map(|k| 2 * size_of::<String>() + k.user.len() + k.provider.len())
            .sum();
        let shared =
            group_bytes as f64 / keys.len() as f64 * (GROUP_SIZE - 1) as f64 / GROUP_SIZE as f64;
        println!(
            "TtlCache stores a group's (user, provider) once per {GROUP_SIZE} entries, so \
             {shared:.1} B/entry of the payload is not stored per entry: its own structures \
             cost about its overhead + {shared:.1} B/entry"
        );
    }
    println!(
        "payload = 3 owned key Strings (24 B header + bytes each) + value ({} B: Arc pointer, \
         Arc allocation, 8 × u64 buffer); held = entries the cache reports after the fill",
        value_payload_bytes()
    );
}

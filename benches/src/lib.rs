//! Shared helpers for the benchmarks: the key shape every contender uses, the cached value,
//! and the criterion configuration of quick runs.
//!
//! Every benchmark uses the same key: three string parts of 12 to 20 bytes, the first two
//! forming the *group* (a user on one cloud provider) and the third the rest (a folder):
//!
//! ```
//! let key = ttl_cached_benches::Key::new(7, 42);
//! assert_eq!(key.user, "user-0000007-acme");
//! assert_eq!(key.provider, "dropbox-business");
//! assert_eq!(key.folder, "folder-00000042");
//! assert_eq!(key.joined(), "user-0000007-acme:dropbox-business:folder-00000042");
//! ```

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

pub mod traces;

/// The providers a group's second part is drawn from (12 to 17 bytes).
pub const PROVIDERS: [&str; 4] = [
    "google-drive",
    "onedrive-personal",
    "box-enterprise",
    "dropbox-business",
];

/// Entries per group in every benchmark that has groups.
pub const GROUP_SIZE: usize = 20;

/// Elements of the cached `Vec<u64>`.
pub const VALUE_LEN: usize = 8;

/// The value every cache stores.
pub type Value = Arc<Vec<u64>>;

/// One key, as its three owned parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The user part of the group, 17 bytes.
    pub user: String,
    /// The provider part of the group, 12 to 17 bytes.
    pub provider: String,
    /// The rest of the key, 15 bytes.
    pub folder: String,
    /// The number the value is derived from (the folder number).
    pub id: u64,
}

impl Key {
    /// The key of folder `folder` in group `group`.
    #[must_use]
    pub fn new(group: u64, folder: u64) -> Self {
        Self {
            user: format!("user-{group:07}-acme"),
            provider: PROVIDERS[(group % 4) as usize].to_string(),
            folder: format!("folder-{folder:08}"),
            id: folder,
        }
    }

    /// The parts joined with `:`, the string key users of a single-string cache build.
    #[must_use]
    pub fn joined(&self) -> String {
        format!("{}:{}:{}", self.user, self.provider, self.folder)
    }

    /// The joined prefix of this key's group, with the trailing `:`.
    #[must_use]
    pub fn group_prefix(&self) -> String {
        format!("{}:{}:", self.user, self.provider)
    }

    /// The parts as an owned tuple.
    #[must_use]
    pub fn tuple(&self) -> (String, String, String) {
        (
            self.user.clone(),
            self.provider.clone(),
            self.folder.clone(),
        )
    }

    /// Bytes the key takes when stored as three owned `String`s: the three `String` headers
    /// (24 bytes each) plus their heap buffers (exactly `len` bytes for a `to_owned` copy).
    #[must_use]
    pub fn payload_bytes(&self) -> usize {
        3 * size_of::<String>() + self.user.len() + self.provider.len() + self.folder.len()
    }
}

/// The owned three-part key the peers store: `(user, provider, folder)`.
pub type Tuple = (String, String, String);

/// A borrowed [`Tuple`]: `Triple(user, provider, folder)` finds the entry stored under the owned
/// tuple in every map whose lookups take `equivalent::Equivalent` (hashbrown, quick_cache and
/// moka 0.12) or scc's copy of it, so a lookup builds no `String`.
///
/// It hashes exactly as the owned tuple does (each part as its `str`, in order):
///
/// ```
/// use std::hash::BuildHasher;
/// use ttl_cached_benches::{Key, Triple};
/// let k = Key::new(1, 2);
/// let s = std::hash::RandomState::new();
/// assert_eq!(s.hash_one(k.triple()), s.hash_one(k.tuple()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Triple<'a>(pub &'a str, pub &'a str, pub &'a str);

impl Hash for Triple<'_> {
    // Inlined into every contender's probe, as cache-core forces its own key hashing inline:
    // left to LLVM, this call stayed out of line in some builds of the benchmark and cost the
    // scc floor and quick_cache about 80 instructions more per hit (384 instead of 304).
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
        self.2.hash(state);
    }
}

impl equivalent::Equivalent<Tuple> for Triple<'_> {
    fn equivalent(&self, key: &Tuple) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

impl scc::Equivalent<Tuple> for Triple<'_> {
    fn equivalent(&self, key: &Tuple) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

impl Key {
    /// The parts borrowed as a [`Triple`].
    #[must_use]
    pub fn triple(&self) -> Triple<'_> {
        Triple(&self.user, &self.provider, &self.folder)
    }
}

/// `n` keys in groups of [`GROUP_SIZE`]: key `i` is folder `i` of group `i / GROUP_SIZE`. All
/// keys and all groups are distinct.
#[must_use]
pub fn keys(n: usize) -> Vec<Key> {
    (0..n as u64)
        .map(|i| Key::new(i / GROUP_SIZE as u64, i))
        .collect()
}

/// The value cached for the key whose number is `id`: `VALUE_LEN` copies of `id`.
#[must_use]
pub fn value_for(id: u64) -> Value {
    Arc::new(vec![id; VALUE_LEN])
}

/// The value cached for a folder named like [`Key::folder`], parsed back from the name, for
/// cached functions that only see the folder string.
///
/// # Panics
///
/// If `folder` is not `folder-<digits>`.
#[must_use]
pub fn value_for_folder(folder: &str) -> Value {
    let id = folder
        .strip_prefix("folder-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a folder name: {folder}"));
    value_for(id)
}

/// Bytes a stored value takes: the `Arc` pointer, the `Arc`'s allocation (two counters and
/// the `Vec` header) and the `Vec`'s buffer.
#[must_use]
pub const fn value_payload_bytes() -> usize {
    size_of::<Value>() + 2 * size_of::<usize>() + size_of::<Vec<u64>>() + VALUE_LEN * 8
}

/// CPU time the calling thread has run (`CLOCK_THREAD_CPUTIME_ID`). On a machine shared with
/// other work, the difference of two readings is what a loop cost this thread, without the time
/// it spent preempted.
///
/// ```
/// let a = ttl_cached_benches::thread_cpu_time();
/// let b = ttl_cached_benches::thread_cpu_time();
/// assert!(b >= a);
/// ```
#[must_use]
#[allow(unsafe_code)]
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Whether benchmarks time with wall-clock time (`BENCH_CLOCK=wall`) instead of the threads'
/// CPU time (the default: on a shared machine, CPU time leaves out the time the benchmark
/// thread was preempted by other work).
#[must_use]
pub fn wall_clock() -> bool {
    std::env::var("BENCH_CLOCK").is_ok_and(|v| v == "wall")
}

/// What one benchmark thread measured: wall-clock start and end, and the CPU time it used.
pub type Span = (std::time::Instant, std::time::Instant, Duration);

/// Runs `per_thread(offset)` on `threads` OS threads released together (`offset` =
/// `t * len / threads` for thread `t`) and returns the time of the slowest: its thread CPU
/// time, or with `BENCH_CLOCK=wall` the wall time from the earliest start to the latest end.
/// `per_thread` measures itself (see [`Span`]), so thread start-up is not counted.
///
/// # Panics
///
/// If a thread panics.
pub fn time_threads<F>(threads: usize, len: usize, per_thread: F) -> Duration
where
    F: Fn(usize) -> Span + Sync,
{
    let barrier = std::sync::Barrier::new(threads);
    let spans: Vec<Span> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (per_thread, barrier) = (&per_thread, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    per_thread(t * len / threads)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    if wall_clock() {
        let start = spans.iter().map(|s| s.0).min().expect("one thread");
        let end = spans.iter().map(|s| s.1).max().expect("one thread");
        end - start
    } else {
        spans.iter().map(|s| s.2).max().expect("one thread")
    }
}

/// Whether `TTL_CACHED_BENCH_FULL` is set: longer measurements for numbers worth reporting.
/// Without it every benchmark uses the short quick-mode settings, so that
/// `cargo bench -p ttl-cached-benches` finishes in a few minutes on a small machine.
#[must_use]
pub fn full_mode() -> bool {
    std::env::var_os("TTL_CACHED_BENCH_FULL").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether the binary was started by `cargo bench` (which passes `--bench`). Without it, as
/// under `cargo test --benches`, criterion runs each benchmark once as a test, and the
/// benchmarks with expensive set-up shrink it too.
#[must_use]
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Sizes from the environment variable `var` (comma-separated, `_` allowed), else `default`
/// under `cargo bench`, else `test` (a quick check under `cargo test --benches`).
///
/// # Panics
///
/// If the variable is set to something other than numbers.
#[must_use]
pub fn sizes_from_env(var: &str, default: &[usize], test: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| {
                s.trim()
                    .replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{var}: comma-separated numbers, got {list:?}"))
            })
            .collect(),
        _ if bench_mode() => default.to_vec(),
        _ => test.to_vec(),
    }
}

/// The criterion configuration of the hit benchmarks: short in quick mode.
#[must_use]
pub fn criterion_config() -> criterion::Criterion {
    let c = criterion::Criterion::default();
    if full_mode() {
        c.warm_up_time(Duration::from_secs(3))
            .measurement_time(Duration::from_secs(5))
            .sample_size(100)
    } else {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1000))
            .sample_size(20)
    }
}

/// The criterion configuration of benchmarks whose iterations take milliseconds (stampede,
/// invalidation of large caches): few samples.
#[must_use]
pub fn slow_criterion_config() -> criterion::Criterion {
    let c = criterion::Criterion::default();
    if full_mode() {
        c.warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(5))
            .sample_size(30)
    } else {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1000))
            .sample_size(10)
    }
}

//! Deterministic request traces for the miss-ratio replay (`examples/miss_ratio.rs`).
//!
//! Every trace is a `Vec<Request>` built from a fixed seed by a small self-contained PRNG
//! (SplitMix64), so the same build replays the same requests on every machine. A request names a
//! key as a *group* part and a *rest* part, the shape `TtlCache` stores; traces without groups
//! use group 0 for every key.
//!
//! ```
//! use ttl_cached_benches::traces;
//! let a = traces::zipf(0.9, 1_000, 10_000, 7);
//! let b = traces::zipf(0.9, 1_000, 10_000, 7);
//! assert_eq!(a.requests, b.requests);
//! assert!(a.distinct() <= 1_000);
//! ```

use std::collections::HashSet;

/// Requests per trace in the standard set.
pub const STANDARD_LEN: usize = 2_000_000;

/// One request: the key `(group, rest)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request {
    /// The group part (a user in the folder-browser trace, 0 in traces without groups).
    pub group: u32,
    /// The rest of the key (a folder, or the key itself in traces without groups).
    pub rest: u32,
}

impl Request {
    /// The key as one number, for caches keyed by a single integer.
    #[must_use]
    pub const fn id(self) -> u64 {
        ((self.group as u64) << 32) | self.rest as u64
    }
}

/// A named request sequence.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Short name, used in tables.
    pub name: String,
    /// Whether `group` carries meaning (users); else it is 0 everywhere.
    pub grouped: bool,
    /// The requests, in order.
    pub requests: Vec<Request>,
}

impl Trace {
    /// Number of distinct keys requested.
    #[must_use]
    pub fn distinct(&self) -> usize {
        self.requests.iter().collect::<HashSet<_>>().len()
    }
}

/// SplitMix64: tiny, fast, and good enough to draw workloads from.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniformly shuffled `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut v: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            v.swap(i, self.below(i + 1));
        }
        v
    }
}

/// Zipf-distributed ranks `0..n`: rank `r` is drawn with probability proportional to
/// `1 / (r + 1)^s`. Sampling is a binary search in the cumulative table.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks with exponent `s`.
    #[must_use]
    pub fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for r in 0..n {
            sum += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

const fn flat(rest: u32) -> Request {
    Request { group: 0, rest }
}

/// Zipf(`s`) over `keys` keys, `len` requests. Key ids are a random permutation of the ranks.
#[must_use]
pub fn zipf(s: f64, keys: usize, len: usize, seed: u64) -> Trace {
    let mut rng = Rng::new(seed);
    let dist = Zipf::new(keys, s);
    let ids = rng.permutation(keys);
    let requests = (0..len).map(|_| flat(ids[dist.sample(&mut rng)])).collect();
    Trace {
        name: format!("zipf {s}"),
        grouped: false,
        requests,
    }
}

/// Zipf(`s`) over `keys` keys, interrupted every `period` requests by a sequential scan of
/// `scan` keys never requested before (each scan its own fresh keys: one-hit wonders), `len`
/// requests in all (scans included).
#[must_use]
pub fn zipf_with_scans(
    s: f64,
    keys: usize,
    scan: usize,
    period: usize,
    len: usize,
    seed: u64,
) -> Trace {
    let mut rng = Rng::new(seed);
    let dist = Zipf::new(keys, s);
    let ids = rng.permutation(keys);
    let mut requests = Vec::with_capacity(len);
    let mut next_cold = keys as u32;
    while requests.len() < len {
        for _ in 0..period.saturating_sub(scan) {
            requests.push(flat(ids[dist.sample(&mut rng)]));
        }
        for _ in 0..scan {
            requests.push(flat(next_cold));
            next_cold += 1;
        }
    }
    requests.truncate(len);
    Trace {
        name: format!("zipf {s} + scans"),
        grouped: false,
        requests,
    }
}

/// Zipf(`s`) over `keys` keys whose ranking is reshuffled (a new random permutation of which
/// key holds which rank) every `period` requests: the popular set moves.
#[must_use]
pub fn shifting_zipf(s: f64, keys: usize, period: usize, len: usize, seed: u64) -> Trace {
    let mut rng = Rng::new(seed);
    let dist = Zipf::new(keys, s);
    let mut ids = rng.permutation(keys);
    let mut requests = Vec::with_capacity(len);
    for i in 0..len {
        if i > 0 && i % period == 0 {
            ids = rng.permutation(keys);
        }
        requests.push(flat(ids[dist.sample(&mut rng)]));
    }
    Trace {
        name: format!("zipf {s}, reshuffled"),
        grouped: false,
        requests,
    }
}

/// Users of the folder-browser trace.
pub const BROWSER_USERS: usize = 300;

/// Rest ids from here up are one-off folders (requested once).
const ONE_OFF_BASE: u32 = 1 << 24;

/// A browsing session in progress.
#[derive(Debug)]
struct Session {
    user: usize,
    left: usize,
    recent: Vec<u32>,
}

/// The service this project was built for: `users` users browse their cloud folders in bursty
/// sessions. Each user owns 50 to 500 folders (folder 0 is the root) with Zipf(1.0) popularity
/// within the user; users are picked with Zipf(0.8) popularity, so some come back often. 16
/// sessions are open at once and requests interleave between them; a session lasts a geometric
/// number of requests (mean 40) and starts at the root. Each request of a session is:
///
/// - 5 %: a one-off folder (a key requested once in the whole trace);
/// - 15 %: the user's root (hot);
/// - 30 %: one of the last 8 folders this session visited (back, refresh, up);
/// - 50 %: a folder of the user drawn from the user's popularity.
///
/// Group = user, rest = folder.
#[must_use]
pub fn folder_browser(users: usize, len: usize, seed: u64) -> Trace {
    const OPEN: usize = 16;
    let mut rng = Rng::new(seed);
    let user_dist = Zipf::new(users, 0.8);
    let user_ids = rng.permutation(users);
    let folders: Vec<usize> = (0..users).map(|_| 50 + rng.below(451)).collect();
    let folder_dists: Vec<Zipf> = folders.iter().map(|&n| Zipf::new(n, 1.0)).collect();
    let mut next_one_off = ONE_OFF_BASE;

    let new_session = |rng: &mut Rng| {
        let mut left = 1;
        while !rng.chance(1.0 / 40.0) {
            left += 1;
        }
        Session {
            user: user_dist.sample(rng),
            left,
            recent: Vec::with_capacity(8),
        }
    };
    let mut open: Vec<Session> = (0..OPEN).map(|_| new_session(&mut rng)).collect();
    let mut requests = Vec::with_capacity(len);
    while requests.len() < len {
        let slot = rng.below(OPEN);
        let s = &mut open[slot];
        let folder = if s.recent.is_empty() {
            0
        } else {
            let p = rng.unit();
            if p < 0.05 {
                next_one_off += 1;
                next_one_off - 1
            } else if p < 0.20 {
                0
            } else if p < 0.50 {
                s.recent[rng.below(s.recent.len())]
            } else {
                folder_dists[s.user].sample(&mut rng) as u32
            }
        };
        requests.push(Request {
            group: user_ids[s.user],
            rest: folder,
        });
        if folder < ONE_OFF_BASE {
            if s.recent.len() == 8 {
                s.recent.remove(0);
            }
            s.recent.push(folder);
        }
        s.left -= 1;
        if s.left == 0 {
            open[slot] = new_session(&mut rng);
        }
    }
    Trace {
        name: "folder browser".to_string(),
        grouped: true,
        requests,
    }
}

/// The six standard traces, `len` requests each (use [`STANDARD_LEN`]), fixed seeds:
/// Zipf 0.7 / 0.9 / 1.1 over 100 000 keys; Zipf 0.9 with a scan of 50 000 fresh keys every
/// 400 000 requests; the folder browser (300 users); Zipf 0.9 reshuffled every 300 000 requests.
/// A shorter `len` shortens the scan and the two periods in proportion, so a quick run still
/// has its scans and reshuffles.
#[must_use]
pub fn standard(len: usize) -> Vec<Trace> {
    const KEYS: usize = 100_000;
    let scale = |x: usize| (x * len / STANDARD_LEN).max(1);
    vec![
        zipf(0.7, KEYS, len, 0x5EED_0007),
        zipf(0.9, KEYS, len, 0x5EED_0009),
        zipf(1.1, KEYS, len, 0x5EED_0011),
        zipf_with_scans(0.9, KEYS, scale(50_000), scale(400_000), len, 0x5EED_5CA9),
        folder_browser(BROWSER_USERS, len, 0x5EED_B055),
        shifting_zipf(0.9, KEYS, scale(300_000), len, 0x5EED_5417),
    ]
}

//! The cache's clock: what "now" is for TTLs and every other deadline the cache keeps.
//!
//! **Exact TTL, at the cost of a coarse read.** A value is never returned at or after its
//! deadline. The hit path asks [`Instant::has_passed`]'s opposite, [`Instant::not_reached`],
//! which first reads the kernel's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE` on Linux: the
//! monotonic clock as of the last timer tick, read from the vDSO without touching the clock
//! source, about a quarter of a precise read). The coarse clock is never ahead of the precise
//! one and lags it by about one resolution (`clock_getres`, one tick: 4 ms at 250 Hz), so
//! `coarse + margin < deadline` proves the deadline is ahead; only an entry within the margin
//! of its deadline pays a precise read (`CLOCK_MONOTONIC`, what `std::time::Instant` reads).
//! The margin is two resolutions: the kernel updates the coarse clock some time after each
//! tick, and on a loaded 2-vCPU virtual machine the lag measured 1.0 to 5.4 ms against a 4 ms
//! resolution (20 M samples; `the_coarse_clock_lags_the_precise_one_by_less_than_the_margin`).
//!
//! **If the coarse clock misbehaves.** When the process makes its first cache, the bound is
//! checked on this machine (a coarse reading taken between two precise ones must lie within
//! them, less the margin), and the resolution must be below 100 ms: otherwise, or where no
//! coarse clock exists (every platform but Linux and Android), every read is precise, as it is
//! before that check. The clock a hit reads first and its margin are one word, so a hit carries
//! no branch for "not checked" or "no coarse clock": those states read `CLOCK_MONOTONIC` with a
//! zero margin. Should the coarse clock later lag by
//! more than the margin (a virtual CPU stalled across several ticks, its timekeeping not yet
//! caught up when it resumes), a hit within that lag of its deadline could be served up to
//! `lag − margin` late; it can never be served early, and it never runs ahead (both clocks
//! advance from one timekeeper, the coarse one only at its updates).
//!
//! **Tokio's paused clock, through the `test-util` feature.** With it, every instant is a
//! `tokio::time::Instant`, so `tokio::time::pause()` and `advance()` drive TTLs, windows and
//! sweeps, as in tests; a hit then reads tokio's clock (a mutex when tokio's own `test-util` is
//! compiled in): for tests, not production. Without it, a miss that sees tokio's clock ahead of
//! the real one (a paused runtime that was advanced) panics in debug builds, naming the feature,
//! rather than letting a test silently run on the real clock ([`check_not_paused`]).

#![allow(unsafe_code)]

use std::ops::Add;
use std::time::Duration;

/// A reading of the cache's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Instant(Reading);

#[cfg(feature = "test-util")]
type Reading = tokio::time::Instant;

/// Nanoseconds on the monotonic clock (Linux), or since the process's first reading (elsewhere).
#[cfg(not(feature = "test-util"))]
type Reading = u64;

impl Instant {
    /// Now, precisely.
    #[inline]
    pub(crate) fn now() -> Self {
        #[cfg(feature = "test-util")]
        {
            Self(tokio::time::Instant::now())
        }
        #[cfg(not(feature = "test-util"))]
        {
            Self(os::precise_nanos())
        }
    }

    /// Whether now is still before `self`: exact (false at and after it), and on the hit path,
    /// a coarse read unless `self` is within two of its resolutions.
    #[inline]
    pub(crate) fn not_reached(self) -> bool {
        #[cfg(feature = "test-util")]
        {
            tokio::time::Instant::now() < self.0
        }
        #[cfg(not(feature = "test-util"))]
        {
            os::upper_bound_nanos() < self.0 || os::precise_nanos() < self.0
        }
    }

    /// Checks the coarse clock, once per process, so that [`not_reached`](Self::not_reached)
    /// may read it from then on; until then its first read is precise. Called when a cache is
    /// made, so that the hit path carries no "not yet checked" branch.
    pub(crate) fn prepare() {
        #[cfg(not(feature = "test-util"))]
        os::prepare();
    }

    /// `self + duration`, or `None` past the clock's range.
    #[inline]
    pub(crate) fn checked_add(self, duration: Duration) -> Option<Self> {
        #[cfg(feature = "test-util")]
        {
            self.0.checked_add(duration).map(Self)
        }
        #[cfg(not(feature = "test-util"))]
        {
            let nanos = u64::try_from(duration.as_nanos()).ok()?;
            self.0.checked_add(nanos).map(Self)
        }
    }

    /// How long after `earlier` this is; zero if it is not after it.
    #[inline]
    pub(crate) fn saturating_since(self, earlier: Self) -> Duration {
        #[cfg(feature = "test-util")]
        {
            self.0.saturating_duration_since(earlier.0)
        }
        #[cfg(not(feature = "test-util"))]
        {
            Duration::from_nanos(self.0.saturating_sub(earlier.0))
        }
    }

    /// `self - duration`, or `None` before the clock's origin.
    #[inline]
    pub(crate) fn checked_sub(self, duration: Duration) -> Option<Self> {
        #[cfg(feature = "test-util")]
        {
            self.0.checked_sub(duration).map(Self)
        }
        #[cfg(not(feature = "test-util"))]
        {
            let nanos = u64::try_from(duration.as_nanos()).ok()?;
            self.0.checked_sub(nanos).map(Self)
        }
    }
}

/// The origin of [`Instant::to_bits`] on tokio's clock: its reading at the first conversion,
/// before any instant converted (they are deadlines, after it).
#[cfg(feature = "test-util")]
static ORIGIN: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();

impl Instant {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    /// This instant as 64 bits, for an atomic (the lease, `lease.rs`): nanoseconds on the clock,
    /// saturating; never `u64::MAX`, which stands for "forever".
    pub(crate) fn to_bits(self) -> u64 {
        #[cfg(feature = "test-util")]
        let bits = {
            let origin = *ORIGIN.get_or_init(tokio::time::Instant::now);
            u64::try_from(self.0.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
        };
        #[cfg(not(feature = "test-util"))]
        let bits = self.0;
        bits.min(u64::MAX - 1)
    }

    /// The instant `to_bits` made `bits` of.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn from_bits(bits: u64) -> Self {
        #[cfg(feature = "test-util")]
        {
            let origin = *ORIGIN.get_or_init(tokio::time::Instant::now);
            Self(origin + Duration::from_nanos(bits))
        }
        #[cfg(not(feature = "test-util"))]
        {
            Self(bits)
        }
    }

    /// The earlier of `self` and the instant `bits` stands for (`u64::MAX`: forever).
    #[inline]
    pub(crate) fn capped_by(self, bits: u64) -> Self {
        #[cfg(feature = "test-util")]
        {
            if bits == u64::MAX {
                return self;
            }
            let origin = *ORIGIN.get_or_init(tokio::time::Instant::now);
            let at = origin
                .checked_add(Duration::from_nanos(bits))
                .map_or(self, Self);
            self.min(at)
        }
        #[cfg(not(feature = "test-util"))]
        {
            Self(self.0.min(bits))
        }
    }

    /// How long after `earlier` this is, or zero.
    #[cfg(feature = "redis-tier")]
    pub(crate) fn saturating_duration_since(self, earlier: Self) -> Duration {
        #[cfg(feature = "test-util")]
        {
            self.0.saturating_duration_since(earlier.0)
        }
        #[cfg(not(feature = "test-util"))]
        {
            Duration::from_nanos(self.0.saturating_sub(earlier.0))
        }
    }

    /// An instant later than any deadline the cache keeps.
    pub(crate) fn far() -> Self {
        Self::now()
            .checked_add(Duration::from_secs(100 * 365 * 24 * 3600))
            .unwrap_or_else(Self::now)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;

    /// # Panics
    ///
    /// Past the clock's range, as `std::time::Instant` does.
    fn add(self, duration: Duration) -> Self {
        self.checked_add(duration)
            .expect("overflow when adding a duration to the cache's clock")
    }
}

/// Without the `test-util` feature: panics (in debug builds) if the caller is on a tokio runtime
/// whose clock is ahead of the real one, that is, paused and advanced. Called on misses only.
#[inline]
pub(crate) fn check_not_paused() {
    #[cfg(all(debug_assertions, not(feature = "test-util")))]
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            let tokio_now = tokio::time::Instant::now().into_std();
            let real_now = std::time::Instant::now();
            if tokio_now > real_now + Duration::from_millis(1) {
                paused_without_the_feature();
            }
        }
    }
}

#[cfg(all(debug_assertions, not(feature = "test-util")))]
#[cold]
#[inline(never)]
fn paused_without_the_feature() -> ! {
    panic!(
        "cache_core: tokio's clock is paused and ahead of the real clock, but the cache \
         follows the real clock: TTLs would not follow `tokio::time::advance`. Enable \
         cache-core's `test-util` feature in [dev-dependencies] (beside tokio's `test-util`) \
         to run the cache on tokio's clock in tests"
    )
}

#[cfg(all(
    not(feature = "test-util"),
    any(target_os = "linux", target_os = "android")
))]
mod os {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    /// What a hit reads first, as one word so that a reader sees the clock and its margin from
    /// the same state: `margin << MARGIN_SHIFT | CHECKED | clock id`. The margin (two coarse
    /// resolutions, in nanoseconds) is what the reading is advanced by before it is compared
    /// with a deadline. Until the check (`prepare`), and where the coarse clock fails it,
    /// `CLOCK_MONOTONIC` with no margin: the first read is then a precise one. Only ever holds
    /// one of the words `pack` makes from the two clock ids below.
    static FIRST: AtomicU64 = AtomicU64::new(pack(libc::CLOCK_MONOTONIC, 0, false));

    const CLOCK_BITS: u64 = 0xff;
    const CHECKED: u64 = 0x100;
    const MARGIN_SHIFT: u32 = 16;

    /// One word for `FIRST`: `clock` is `CLOCK_MONOTONIC` or `CLOCK_MONOTONIC_COARSE` (1 and 6
    /// on Linux and Android), `margin` at most 200 ms.
    #[allow(clippy::cast_sign_loss)]
    const fn pack(clock: libc::clockid_t, margin: u64, checked: bool) -> u64 {
        let checked = if checked { CHECKED } else { 0 };
        margin << MARGIN_SHIFT | checked | (clock as u64 & CLOCK_BITS)
    }

    /// The most a coarse resolution may be for the coarse clock to be used.
    const MOST_RESOLUTION: u64 = 100_000_000;

    /// One reading of `clock`, in nanoseconds, or `None` if the kernel refused it.
    #[inline(always)]
    fn read(clock: libc::clockid_t) -> Option<u64> {
        // SAFETY: `ts` points to a writable `timespec` that lives across the call, which writes
        // only to it; `clock` is `CLOCK_MONOTONIC` or `CLOCK_MONOTONIC_COARSE` (named below, or
        // read back from `FIRST`, which holds only those), valid on Linux and Android since
        // 2.6.32. A failure is reported by the return value, checked by `nanos`.
        nanos(|ts| unsafe { libc::clock_gettime(clock, ts) })
    }

    /// The resolution of `clock`, in nanoseconds.
    fn resolution(clock: libc::clockid_t) -> Option<u64> {
        // SAFETY: as in `read`: a writable `timespec`, a valid clock id, the status
        // checked by `nanos`.
        nanos(|ts| unsafe { libc::clock_getres(clock, ts) })
    }

    /// What `call` writes into a `timespec`, in nanoseconds, unless it returns a failure.
    #[inline(always)]
    fn nanos(call: impl FnOnce(*mut libc::timespec) -> libc::c_int) -> Option<u64> {
        // Not zeroed first: two stores on every hit, for a value read only once written.
        let mut ts = std::mem::MaybeUninit::<libc::timespec>::uninit();
        if call(ts.as_mut_ptr()) != 0 {
            return None;
        }
        // SAFETY: a zero return means the call wrote the whole `timespec` (POSIX).
        let ts = unsafe { ts.assume_init() };
        // A monotonic reading (or resolution) is never negative and its nanoseconds are below
        // 10^9: the casts are exact, and the sum overflows after 584 years of uptime.
        #[allow(clippy::cast_sign_loss)]
        Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    #[inline]
    pub(super) fn precise_nanos() -> u64 {
        match read(libc::CLOCK_MONOTONIC) {
            Some(nanos) => nanos,
            None => no_monotonic_clock(),
        }
    }

    /// `CLOCK_MONOTONIC` cannot fail on Linux with a valid pointer; should it, there is no
    /// honest answer to "now", and `std::time::Instant::now` panics too.
    #[cold]
    #[inline(never)]
    fn no_monotonic_clock() -> ! {
        panic!("cache_core: the kernel refused to read CLOCK_MONOTONIC")
    }

    /// A reading never before now: the coarse clock plus its margin once checked, else the
    /// precise clock; `u64::MAX` (which proves nothing) if the kernel refused the read.
    #[inline]
    pub(super) fn upper_bound_nanos() -> u64 {
        upper_bound_from(FIRST.load(Relaxed))
    }

    /// [`upper_bound_nanos`] with `FIRST` as `first`.
    #[inline(always)]
    fn upper_bound_from(first: u64) -> u64 {
        // The id is 1 or 6 (see `FIRST`): the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let clock = (first & CLOCK_BITS) as libc::clockid_t;
        // At most 200 ms added to a reading 584 years from overflowing.
        read(clock).map_or(u64::MAX, |nanos| nanos + (first >> MARGIN_SHIFT))
    }

    /// Checks the coarse clock unless done: see `Instant::prepare`.
    #[inline]
    pub(super) fn prepare() {
        if FIRST.load(Relaxed) & CHECKED == 0 {
            check();
        }
    }

    /// Measures and checks the coarse clock: its resolution, and a few readings each taken
    /// between two precise ones. Two callers racing here each store a sound word.
    #[cold]
    #[inline(never)]
    fn check() {
        let first = match coarse_margin() {
            Some(margin) => pack(libc::CLOCK_MONOTONIC_COARSE, margin, true),
            None => pack(libc::CLOCK_MONOTONIC, 0, true),
        };
        FIRST.store(first, Relaxed);
    }

    /// Whether hits read the coarse clock first.
    #[cfg(test)]
    pub(super) fn uses_coarse() -> bool {
        FIRST.load(Relaxed) & CLOCK_BITS == pack(libc::CLOCK_MONOTONIC_COARSE, 0, false)
    }

    /// The first read in each state `FIRST` can be in, with the margin the check measures.
    #[cfg(test)]
    pub(super) fn upper_bounds(margin: u64) -> [u64; 3] {
        [
            upper_bound_from(pack(libc::CLOCK_MONOTONIC, 0, false)),
            upper_bound_from(pack(libc::CLOCK_MONOTONIC, 0, true)),
            upper_bound_from(pack(libc::CLOCK_MONOTONIC_COARSE, margin, true)),
        ]
    }

    pub(super) fn coarse_margin() -> Option<u64> {
        let resolution = resolution(libc::CLOCK_MONOTONIC_COARSE)?;
        if resolution == 0 || resolution > MOST_RESOLUTION {
            return None;
        }
        let margin = 2 * resolution;
        for _ in 0..16 {
            let before = read(libc::CLOCK_MONOTONIC)?;
            let coarse = read(libc::CLOCK_MONOTONIC_COARSE)?;
            let after = read(libc::CLOCK_MONOTONIC)?;
            if coarse > after || coarse + margin < before {
                return None;
            }
        }
        Some(margin)
    }

    #[cfg(test)]
    pub(super) fn coarse_nanos() -> Option<u64> {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }

    #[cfg(test)]
    pub(super) fn coarse_resolution() -> Option<u64> {
        resolution(libc::CLOCK_MONOTONIC_COARSE)
    }
}

#[cfg(all(
    not(feature = "test-util"),
    not(any(target_os = "linux", target_os = "android"))
))]
mod os {
    use std::sync::OnceLock;

    /// The process's first reading: the origin of every other.
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();

    #[inline]
    pub(super) fn precise_nanos() -> u64 {
        let origin = *ORIGIN.get_or_init(std::time::Instant::now);
        // Saturating at about 584 years of uptime.
        u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// No coarse clock here: every read is precise.
    #[inline]
    pub(super) fn upper_bound_nanos() -> u64 {
        precise_nanos()
    }

    /// Nothing to check.
    #[inline]
    pub(super) fn prepare() {}
}

#[cfg(all(test, not(feature = "test-util")))]
mod tests {
    use super::{os, Instant};
    use std::time::Duration;

    /// The bound the hit path relies on, sampled: a coarse reading taken between two precise
    /// ones is never after the second, nor more than one resolution before the first.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_coarse_clock_lags_the_precise_one_by_less_than_the_margin() {
        let resolution = os::coarse_resolution().expect("a coarse clock");
        let margin = os::coarse_margin().expect("the startup check accepts it");
        assert_eq!(margin, 2 * resolution);
        let mut worst_lag = 0;
        for _ in 0..200_000 {
            let before = os::precise_nanos();
            let coarse = os::coarse_nanos().expect("a coarse reading");
            let after = os::precise_nanos();
            assert!(coarse <= after, "coarse {coarse} ahead of precise {after}");
            worst_lag = worst_lag.max(before.saturating_sub(coarse));
        }
        assert!(
            worst_lag < margin,
            "the coarse clock lagged {worst_lag} ns, more than the margin {margin} ns"
        );
    }

    /// The hit's first read is never before now, whichever state the clock word is in:
    /// unchecked, without a coarse clock, or with one.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_first_read_is_never_before_now_in_any_state() {
        let margin = os::coarse_margin().expect("the startup check accepts it");
        for _ in 0..100_000 {
            let before = os::precise_nanos();
            for (state, bound) in os::upper_bounds(margin).into_iter().enumerate() {
                assert!(
                    bound >= before,
                    "state {state}: {bound} before now {before}"
                );
            }
        }
        // Making a cache checks the coarse clock: from then on hits read it first.
        let _cache = crate::TtlCache::<u8, u8, u8>::builder()
            .ttl(Duration::from_secs(1))
            .build()
            .expect("valid settings");
        assert!(os::uses_coarse());
    }

    /// `not_reached` is exact: true only if the deadline was still ahead when it read the
    /// clock, false only if it had been reached. Deadlines close to now exercise the precise
    /// read; far ones the coarse read.
    #[test]
    fn not_reached_is_exact_around_the_deadline() {
        Instant::prepare();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert!(os::uses_coarse(), "the coarse clock passed its check");
        let mut seen = [false; 2];
        for i in 0..200_000u64 {
            let offset = Duration::from_nanos((i % 4_000) * 50);
            let deadline = Instant::now() + offset;
            let before = Instant::now();
            let ahead = deadline.not_reached();
            let after = Instant::now();
            if ahead {
                assert!(before < deadline, "served at or after its deadline");
            } else {
                assert!(after >= deadline, "called expired before its deadline");
            }
            seen[usize::from(ahead)] = true;
        }
        assert_eq!(seen, [true, true], "both outcomes exercised");
        let far = Instant::now() + Duration::from_secs(60);
        assert!(far.not_reached());
        assert!(!Instant::now().not_reached(), "at the deadline is expired");
    }

    #[test]
    fn arithmetic_reports_the_clocks_range() {
        let now = Instant::now();
        assert_eq!(now.checked_add(Duration::MAX), None);
        assert_eq!(now.checked_sub(Duration::MAX), None);
        let later = now + Duration::from_millis(5);
        assert!(later > now);
        assert_eq!(later.checked_sub(Duration::from_millis(5)), Some(now));
    }
}

/// Without `test-util`, a miss on a paused and advanced runtime says which feature is missing.
#[cfg(all(test, debug_assertions, not(feature = "test-util")))]
mod paused {
    use std::time::Duration;

    #[test]
    fn a_miss_on_a_paused_and_advanced_runtime_names_the_feature() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                let cache: crate::TtlCache<String, u32, u32> = crate::TtlCache::builder()
                    .ttl(Duration::from_secs(60))
                    .build()
                    .expect("valid settings");
                cache.get_with("u", &1, || async { 1 }).await;
                tokio::time::advance(Duration::from_secs(61)).await;
                cache.get_with("u", &2, || async { 2 }).await;
            });
        }));
        let payload = outcome.expect_err("the miss after `advance` panics");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(message.contains("`test-util`"), "{message}");
    }
}

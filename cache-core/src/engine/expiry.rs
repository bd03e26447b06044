//! Expiry: when a stored value stops being served, and how long it is kept after that.
//!
//! - **Jitter** ([`Jitter`]): each stored value's TTL shortened by a pseudo-random share of up
//!   to a fraction of it, so that keys stored together (a warm-up, a page of listings) do not all
//!   expire, and hit the upstream, in the same instant. The share is drawn from the key's hash
//!   (splitmix64 of it), so it costs no shared state on the miss path: a key keeps its share
//!   while the cache lives, and the keys stored together spread over the window. TTLs are only
//!   ever shortened, never lengthened: a value is never kept longer than the TTL asked for.
//!
//!   With jitter on, store order is no longer expiry order (by up to `fraction * ttl`), which
//!   the store already handles for a lowered TTL: see `Eviction::ttl_lowered`. Each store marks
//!   the order unsorted until its TTL has passed, so a purge still removes every expired entry,
//!   and sweeps remove an expired entry stored behind a longer-lived one at most
//!   `fraction * ttl` late (it is never served meanwhile).
//! - **Stale windows** ([`Windows`]): how long after its TTL an expired value is kept, to be
//!   served while it is refreshed (stale-while-revalidate) or in place of a fetch that failed
//!   (stale-if-error). Sweeps and purges look at the store as of `now - longest window`, so an
//!   entry inside a window stays stored; serving it is the business of the layers above (see
//!   `features/stale.rs` and `cache/fallback.rs`).

use std::time::Duration;

use crate::engine::clock::Instant;

/// A cache's stale windows, fixed when it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    /// Stale-while-revalidate: how long after its TTL a value is served while refreshed.
    pub(crate) revalidate: Duration,
    /// Stale-if-error: how long after its TTL a value stands in for a failed fetch.
    pub(crate) if_error: Duration,
}

impl Windows {
    pub(crate) const NONE: Self = Self {
        revalidate: Duration::ZERO,
        if_error: Duration::ZERO,
    };

    /// The clock reading at which an entry that must be kept at `now` would still be live:
    /// `now` less the longer window. Sweeps compare with it, so entries inside a window stay.
    pub(crate) fn retained_after(&self, now: Instant) -> Option<Instant> {
        let longest = self.revalidate.max(self.if_error);
        // `None` when `now` is closer to the clock's origin than the window (a window of
        // `Duration::MAX`, "forever", always is): no entry can be past its window yet, since
        // every entry expired after the origin. Nothing is swept by age then.
        now.checked_sub(longest)
    }
}

/// Whether `now` is before `expires_at + window`.
pub(crate) fn within(expires_at: Instant, window: Duration, now: Instant) -> bool {
    expires_at.checked_add(window).is_none_or(|end| now < end)
}

/// The fraction of the TTL that may be cut, in parts per billion; zero for none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Jitter {
    per_billion: u64,
}

const BILLION: u64 = 1_000_000_000;

impl Jitter {
    pub(crate) const NONE: Self = Self { per_billion: 0 };

    /// `fraction` of the TTL, if it is a number in `0.0..=1.0`.
    pub(crate) fn new(fraction: f64) -> Option<Self> {
        if !(0.0..=1.0).contains(&fraction) {
            return None;
        }
        // In range and finite: the product is in 0..=1e9 and rounds to an exact integer.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let per_billion = (fraction * 1e9).round() as u64;
        Some(Self { per_billion })
    }

    pub(crate) fn is_none(self) -> bool {
        self.per_billion == 0
    }

    /// The fraction, as given (to nine decimals).
    pub(crate) fn fraction(self) -> f64 {
        // At most 1e9: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let f = self.per_billion as f64 / 1e9;
        f
    }

    /// `ttl` less the key's share of the window.
    pub(crate) fn apply(self, ttl: Duration, key_hash: u64) -> Duration {
        if self.is_none() {
            return ttl;
        }
        let window = ttl.as_nanos() * u128::from(self.per_billion) / u128::from(BILLION);
        let cut = (window * u128::from(splitmix64(key_hash))) >> 64;
        // `cut <= window <= ttl`, so it fits what `ttl` holds.
        ttl.saturating_sub(Duration::from_nanos(u64::try_from(cut).unwrap_or(u64::MAX)))
    }
}

/// A bijective mixer, so that keys whose hashes differ little still get unrelated shares.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::Jitter;
    use std::time::Duration;

    #[test]
    fn cuts_at_most_the_fraction_and_spreads_keys_over_it() {
        let jitter = Jitter::new(0.1).unwrap();
        let ttl = Duration::from_secs(100);
        let ttls: Vec<Duration> = (0..1000u64).map(|k| jitter.apply(ttl, k)).collect();
        assert!(ttls
            .iter()
            .all(|t| *t <= ttl && *t >= Duration::from_secs(90)));
        let (min, max) = (ttls.iter().min().unwrap(), ttls.iter().max().unwrap());
        assert!(*min < Duration::from_secs(91) && *max > Duration::from_secs(99));
        assert_eq!(Jitter::NONE.apply(ttl, 7), ttl);
    }

    #[test]
    fn rejects_fractions_outside_zero_to_one() {
        for bad in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
            assert_eq!(Jitter::new(bad), None, "{bad}");
        }
        assert_eq!(
            Jitter::new(1.0)
                .unwrap()
                .apply(Duration::from_secs(1), 0)
                .as_secs(),
            0
        );
    }
}

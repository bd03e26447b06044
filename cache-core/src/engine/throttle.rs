//! Fail-safe throttling: after a fetch of a key failed and its expired value stood in for it
//! (stale-if-error), or after a background refresh of it failed, the key's node remembers until
//! when the upstream is left alone. Until then, calls that miss get the expired value without a
//! fetch; the first call after it probes (an ordinary single-flight fetch). An error's retry
//! hint extends the period; consecutive failed background refreshes double it, up to a cap.
//!
//! The state lives on the node it protects, so it goes with it: a value stored by a fetch that
//! succeeded (a new node) or an invalidation (which removes the node) ends the throttle.

use std::sync::atomic::{
    AtomicU32, AtomicU8,
    Ordering::{AcqRel, Acquire},
};
use std::time::Duration;

use crate::engine::clock::Instant;

/// A cache's fail-safe settings, fixed when it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailSafe {
    /// How long the upstream is left alone after a failed fetch; zero for never.
    pub(crate) throttle: Duration,
    /// The longest a key's background refreshes back off after consecutive failures.
    pub(crate) backoff_cap: Duration,
    /// How long a fetch may run before it is dropped (`timeout.rs`); `None` for no limit.
    pub(crate) timeout: Option<Duration>,
    /// How long a caller with an expired value waits for its fetch before it gets the value
    /// (`features/stale.rs`); `None` for as long as the fetch runs.
    pub(crate) soft_timeout: Option<Duration>,
}

impl FailSafe {
    /// The defaults: a 5 s throttle, refreshes backing off up to a minute.
    pub(crate) const DEFAULT: Self = Self {
        throttle: Duration::from_secs(5),
        backoff_cap: Duration::from_secs(60),
        timeout: None,
        soft_timeout: None,
    };

    /// The period after the `failures`-th consecutive failed background refresh: the throttle,
    /// doubled for each failure before it, at most the cap (never below the throttle).
    pub(crate) fn backoff(&self, failures: u32) -> Duration {
        let doubled = self
            .throttle
            .checked_mul(1u32 << failures.saturating_sub(1).min(20))
            .unwrap_or(Duration::MAX);
        doubled.min(self.backoff_cap.max(self.throttle))
    }
}

/// Where a key's upstream stands: until when it is left alone, and how many background
/// refreshes in a row failed. Five bytes, which fit in the padding of the node that holds it:
/// the end of the period is kept in whole milliseconds after the node's expiry (rounded up, so
/// the upstream is left alone at least as long as asked; about 49 days at most).
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    /// Milliseconds from the node's expiry to the end of the period; 0 for none.
    until_ms: AtomicU32,
    failures: AtomicU8,
}

impl Throttle {
    pub(crate) const fn new() -> Self {
        Self {
            until_ms: AtomicU32::new(0),
            failures: AtomicU8::new(0),
        }
    }

    /// Leaves the upstream of the node that expired at `expired` alone until at least
    /// `now + period` (a period already running that ends later is kept). Returns whether
    /// `period` was not zero.
    pub(crate) fn extend(&self, expired: Instant, now: Instant, period: Duration) -> bool {
        if period.is_zero() {
            return false;
        }
        let after = now.saturating_since(expired).saturating_add(period);
        let ms = after.as_nanos().div_ceil(1_000_000);
        let ms = u32::try_from(ms).unwrap_or(u32::MAX).max(1);
        self.until_ms.fetch_max(ms, AcqRel);
        true
    }

    /// Counts a failed background refresh; returns how many failed in a row.
    pub(crate) fn refresh_failed(&self) -> u32 {
        let before = self
            .failures
            .fetch_update(AcqRel, Acquire, |n| Some(n.saturating_add(1)))
            .unwrap_or(u8::MAX);
        u32::from(before) + 1
    }

    /// Whether the upstream of the node that expired at `expired` is left alone at `now`
    /// (false at and after the period's end).
    pub(crate) fn holds(&self, expired: Instant, now: Instant) -> bool {
        match self.until_ms.load(Acquire) {
            0 => false,
            ms => expired
                .checked_add(Duration::from_millis(u64::from(ms)))
                .is_none_or(|end| now < end),
        }
    }
}

/// What a failed fetch's error means for the value it failed to replace: decided per error by a
/// cache's classifier ([`CacheBuilder::classify_errors`](crate::CacheBuilder::classify_errors))
/// or a function's `serve_stale_if`/`revoke_if` predicates and [`RetryAfter`].
///
/// ```
/// use cache_core::ErrorClass;
/// use std::time::Duration;
///
/// // A 429 that says "retry in 30 s", a 503, a 404 and a revoked token, classified:
/// fn classify(status: &u16) -> ErrorClass {
///     match status {
///         429 => ErrorClass::RetryAfter(Duration::from_secs(30)),
///         401 => ErrorClass::Revoke,
///         500..=599 => ErrorClass::Transient,
///         _ => ErrorClass::Surface,
///     }
/// }
/// assert_eq!(classify(&401), ErrorClass::Revoke);
/// assert_eq!(ErrorClass::RetryAfter(Duration::from_secs(30)).retry_after(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The upstream is in trouble: inside the stale-if-error window the expired value stands in
    /// for it, and the upstream is left alone for the fail-safe throttle. The default.
    #[default]
    Transient,
    /// As [`Transient`](Self::Transient), and the upstream said when to come back: the upstream
    /// is left alone for at least this long (a 429's or 503's `Retry-After`).
    RetryAfter(std::time::Duration),
    /// An answer, not an outage (a 404, a bad request): the error reaches the caller, never
    /// papered over with the expired value, and nothing is throttled.
    Surface,
    /// The caller's access is gone (a revoked credential, `invalid_grant`): the key's group is
    /// invalidated at once (on every replica, with the backplane), and the error reaches the
    /// caller.
    Revoke,
}

impl ErrorClass {
    /// The retry hint, for [`RetryAfter`](Self::RetryAfter).
    ///
    /// ```
    /// assert_eq!(cache_core::ErrorClass::Transient.retry_after(), None);
    /// ```
    #[must_use]
    pub fn retry_after(self) -> Option<std::time::Duration> {
        match self {
            Self::RetryAfter(after) => Some(after),
            _ => None,
        }
    }

    /// Whether the expired value may stand in for the error.
    pub(crate) fn papered_over(self) -> bool {
        matches!(self, Self::Transient | Self::RetryAfter(_))
    }
}

/// An error that may say when to try again. A `#[ttl_cached]` function whose error type
/// implements it has its hint honoured without further ado: after such an error, the expired
/// value is served without calling the upstream until the hint has passed (or the fail-safe
/// throttle, if longer).
///
/// A `reqwest`-style client error carrying a 429's `Retry-After`:
///
/// ```
/// use cache_core::RetryAfter;
/// use std::time::Duration;
///
/// #[derive(Debug, Clone)]
/// enum DriveError {
///     /// `429 Too Many Requests`, with the `Retry-After` header's seconds, if any. Built from
///     /// a `reqwest::Response` as
///     /// `resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse().ok())`.
///     RateLimited { retry_after_secs: Option<u64> },
///     Unavailable,
/// }
///
/// impl RetryAfter for DriveError {
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             DriveError::RateLimited { retry_after_secs } => {
///                 retry_after_secs.map(Duration::from_secs)
///             }
///             DriveError::Unavailable => None,
///         }
///     }
/// }
///
/// let limited = DriveError::RateLimited { retry_after_secs: Some(30) };
/// assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
/// assert_eq!(DriveError::Unavailable.retry_after(), None);
/// ```
pub trait RetryAfter {
    /// How long to leave the upstream alone, if the error says.
    fn retry_after(&self) -> Option<std::time::Duration>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// The end is kept in whole milliseconds after the expiry, rounded up: never before the end
    /// asked for, less than a millisecond after it; a shorter period never shortens it.
    #[test]
    fn a_period_is_held_at_least_to_its_end_and_never_shortened() {
        let expired = Instant::now();
        let now = expired + Duration::from_nanos(1_234_567);
        let throttle = Throttle::new();
        assert!(!throttle.holds(expired, now));
        assert!(throttle.extend(expired, now, 5 * MS));
        let end = now + 5 * MS; // 6.234567 ms after the expiry
        assert!(throttle.holds(expired, end.checked_sub(Duration::from_nanos(1)).unwrap()));
        assert!(throttle.holds(expired, end));
        assert!(!throttle.holds(expired, expired + 7 * MS));
        assert!(throttle.extend(expired, now, MS));
        assert!(throttle.holds(expired, end));
        assert!(!throttle.extend(expired, now, Duration::ZERO));
    }

    #[test]
    fn refresh_back_off_doubles_up_to_the_cap() {
        let fail_safe = FailSafe {
            throttle: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(12),
            timeout: None,
            soft_timeout: None,
        };
        let periods: Vec<u64> = (1..=5).map(|n| fail_safe.backoff(n).as_secs()).collect();
        assert_eq!(periods, [5, 10, 12, 12, 12]);
        let throttle = Throttle::new();
        assert_eq!(
            (throttle.refresh_failed(), throttle.refresh_failed()),
            (1, 2)
        );
    }
}

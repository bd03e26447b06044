//! The read fence: a deadline past which the caches that follow it serve nothing they hold.
//!
//! A cache that takes part in a fleet (feature `redis`) follows the fleet's lease: the backplane
//! renews it each time it confirms that every invalidation made before some instant has been
//! applied here, to that instant plus its timeout, and lets it lapse otherwise. A hit compares
//! the lease with the same clock reading as the TTL (`min(deadline, lease)`, see `clock.rs`): a
//! load and a compare. A cache that follows no lease is never fenced.

use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::OnceLock;

use super::clock::Instant;

/// A deadline, shared by every cache that follows it.
#[derive(Debug)]
pub(crate) struct Lease {
    /// The deadline's [`Instant::to_bits`]; `u64::MAX`: forever.
    until: AtomicU64,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl Lease {
    /// A lease that never lapses until told to.
    pub(crate) const fn forever() -> Self {
        Self {
            until: AtomicU64::new(u64::MAX),
        }
    }

    /// Valid until `at`. The caller has applied every invalidation it vouches for before this
    /// call: a hit that reads the new deadline sees them (release here, acquire there).
    pub(crate) fn renew_until(&self, at: Instant) {
        self.until.store(at.to_bits(), Release);
    }

    /// Valid until `timeout` after the instant whose bits are `since` (`Instant::to_bits`).
    pub(crate) fn renew_for(&self, since: u64, timeout: std::time::Duration) {
        match Instant::from_bits(since).checked_add(timeout) {
            Some(at) => self.renew_until(at),
            None => self.lapse(),
        }
    }

    /// Lapsed from now on, until renewed.
    pub(crate) fn lapse(&self) {
        self.until.store(0, Release);
    }

    /// Valid forever again (nobody vouches any more: the fleet is gone).
    #[cfg(test)]
    pub(crate) fn forever_again(&self) {
        self.until.store(u64::MAX, Release);
    }

    #[inline]
    fn bits(&self) -> u64 {
        self.until.load(Acquire)
    }
}

/// The lease a cache follows, if any: set once, when it joins a fleet.
#[derive(Debug, Default)]
pub(crate) struct Follows(OnceLock<&'static Lease>);

impl Follows {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    /// From now on, the cache serves only while `lease` is valid. Once only: a second call
    /// changes nothing.
    pub(crate) fn follow(&self, lease: &'static Lease) {
        let _ = self.0.set(lease);
    }

    /// `deadline`, or the lease's deadline if that comes first: what a hit compares with now.
    #[inline]
    pub(crate) fn cap(&self, deadline: Instant) -> Instant {
        match self.0.get() {
            Some(lease) => deadline.capped_by(lease.bits()),
            None => deadline,
        }
    }

    /// Whether the lease (if any) is valid now: asked by the paths that serve a value past its
    /// TTL (the stale windows), which read the precise clock anyway.
    pub(crate) fn valid_now(&self) -> bool {
        match self.0.get() {
            Some(lease) => Instant::now() < Instant::far().capped_by(lease.bits()),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lease_caps_deadlines_while_followed() {
        static LEASE: Lease = Lease::forever();
        let follows = Follows::default();
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(follows.cap(deadline), deadline, "no lease followed");
        follows.follow(&LEASE);
        assert_eq!(
            follows.cap(deadline),
            deadline,
            "a lease forever caps nothing"
        );
        assert!(follows.valid_now());
        let soon = Instant::now() + Duration::from_secs(1);
        LEASE.renew_until(soon);
        assert_eq!(follows.cap(deadline), soon);
        assert!(follows.cap(deadline).not_reached() && follows.valid_now());
        LEASE.lapse();
        assert!(
            !follows.cap(deadline).not_reached(),
            "a lapsed lease serves nothing"
        );
        assert!(!follows.valid_now());
        LEASE.forever_again();
        assert!(follows.cap(deadline).not_reached());
    }
}

//! The fleet's lease: the read fence every member cache follows (`engine/lease.rs`). Valid
//! forever until a layer beyond this process is installed; from then on, only while that layer
//! renews it (the backplane: each time it has confirmed that every invalidation made before an
//! instant was applied here, until that instant plus its timeout).

use std::time::Duration;

use crate::engine::clock::Instant;
use crate::engine::lease::Lease;

static FLEET: Lease = Lease::forever();

/// The lease every member cache follows from the moment it joins.
pub(crate) fn lease() -> &'static Lease {
    &FLEET
}

/// Now on the clock the lease is kept on, as bits to carry in a heartbeat.
pub(crate) fn lease_clock_now() -> u64 {
    Instant::now().to_bits()
}

/// Every invalidation made before `since` (a [`lease_clock_now`] reading) has been applied
/// here: the member caches may serve until `since + timeout`.
pub(crate) fn renew_lease(since: u64, timeout: Duration) {
    FLEET.renew_for(since, timeout);
}

/// The member caches serve nothing they hold until the lease is renewed.
pub(crate) fn lapse_lease() {
    FLEET.lapse();
}

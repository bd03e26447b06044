//! Debug events, behind the `tracing` feature. Events carry the cache name and counts, never key
//! contents: keys are often user ids. Without the feature these are empty and inlined away.

#[cfg(feature = "tracing")]
mod imp {
    pub(crate) fn fetch(cache: &str) {
        tracing::debug!(target: "cache_core", cache, "miss: fetching");
    }
    pub(crate) fn fetched(cache: &str, stored: bool) {
        tracing::debug!(target: "cache_core", cache, stored, "fetch finished");
    }
    pub(crate) fn invalidated_group(cache: &str, removed: usize) {
        tracing::debug!(target: "cache_core", cache, removed, "group invalidated");
    }
    pub(crate) fn invalidated_key(cache: &str, removed: bool) {
        tracing::debug!(target: "cache_core", cache, removed, "key invalidated");
    }
    pub(crate) fn cleared(cache: &str, removed: usize) {
        tracing::debug!(target: "cache_core", cache, removed, "cache cleared");
    }
    pub(crate) fn invalidated_scope(scope: &str, removed: usize) {
        tracing::debug!(target: "cache_core", scope, removed, "scope invalidated");
    }
    pub(crate) fn stale_served(cache: &str, refreshing: bool) {
        tracing::debug!(target: "cache_core", cache, refreshing, "served stale");
    }
    pub(crate) fn refresh_started(cache: &str) {
        tracing::debug!(target: "cache_core", cache, "background refresh started");
    }
    pub(crate) fn refresh_failed(cache: &str, panicked: bool) {
        tracing::debug!(target: "cache_core", cache, panicked, "background refresh failed");
    }
    pub(crate) fn stale_on_error(cache: &str, panicked: bool) {
        tracing::debug!(target: "cache_core", cache, panicked, "fetch failed: served stale");
    }
    pub(crate) fn throttled(cache: &str) {
        tracing::debug!(target: "cache_core", cache, "upstream throttled: served stale");
    }
    pub(crate) fn throttle_armed(cache: &str, period_ms: u64, retry_hint: bool) {
        tracing::debug!(
            target: "cache_core",
            cache,
            period_ms,
            retry_hint,
            "fetch failed: upstream left alone"
        );
    }
    pub(crate) fn revoked(cache: &str, removed: usize) {
        tracing::debug!(target: "cache_core", cache, removed, "fetch revoked: group invalidated");
    }
    pub(crate) fn timed_out(cache: &str) {
        tracing::debug!(target: "cache_core", cache, "fetch timed out: dropped");
    }
    pub(crate) fn soft_timeout(cache: &str) {
        tracing::debug!(target: "cache_core", cache, "past the soft timeout: served stale");
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    #[inline(always)]
    pub(crate) fn fetch(_: &str) {}
    #[inline(always)]
    pub(crate) fn fetched(_: &str, _: bool) {}
    #[inline(always)]
    pub(crate) fn invalidated_group(_: &str, _: usize) {}
    #[inline(always)]
    pub(crate) fn invalidated_key(_: &str, _: bool) {}
    #[inline(always)]
    pub(crate) fn cleared(_: &str, _: usize) {}
    #[inline(always)]
    pub(crate) fn invalidated_scope(_: &str, _: usize) {}
    #[inline(always)]
    pub(crate) fn stale_served(_: &str, _: bool) {}
    #[inline(always)]
    pub(crate) fn refresh_started(_: &str) {}
    #[inline(always)]
    pub(crate) fn refresh_failed(_: &str, _: bool) {}
    #[inline(always)]
    pub(crate) fn stale_on_error(_: &str, _: bool) {}
    #[inline(always)]
    pub(crate) fn throttled(_: &str) {}
    #[inline(always)]
    pub(crate) fn throttle_armed(_: &str, _: u64, _: bool) {}
    #[inline(always)]
    pub(crate) fn revoked(_: &str, _: usize) {}
    #[inline(always)]
    pub(crate) fn timed_out(_: &str) {}
    #[inline(always)]
    pub(crate) fn soft_timeout(_: &str) {}
}

pub(crate) use imp::*;

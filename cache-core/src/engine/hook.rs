//! Test hooks: points where a test takes control of a caller to force an interleaving that no
//! public call can produce. Hidden from the docs and not part of the API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Where a hook runs. The first two are on the miss path between two `.await`s (no lock held),
/// so the hook is async; the others are inside synchronous sections and block the thread.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// Async: a caller missed and is about to take the key's flight entry.
    BeforeFlightEntry,
    /// Async: a leader's fetch finished; it is about to store its value. This is the last point
    /// where a leader can be cancelled: from here on its store runs to the end without yielding.
    BeforeStore,
    /// Sync: a caller that missed has read its stamp and found no invalidation in progress; it
    /// has not registered its flight yet.
    StampTaken,
    /// Sync: a leader holds its flight entry and found its flight current; its value is not in
    /// the index yet.
    StoreLocked,
    /// Sync: a leader has just made its value visible, before checking it did not go stale.
    AfterInsert,
    /// Sync: an invalidation (group, key or clear) has made the old values unreadable and removed
    /// them, and has not returned yet: a fetch of what it invalidates that begins now must run
    /// unshared.
    InvalidationMidway,
    /// Sync: a caller that missed found its key's upstream throttled (`throttle.rs`) and the
    /// expired value still current and not fenced; it has not read the value yet.
    Throttled,
}

/// An async hook, for the points a caller reaches between two `.await`s.
#[doc(hidden)]
pub type Hook = Arc<dyn Fn(HookPoint) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A blocking hook, for the points inside synchronous sections: it may block the calling thread
/// (the test then acts from another thread).
#[doc(hidden)]
pub type SyncHook = Arc<dyn Fn(HookPoint) + Send + Sync>;

/// The hooks a cache was built with; empty outside tests.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_await: Option<Hook>,
    pub(crate) on_sync: Option<SyncHook>,
}

impl Hooks {
    pub(crate) async fn at(&self, point: HookPoint) {
        if let Some(hook) = &self.on_await {
            hook(point).await;
        }
    }

    pub(crate) fn at_sync(&self, point: HookPoint) {
        if let Some(hook) = &self.on_sync {
            hook(point);
        }
    }
}

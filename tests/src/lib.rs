//! Helpers shared by the integration tests.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cache_core::{Hook, HookPoint};
use tokio::sync::Notify;

/// Stops the `n`-th caller (0-based) that reaches `point` until the test resumes it, so a test
/// can act in the middle of that caller's operation.
pub struct Interleave {
    point: HookPoint,
    n: usize,
    seen: AtomicUsize,
    reached: Notify,
    resume: Notify,
}

impl Interleave {
    /// A pause for the `n`-th arrival at `point`, and the hook to install with `__hook`.
    pub fn at(point: HookPoint, n: usize) -> (Arc<Self>, Hook) {
        let this = Arc::new(Self {
            point,
            n,
            seen: AtomicUsize::new(0),
            reached: Notify::new(),
            resume: Notify::new(),
        });
        let hook_this = this.clone();
        let hook: Hook = Arc::new(move |point| {
            let this = hook_this.clone();
            Box::pin(async move {
                if point == this.point && this.seen.fetch_add(1, SeqCst) == this.n {
                    this.reached.notify_one();
                    this.resume.notified().await;
                }
            })
        });
        (this, hook)
    }

    /// Waits until the chosen caller is paused at the point.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the paused caller go on.
    pub fn resume(&self) {
        self.resume.notify_one();
    }
}

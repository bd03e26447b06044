//! Helpers shared by the integration tests.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cache_core::{Hook, HookPoint};
use tokio::sync::Notify;

#[derive(Debug)]
struct Pause {
    point: HookPoint,
    arrival: usize,
    seen: AtomicUsize,
    reached: Notify,
    resume: Notify,
}

/// Stops chosen callers at chosen points of the miss path until the test resumes them, so a
/// test can act in the middle of another caller's operation.
#[derive(Debug)]
pub struct Pauses {
    pauses: Vec<Pause>,
}

impl Pauses {
    /// One pause per `(point, arrival)`: the `arrival`-th (0-based) caller to reach `point`
    /// stops there. Returns the pauses and the hook to install with `__hook`.
    pub fn at(points: &[(HookPoint, usize)]) -> (Arc<Self>, Hook) {
        let this = Arc::new(Self {
            pauses: points
                .iter()
                .map(|&(point, arrival)| Pause {
                    point,
                    arrival,
                    seen: AtomicUsize::new(0),
                    reached: Notify::new(),
                    resume: Notify::new(),
                })
                .collect(),
        });
        let hook_this = this.clone();
        let hook: Hook = Arc::new(move |point| {
            let this = hook_this.clone();
            Box::pin(async move {
                for pause in this.pauses.iter().filter(|p| p.point == point) {
                    if pause.seen.fetch_add(1, SeqCst) == pause.arrival {
                        pause.reached.notify_one();
                        pause.resume.notified().await;
                    }
                }
            })
        });
        (this, hook)
    }

    /// Waits until the caller of pause `i` stands at its point.
    pub async fn reached(&self, i: usize) {
        self.pauses[i].reached.notified().await;
    }

    /// Lets the caller of pause `i` go on.
    pub fn resume(&self, i: usize) {
        self.pauses[i].resume.notify_one();
    }
}

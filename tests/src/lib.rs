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

#[derive(Debug, Default)]
struct Gate {
    reached: bool,
    resumed: bool,
}

#[derive(Debug)]
struct SyncPause {
    point: HookPoint,
    arrival: usize,
    seen: AtomicUsize,
    gate: std::sync::Mutex<Gate>,
    changed: std::sync::Condvar,
}

/// [`Pauses`] for the synchronous points (`StoreLocked`, `AfterInsert`, `InvalidationMidway`):
/// the chosen caller blocks its thread, so the test acts from another thread (a multi-thread
/// runtime, or `std::thread`).
#[derive(Debug)]
pub struct SyncPauses {
    pauses: Vec<SyncPause>,
}

/// How long a test waits for a paused caller before failing instead of hanging.
const SYNC_PAUSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

impl SyncPauses {
    /// One pause per `(point, arrival)`: the `arrival`-th (0-based) caller to reach `point`
    /// stops there. Returns the pauses and the hook to install with `__sync_hook`.
    pub fn at(points: &[(HookPoint, usize)]) -> (Arc<Self>, cache_core::SyncHook) {
        let this = Arc::new(Self {
            pauses: points
                .iter()
                .map(|&(point, arrival)| SyncPause {
                    point,
                    arrival,
                    seen: AtomicUsize::new(0),
                    gate: std::sync::Mutex::new(Gate::default()),
                    changed: std::sync::Condvar::new(),
                })
                .collect(),
        });
        let hook_this = this.clone();
        let hook: cache_core::SyncHook = Arc::new(move |point| {
            for pause in hook_this.pauses.iter().filter(|p| p.point == point) {
                if pause.seen.fetch_add(1, SeqCst) == pause.arrival {
                    let mut gate = pause.gate.lock().unwrap();
                    gate.reached = true;
                    pause.changed.notify_all();
                    let (gate, timeout) = pause
                        .changed
                        .wait_timeout_while(gate, SYNC_PAUSE_LIMIT, |g| !g.resumed)
                        .unwrap();
                    drop(gate);
                    assert!(!timeout.timed_out(), "paused caller was never resumed");
                }
            }
        });
        (this, hook)
    }

    /// Blocks until the caller of pause `i` stands at its point (panics after 30 s).
    pub fn wait_reached(&self, i: usize) {
        let pause = &self.pauses[i];
        let gate = pause.gate.lock().unwrap();
        let (_gate, timeout) = pause
            .changed
            .wait_timeout_while(gate, SYNC_PAUSE_LIMIT, |g| !g.reached)
            .unwrap();
        assert!(!timeout.timed_out(), "pause {i} was never reached");
    }

    /// Lets the caller of pause `i` go on.
    pub fn resume(&self, i: usize) {
        let pause = &self.pauses[i];
        pause.gate.lock().unwrap().resumed = true;
        pause.changed.notify_all();
    }
}

/// A small deterministic PRNG (SplitMix64) for seeded test schedules: the same seed gives the
/// same sequence of choices on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
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

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// An index into a slice of length `n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).expect("a length fits in 64 bits");
        usize::try_from(self.below(n)).expect("below a usize length")
    }

    /// True with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A drop-counting guard to put inside cached values: the counter it points at holds how many
/// guards (so how many values) are alive, clones included.
#[derive(Debug)]
pub struct Live(&'static std::sync::atomic::AtomicI64);

impl Live {
    /// A new guard: one more value alive.
    pub fn new(counter: &'static std::sync::atomic::AtomicI64) -> Self {
        counter.fetch_add(1, SeqCst);
        Self(counter)
    }
}

impl Clone for Live {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// The message of the panics tests inject on purpose; see [`quiet_injected_panics`].
pub const INJECTED_PANIC: &str = "injected fault";

/// Installs (once per process) a panic hook that keeps quiet about panics whose message is
/// [`INJECTED_PANIC`], faults a test injects on purpose, and reports every other panic as usual.
pub fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if text != Some(INJECTED_PANIC) {
                default(info);
            }
        }));
    });
}

/// Lets every spawned task of a current-thread runtime run until it waits: enough yields for
/// the tasks these tests spawn to reach their next `.await` on a gate.
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// A fetch that says when it started and finishes when its gate opens, counting its runs.
#[derive(Debug, Default)]
pub struct Gated {
    /// Notified (once, stored) when a run starts.
    pub started: Notify,
    /// The run waits here until the test notifies it.
    pub gate: Notify,
    /// How many runs started.
    pub runs: AtomicUsize,
}

impl Gated {
    /// One run: counts it, says it started, waits for the gate, returns `value`.
    pub async fn run(&self, value: &str) -> String {
        self.runs.fetch_add(1, SeqCst);
        self.started.notify_one();
        self.gate.notified().await;
        value.to_string()
    }

    /// One failing run: as [`run`](Self::run), then an `Err`.
    pub async fn fail(&self) -> Result<String, String> {
        self.runs.fetch_add(1, SeqCst);
        self.started.notify_one();
        self.gate.notified().await;
        Err("upstream down".to_string())
    }
}

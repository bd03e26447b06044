//! The replicas' waits for a key another replica fetches (feature `redis-tier`), by the value's
//! key in Redis: registered by the tier (`tier.rs`) before each read, woken by the subscriber
//! (`task.rs`) when the tier's channel says the key was written or its lease given back. Apart
//! from both, so that neither names the other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::Notify;

/// The waits, held weakly: a wait that ended leaves nothing but an entry swept on a later
/// insert.
struct Waiters {
    by_key: HashMap<String, Weak<Notify>>,
    /// The size at which the dead entries are swept next.
    sweep_at: usize,
}

static WAITERS: Mutex<Option<Waiters>> = Mutex::new(None);

fn with_waiters<R>(f: impl FnOnce(&mut Waiters) -> R) -> R {
    // Poisoned only by a panic while inserting or removing plain values: still valid.
    let mut guard = WAITERS.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(|| Waiters {
        by_key: HashMap::new(),
        sweep_at: 64,
    }))
}

/// What is notified when the value at `key` is written or its lease given back.
pub(super) fn watch(key: String) -> Arc<Notify> {
    with_waiters(|w| {
        if let Some(notify) = w.by_key.get(&key).and_then(Weak::upgrade) {
            return notify;
        }
        let notify = Arc::new(Notify::new());
        w.by_key.insert(key, Arc::downgrade(&notify));
        if w.by_key.len() >= w.sweep_at {
            w.by_key.retain(|_, waiting| waiting.strong_count() > 0);
            w.sweep_at = (w.by_key.len() * 2).max(64);
        }
        notify
    })
}

/// A message on the tier's channel: the key it names was written, or its lease given back.
pub(super) fn settled(payload: &[u8]) {
    let Ok(key) = std::str::from_utf8(payload) else {
        return;
    };
    if let Some(notify) = with_waiters(|w| w.by_key.get(key).and_then(Weak::upgrade)) {
        notify.notify_waiters();
    }
}

//! Single-flight: one fetch per cold key, shared by every caller that arrives while it runs.
//!
//! A flight lives in the flight map from the moment its leader starts fetching until the leader
//! publishes the outcome. Waiters hold an `Arc` to it and sleep on its `Notify`. The leader holds
//! a [`Lead`] guard: if the leader's future is dropped (cancelled) or unwinds (its fetch
//! panicked), the guard marks the flight abandoned and wakes the waiters, who retry; the first
//! of them to reach the flight map becomes the new leader. No special case is needed for either
//! event: both are "the guard was dropped before it was finished".

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{
    AtomicBool, AtomicU8,
    Ordering::{AcqRel, Acquire, Release},
};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use crate::cache::TtlCache;
use crate::group::Group;
use crate::node::Stamp;
use crate::policy::Policy;
use crate::probe::{Stored, StoredKey};

const RUNNING: u8 = 0;
const READY: u8 = 1;
const FAILED: u8 = 2;
const ABANDONED: u8 = 3;

/// How a flight ended, as a waiter sees it.
pub(crate) enum Ending {
    Ready,
    Failed,
    Abandoned,
}

pub(crate) struct Flight<G, K, V> {
    pub(crate) group: Arc<Group<G, K, V>>,
    pub(crate) rest: K,
    pub(crate) stamp: Stamp,
    state: AtomicU8,
    /// Set by `invalidate(group, key)` while the fetch runs: the result must not be stored and
    /// new callers must not join.
    key_invalidated: AtomicBool,
    value: OnceLock<V>,
    failure: OnceLock<Box<dyn Any + Send + Sync>>,
    notify: Notify,
}

impl<G, K, V> Flight<G, K, V> {
    pub(crate) fn new(group: Arc<Group<G, K, V>>, rest: K, stamp: Stamp) -> Self {
        Self {
            group,
            rest,
            stamp,
            state: AtomicU8::new(RUNNING),
            key_invalidated: AtomicBool::new(false),
            value: OnceLock::new(),
            failure: OnceLock::new(),
            notify: Notify::new(),
        }
    }

    /// Whether a caller whose current stamp is `stamp` may wait for this flight.
    pub(crate) fn joinable(&self, stamp: Stamp) -> bool {
        self.stamp == stamp
            && self.state.load(Acquire) == RUNNING
            && !self.key_invalidated.load(Acquire)
    }

    pub(crate) fn invalidate_key(&self) {
        self.key_invalidated.store(true, Release);
    }

    pub(crate) fn is_key_invalidated(&self) -> bool {
        self.key_invalidated.load(Acquire)
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Acquire) == RUNNING
    }

    pub(crate) fn stored(&self) -> Stored<'_, G, K> {
        Stored {
            group: &self.group.key,
            rest: &self.rest,
        }
    }

    fn end(&self, state: u8) -> bool {
        let ended = self
            .state
            .compare_exchange(RUNNING, state, AcqRel, Acquire)
            .is_ok();
        if ended {
            self.notify.notify_waiters();
        }
        ended
    }

    pub(crate) fn publish_value(&self, value: V) {
        // The value is set before the state flips, and waiters read it only after seeing READY.
        let _ = self.value.set(value);
        self.end(READY);
    }

    pub(crate) fn publish_failure(&self, shared: Option<Box<dyn Any + Send + Sync>>) {
        if let Some(shared) = shared {
            let _ = self.failure.set(shared);
        }
        self.end(FAILED);
    }

    /// Returns whether this call abandoned the flight (false if it had already ended).
    pub(crate) fn abandon(&self) -> bool {
        self.end(ABANDONED)
    }

    pub(crate) fn value(&self) -> Option<&V> {
        self.value.get()
    }

    pub(crate) fn failure(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.failure.get().map(|b| &**b)
    }

    /// Waits until the flight has ended.
    pub(crate) async fn wait(&self) -> Ending {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registering before reading the state closes the window in which the leader could
            // publish and notify between our read and our sleep.
            notified.as_mut().enable();
            match self.state.load(Acquire) {
                READY => return Ending::Ready,
                FAILED => return Ending::Failed,
                ABANDONED => return Ending::Abandoned,
                _ => notified.await,
            }
        }
    }
}

/// The flight map key: `(group, rest)`, hashed like every other key of the cache.
pub(crate) struct FlightKey<G, K, V> {
    pub(crate) group: Arc<Group<G, K, V>>,
    pub(crate) rest: K,
}

impl<G: Hash, K: Hash, V> Hash for FlightKey<G, K, V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.group.key.hash(state);
        self.rest.hash(state);
    }
}

impl<G: Eq, K: Eq, V> PartialEq for FlightKey<G, K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.rest == other.rest && self.group.key == other.group.key
    }
}

impl<G: Eq, K: Eq, V> Eq for FlightKey<G, K, V> {}

impl<G, K, V> StoredKey<G, K> for FlightKey<G, K, V> {
    fn group(&self) -> &G {
        &self.group.key
    }
    fn rest(&self) -> &K {
        &self.rest
    }
}

/// What [`TtlCache::start`] decided.
#[doc(hidden)]
#[derive(Debug)]
pub enum Start<O, L> {
    /// Answered from the cache or from another caller's fetch.
    Done(O),
    /// This caller must run the fetch and hand its outcome to [`Lead::finish`].
    Lead(L),
}

/// The leader's obligation to finish a flight. Dropping it unfinished (cancellation, or a panic
/// unwinding through the fetch) abandons the flight, and a waiter takes over.
#[doc(hidden)]
pub struct Lead<'c, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) cache: &'c TtlCache<G, K, V>,
    pub(crate) flight: Arc<Flight<G, K, V>>,
    pub(crate) armed: bool,
}

impl<G, K, V> std::fmt::Debug for Lead<'_, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lead")
            .field("cache", &self.cache.name())
            .finish_non_exhaustive()
    }
}

impl<G, K, V> Lead<'_, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Stores (if the policy says so) and publishes the fetch's outcome, and returns it.
    pub async fn finish<P: Policy<Value = V>>(
        mut self,
        outcome: P::Output,
        policy: &P,
    ) -> P::Output {
        // Boxed: the store path is a large state machine that callers' futures (the cached
        // function's included) would otherwise carry on every call, hits too.
        match policy.storable(&outcome) {
            Some(value) => Box::pin(self.cache.commit(&self.flight, value)).await,
            None => {
                let shared = policy.share(&outcome);
                Box::pin(self.cache.fail(&self.flight, shared)).await;
            }
        }
        self.armed = false;
        outcome
    }
}

impl<G, K, V> Drop for Lead<'_, G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if self.armed {
            // Cancelled or unwinding, possibly halfway through storing: wake the waiters (one
            // takes over) unless the outcome was already published. Drop cannot await, so the
            // flight stays in the map, unjoinable, until the next caller for the key replaces
            // it or maintenance removes it.
            self.flight.abandon();
            self.cache.defer_flight(Arc::clone(&self.flight));
        }
    }
}

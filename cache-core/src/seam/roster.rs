//! Who takes part beyond this process, under which names: the caches and scopes that joined,
//! each with the [`ApplyRemote`] that applies the other replicas' invalidations to it.
//!
//! Replicas agree on a cache by its name (`module::fn` for a `#[ttl_cached]` function,
//! `module::Type::fn` for a method, the builder's name for a [`TtlCache`](crate::TtlCache)),
//! so one name stands for one cache: a second cache under a name already taken is refused. A
//! `#[ttl_cached]` cache, which cannot return an error, is then kept aside ([`hold_refused`]):
//! it is told nothing, tells nothing, stores nothing while anyone observes (see
//! [`Membership`](super::Membership)), and is emptied with
//! the others, so that what it stored before an observer came is not served after.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};

use super::remote::ApplyRemote;

struct Member {
    /// The cache's (or scope's) address: the same cache joining again is not a duplicate.
    identity: usize,
    apply: Arc<dyn ApplyRemote>,
}

#[derive(Default)]
struct Roster {
    caches: HashMap<Arc<str>, Member>,
    scopes: HashMap<&'static str, Member>,
    /// The `#[ttl_cached]` caches refused for a name already taken.
    refused: Vec<Arc<dyn ApplyRemote>>,
}

static ROSTER: Mutex<Option<Roster>> = Mutex::new(None);

/// How many caches (and scopes) were refused for a name already taken.
static REFUSED: AtomicU64 = AtomicU64::new(0);

fn with_roster<R>(f: impl FnOnce(&mut Roster) -> R) -> R {
    // Poisoned only by a panic in a map operation; the maps are valid.
    let mut guard = ROSTER.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Roster::default))
}

/// Enrolls the cache at `identity` under `name`, unless another live cache has it; whether it
/// is enrolled (the same cache joining again is).
pub(crate) fn join_cache(name: &str, identity: usize, apply: Arc<dyn ApplyRemote>) -> bool {
    with_roster(|r| match r.caches.get(name) {
        Some(existing) if existing.apply.alive() => existing.identity == identity,
        _ => {
            r.caches.insert(Arc::from(name), Member { identity, apply });
            true
        }
    })
}

/// Keeps a refused `#[ttl_cached]` cache, to be emptied with the others.
pub(crate) fn hold_refused(apply: Arc<dyn ApplyRemote>) {
    with_roster(|r| r.refused.push(apply));
}

/// Enrolls the scope at `identity` under `name` (its path), unless another scope has it.
pub(crate) fn join_scope(name: &'static str, identity: usize, apply: Arc<dyn ApplyRemote>) -> bool {
    with_roster(|r| match r.scopes.get(name) {
        Some(existing) => existing.identity == identity,
        None => {
            r.scopes.insert(name, Member { identity, apply });
            true
        }
    })
}

/// Counts and logs a cache or scope refused for `name`.
pub(crate) fn refused(name: &str) {
    REFUSED.fetch_add(1, SeqCst);
    tracing::error!(target: "cache_core::backplane", cache = name, "a second cache with this name was refused; it stores nothing while the backplane is installed");
}

/// How many caches and scopes were refused for a name already taken.
pub(crate) fn refused_names() -> u64 {
    REFUSED.load(SeqCst)
}

/// The cache enrolled under `name`.
pub(crate) fn cache(name: &str) -> Option<Arc<dyn ApplyRemote>> {
    with_roster(|r| r.caches.get(name).map(|m| Arc::clone(&m.apply)))
}

/// The scope enrolled under `name`.
pub(crate) fn scope(name: &str) -> Option<Arc<dyn ApplyRemote>> {
    with_roster(|r| r.scopes.get(name).map(|m| Arc::clone(&m.apply)))
}

/// Every cache enrolled, and every one refused: what is emptied when no cache may be trusted.
pub(crate) fn every_cache() -> Vec<Arc<dyn ApplyRemote>> {
    with_roster(|r| {
        r.caches
            .values()
            .map(|m| Arc::clone(&m.apply))
            .chain(r.refused.iter().cloned())
            .collect()
    })
}

/// Whether `name` is enrolled for another live cache than the one at `identity` (which then
/// tells nothing).
pub(crate) fn taken_by_another(name: &str, identity: usize) -> bool {
    with_roster(|r| {
        r.caches
            .get(name)
            .is_some_and(|m| m.identity != identity && m.apply.alive())
    })
}

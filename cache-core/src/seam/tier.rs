//! The shared tier (feature `redis-tier`): where a member cache that opted in reads what another
//! replica fetched, and writes what it fetched itself. Defined here, implemented above the
//! cache (`backplane/tier.rs`), set once when that layer is installed.
//!
//! A value in the tier carries the tag of the generations it was fetched under: every
//! invalidation the backplane delivers bumps the generation it covers (of the cache, of a
//! group, of a key) in the same script that appends it to the log, so a read compares the
//! stored tag with the current one and a write stores only if the tag it was fetched under is
//! still current, atomically.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

/// Where a value lives in the tier: its cache's name and its parts in the wire encoding; and,
/// for a `#[ttl_cached]` function in a scope, the scope's path, whose invalidation of the group
/// bumps a generation of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TierKey<'a> {
    pub(crate) cache: &'a str,
    pub(crate) group: &'a [u8],
    pub(crate) key: &'a [u8],
    pub(crate) scope: Option<&'a str>,
}

/// What a read of the tier found.
#[derive(Debug)]
pub(crate) enum TierRead {
    /// A value stored under the current generations (`tag`), with what was left of its
    /// lifetime when the read was sent (at least: Redis answered later).
    Hit {
        payload: Vec<u8>,
        remaining: Duration,
        tag: Vec<u8>,
    },
    /// No value under the current generations: `tag` is them, to write back under; `leased`
    /// whether this replica now holds the key's fetch lease (else another replica does).
    Miss { tag: Vec<u8>, leased: bool },
    /// A value stored under the current generations whose lifetime ran out `expired` ago (at
    /// most: Redis answered later), kept in the tier for the stale windows of the replica that
    /// wrote it; `leased` as for a miss (the key is to be fetched anew).
    Stale {
        payload: Vec<u8>,
        expired: Duration,
        tag: Vec<u8>,
        leased: bool,
    },
    /// The tier could not answer in time, or is closed: fetch, and write nothing.
    Unavailable,
}

/// A boxed read, so that the trait stays object safe: the miss it serves is an upstream call.
pub(crate) type ReadFuture = Pin<Box<dyn Future<Output = TierRead> + Send>>;

/// A boxed write: `Some(stored)`, or `None` if Redis did not answer.
pub(crate) type WriteFuture = Pin<Box<dyn Future<Output = Option<bool>> + Send>>;

/// How long a value written to the tier lives: `fresh`, its lifetime, then `window` more in
/// which a replica may serve it stale (the longer of the writer's stale windows).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Life {
    pub(crate) fresh: Duration,
    pub(crate) window: Duration,
}

/// The tier, as the caches see it.
pub(crate) trait TierStore: Send + Sync {
    /// Reads the value at `at`, taking the key's fetch lease for `lease` if there is none.
    fn read(&self, at: TierKey<'_>, lease: Duration) -> ReadFuture;
    /// Writes `payload` at `at` for `lifetime` if `tag` is still current, kept `window` longer
    /// to be served stale, and gives the lease back (the caller runs it in the background).
    fn write(&self, at: TierKey<'_>, tag: Vec<u8>, payload: Vec<u8>, life: Life) -> WriteFuture;
    /// Gives the key's fetch lease back (the fetch failed or was abandoned), in the background.
    fn release(&self, at: TierKey<'_>);
    /// What is notified (`notify_waiters`) when another replica writes the value at `at` or
    /// gives its lease back: a waiter enables a `notified()` before each read, and reads again
    /// once woken (or once its poll's pause ends: a notification can be lost).
    fn watch(&self, at: TierKey<'_>) -> std::sync::Arc<tokio::sync::Notify>;
    /// Whether the tier may be used now: the backplane is healthy and every invalidation made
    /// here has reached Redis (until then a read could find a value invalidated here).
    fn usable(&self) -> bool;
}

static TIER: OnceLock<&'static dyn TierStore> = OnceLock::new();

/// Sets the tier, once (by the backplane's `install`).
pub(crate) fn set_tier(tier: &'static dyn TierStore) {
    let _ = TIER.set(tier);
}

/// The tier, once installed.
pub(crate) fn tier() -> Option<&'static dyn TierStore> {
    TIER.get().copied()
}

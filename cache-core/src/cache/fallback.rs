//! Stale-if-error on the miss path: the expired value a failed fetch falls back on.
//!
//! A leader whose key had an expired node inside the stale-if-error window when its fetch
//! began keeps that node in its flight ([`set_fallback`](Core::set_fallback)); if the fetch
//! returns an outcome that is not stored (an `Err`) or panics, the flight's [`Lead`] asks the
//! cache ([`Settle::stale_on_error`](crate::engine::flight::Settle::stale_on_error)), which
//! answers the leader and its waiters with the node's value, not stored, if it is still inside
//! its window, still current and still stored ([`serve_on_error`](Inner::serve_on_error)). An
//! invalidation removes the node and takes its value out before it returns, so a value from
//! before an invalidation is never served this way either.
//!
//! Fail-safe throttling is here too: serving stale on error leaves the key's upstream alone
//! for the throttle (or an error's retry hint), and until then a miss of that key is answered
//! with the expired value before any fetch begins ([`throttled`](Inner::throttled)); the state
//! lives on the node (`engine/throttle.rs`), so an invalidation, which removes the node, ends it.
//!
//! The windows themselves are in `engine/expiry.rs`; serving stale *while revalidating*, which
//! runs before the miss path rather than inside it, is a feature above: `features/stale.rs`.

use std::hash::Hash;
use std::time::Duration;

use crate::engine::clock::Instant;

use super::trace;
use super::{Core, Inner};
use crate::engine::expiry::within;
use crate::engine::flight::Flight;
#[cfg(doc)]
use crate::engine::flight::Lead;
use crate::engine::hook::HookPoint;
use crate::engine::node::NodeRef;
use crate::engine::probe::KnownHash;
use crate::engine::stats::bump;
use crate::keys::lookup::KeyLookup;

impl<G, K> Core<G, K>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Gives `flight`, just led, the key's expired node to fall back on if it is inside the
    /// stale-if-error window (see [`Lead::panicked`] and `Lead::finish`).
    pub(crate) fn set_fallback<P>(&self, flight: &Flight<G, K>, probe: &P)
    where
        P: ?Sized + KeyLookup<G, K> + KnownHash,
    {
        if self.stale.if_error.is_zero() {
            return;
        }
        let fallback = self
            .store
            .peek_current(probe, flight.stamp.epoch)
            .filter(|node| within(node.expires_at, self.stale.if_error, Instant::now()));
        if let Some(node) = fallback {
            // Set once, by the leader, before its fetch runs.
            let _ = flight.fallback.set(node);
        }
    }

    /// Whether `node` may be served on error at `now`: still inside its stale-if-error window
    /// and still current (the caller then reads its value, `None` once it left the index).
    fn may_serve_on_error(&self, node: &NodeRef<G, K>, now: Instant) -> bool {
        node.is_current(self.current_epoch()) && within(node.expires_at, self.stale.if_error, now)
    }

    /// `node`'s value was served on error: counted, traced, and its upstream left alone.
    fn served_on_error(
        &self,
        node: &NodeRef<G, K>,
        now: Instant,
        panicked: bool,
        retry_after: Option<Duration>,
    ) {
        bump(&self.store.counters.stale_on_error, 1);
        trace::stale_on_error(self.name(), panicked);
        self.throttle(node, now, self.fail_safe.throttle, retry_after);
    }

    /// Leaves `node`'s upstream alone for `period`, or `retry_after` if longer (counted as a
    /// retry hint honoured).
    pub(crate) fn throttle(
        &self,
        node: &NodeRef<G, K>,
        now: Instant,
        period: Duration,
        retry_after: Option<Duration>,
    ) {
        let hinted = retry_after.filter(|after| *after > period);
        if hinted.is_some() {
            bump(&self.store.counters.retry_hints, 1);
        }
        let period = hinted.unwrap_or(period);
        if node.throttle.extend(node.expires_at, now, period) {
            let ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
            trace::throttle_armed(self.name(), ms, hinted.is_some());
        }
    }

    /// The node whose expired value a miss of `probe`'s key is answered with under fail-safe
    /// throttling, if any: a failure left its upstream alone until after now, it is inside its
    /// stale-if-error window and current, and no invalidation of it is in progress. The caller
    /// reads the value last ([`throttled`](Inner::throttled)).
    fn throttling<P>(&self, probe: &P) -> Option<NodeRef<G, K>>
    where
        P: ?Sized + KeyLookup<G, K> + KnownHash,
    {
        if self.stale.if_error.is_zero() {
            return None;
        }
        let node = self.store.peek_current(probe, self.current_epoch())?;
        let now = Instant::now();
        if !node.throttle.holds(node.expires_at, now)
            || !within(node.expires_at, self.stale.if_error, now)
            || self.fenced(&node.group, probe.key_hash())
        {
            return None;
        }
        self.hooks.at_sync(HookPoint::Throttled);
        Some(node)
    }
}

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Stale-if-error, once the fetch failed: `node`'s value if it is still inside its window,
    /// still current and still stored (an invalidation removes it before it returns). The
    /// upstream is then left alone for the fail-safe throttle, or `retry_after` if longer.
    pub(crate) fn serve_on_error(
        &self,
        node: &NodeRef<G, K>,
        panicked: bool,
        retry_after: Option<Duration>,
    ) -> Option<V> {
        let now = Instant::now();
        if !self.may_serve_on_error(node, now) {
            return None;
        }
        // `None` once the node left the index, whatever the reason.
        let value = node.value::<V>()?;
        self.served_on_error(node, now, panicked, retry_after);
        Some(value)
    }

    /// Fail-safe throttling, on the miss path before a fetch begins: the expired value of
    /// `probe`'s key if a failure left its upstream alone until after now, the value still
    /// inside its stale-if-error window, current and stored, and no invalidation of it in
    /// progress. The value is read last: an invalidation that returned before this call began
    /// took it out of the node, so it is never served after one (see `engine/throttle.rs`).
    pub(crate) fn throttled<P>(&self, probe: &P) -> Option<V>
    where
        P: ?Sized + KeyLookup<G, K> + KnownHash,
    {
        let node = self.throttling(probe)?;
        let value = node.value::<V>()?;
        bump(&self.store.counters.throttled, 1);
        trace::throttled(self.name());
        Some(value)
    }
}

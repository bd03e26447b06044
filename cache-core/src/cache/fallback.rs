//! Stale-if-error on the miss path: the expired value a failed fetch falls back on.
//!
//! A leader whose key had an expired node inside the stale-if-error window when its fetch
//! began keeps that node in its flight ([`with_fallback`](Inner::with_fallback)); if the fetch
//! returns an outcome that is not stored (an `Err`) or panics, the flight's [`Lead`] asks the
//! cache ([`Settle::stale_on_error`](crate::engine::flight::Settle::stale_on_error)), which
//! answers the leader and its waiters with the node's value, not stored, if it is still inside
//! its window, still current and still stored ([`serve_on_error`](Inner::serve_on_error)). An
//! invalidation removes the node and takes its value out before it returns, so a value from
//! before an invalidation is never served this way either.
//!
//! The windows themselves are in `engine/expiry.rs`; serving stale *while revalidating*, which
//! runs before the miss path rather than inside it, is a feature above: `features/stale.rs`.

use std::hash::Hash;

use crate::engine::clock::Instant;

use super::trace;
use super::Inner;
use crate::engine::expiry::within;
use crate::engine::flight::Lead;
use crate::engine::node::Node;
use crate::engine::probe::KnownHash;
use crate::engine::stats::bump;
use crate::keys::lookup::KeyLookup;

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Gives `lead` the key's expired node to fall back on if it is inside the stale-if-error
    /// window (see [`Lead::panicked`] and `Lead::finish`).
    pub(crate) fn with_fallback<'c, P>(
        &self,
        lead: Lead<'c, G, K, V>,
        probe: &P,
    ) -> Lead<'c, G, K, V>
    where
        P: ?Sized + KeyLookup<G, K> + KnownHash,
    {
        if self.stale.if_error.is_zero() {
            return lead;
        }
        let fallback = self
            .store
            .peek_current(probe, lead.flight.stamp.epoch)
            .filter(|node| within(node.expires_at, self.stale.if_error, Instant::now()));
        if let Some(node) = fallback {
            // Set once, by the leader, before its fetch runs.
            let _ = lead.flight.fallback.set(node);
        }
        lead
    }

    /// Stale-if-error, once the fetch failed: `node`'s value if it is still inside its window,
    /// still current and still stored (an invalidation removes it before it returns).
    pub(crate) fn serve_on_error(&self, node: &Node<G, K, V>, panicked: bool) -> Option<V> {
        if !node.is_current(self.current_epoch())
            || !within(node.expires_at, self.stale.if_error, Instant::now())
        {
            return None;
        }
        // `None` once the node left the index, whatever the reason.
        let value = node.value()?;
        bump(&self.store.counters.stale_on_error, 1);
        trace::stale_on_error(self.name(), panicked);
        Some(value)
    }
}

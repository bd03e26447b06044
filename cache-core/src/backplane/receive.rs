//! Receiving: a message from another replica applied to the cache or scope it names, through
//! the [`ApplyRemote`] it joined with.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use super::health::COUNTERS;
use super::message::{Kind, Message};
use crate::seam::{self, ApplyRemote};

/// The cache or scope `target` names, for a message of `kind`.
fn target(kind: Kind, target: &str) -> Option<Arc<dyn ApplyRemote>> {
    if kind == Kind::Scope {
        seam::scope(target)
    } else {
        seam::cache(target)
    }
}

/// Applies a message from another replica.
pub(super) fn apply(message: &Message<'_>) {
    let Some(receiver) = target(message.kind, message.target) else {
        // Not created here: nothing stored, nothing in flight.
        COUNTERS.unknown_target.fetch_add(1, SeqCst);
        return;
    };
    let decoded = match message.kind {
        Kind::Group | Kind::Scope => receiver.group(message.group),
        Kind::Key => receiver.key(message.group, message.key),
        Kind::Clear => {
            receiver.clear();
            true
        }
    };
    if decoded {
        COUNTERS.applied.fetch_add(1, SeqCst);
    } else {
        reject(message.kind, message.target);
    }
}

/// A message whose body did not decode: clears what it named (fail closed).
/// Counted once the clear is done, so that whoever sees the count sees the clear.
pub(super) fn reject(kind: Kind, name: &str) {
    tracing::warn!(target: "cache_core::backplane", cache = name, "undecodable invalidation: cleared instead");
    if let Some(receiver) = target(kind, name) {
        receiver.clear();
    }
    COUNTERS.rejected.fetch_add(1, SeqCst);
}

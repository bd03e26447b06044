//! Publishing: the backplane as an [`Observer`] of every cache's invalidations, each sent as
//! one message through the publisher task (`task.rs`), and the gate a cache that takes part asks
//! before each store.

use std::sync::OnceLock;

use super::health::storing_allowed;
use super::message::{Kind, Message};
use super::task::Outgoing;
use crate::seam::{Delivery, Invalidation, Observer, PublishError};

/// The installed backplane's outbox: this replica's id and the publisher task's queue.
#[derive(Debug)]
pub(super) struct Outbox {
    pub(super) replica_id: String,
    pub(super) outgoing: tokio::sync::mpsc::UnboundedSender<Outgoing>,
}

/// Set once, by `install`.
pub(super) static OUTBOX: OnceLock<Outbox> = OnceLock::new();

/// The backplane as the caches' observer: subscribed by `install`.
#[derive(Debug)]
pub(super) struct Publisher;

impl Observer for Publisher {
    fn invalidated(&self, target: &str, what: Invalidation<'_>) -> Option<Delivery> {
        let (kind, group, key): (Kind, &[u8], &[u8]) = match what {
            Invalidation::Group(group) => (Kind::Group, group, &[]),
            // A value replaced here: the other replicas drop their own and fetch it anew.
            Invalidation::Key(group, key) | Invalidation::Replaced(group, key) => {
                (Kind::Key, group, key)
            }
            Invalidation::Clear => (Kind::Clear, &[], &[]),
            Invalidation::Scope(group) => (Kind::Scope, group, &[]),
        };
        send(kind, target, group, key)
    }

    fn storing_allowed(&self) -> bool {
        storing_allowed()
    }
}

/// Sends one message; `None` when no backplane is installed.
fn send(kind: Kind, target: &str, group: &[u8], key: &[u8]) -> Option<Delivery> {
    let outbox = OUTBOX.get()?;
    let payload = Message {
        kind,
        origin: &outbox.replica_id,
        target,
        group,
        key,
    }
    .encode();
    let (done, delivery) = Delivery::pending();
    if outbox
        .outgoing
        .send(Outgoing {
            payload,
            done: Some(done),
        })
        .is_err()
    {
        return Some(Delivery::Failed(PublishError::Closed));
    }
    Some(delivery)
}

//! Publishing: the backplane as an [`Observer`] of every cache's invalidations, each queued as
//! one message for the publisher task (`task.rs`), which retries it until delivered; and the
//! gate a cache that takes part asks before each store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::oneshot;

use super::health::{storing_allowed, wall_micros, COUNTERS};
use super::message::{Kind, Message};
use crate::seam::{Delivery, Invalidation, Observer, PublishError};

type Done = oneshot::Sender<Result<(), PublishError>>;

/// One message for the publisher task.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) payload: Vec<u8>,
    pub(super) done: Option<Done>,
    /// For a clear published in place of messages the full queue refused: whose waiters its
    /// delivery answers.
    pub(super) covers: Option<(Kind, String)>,
    /// The keys of the shared tier's generation this message bumps (feature `redis-tier`):
    /// its cache's tier life and the generation (`tier.rs`).
    pub(super) generation: Option<[String; 2]>,
}

/// The installed backplane's outbox: this replica's id and instance, and the publisher task's
/// queue, bounded by `limit` messages.
#[derive(Debug)]
pub(super) struct Outbox {
    pub(super) replica_id: String,
    /// The keys' prefix, for the shared tier's generations.
    #[cfg(feature = "redis-tier")]
    pub(super) prefix: String,
    pub(super) instance: u64,
    pub(super) outgoing: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    pub(super) limit: usize,
    /// How long `Invalidated::published` waits for a delivery before it reports `Queued`.
    pub(super) patience: Duration,
    pub(super) queued: AtomicUsize,
    /// The targets (cache or scope) whose clear is queued in place of refused messages, and
    /// those messages' waiters.
    pub(super) overflowed: Mutex<HashMap<(Kind, String), Vec<Done>>>,
    pub(super) last_error: Mutex<String>,
}

impl Outbox {
    /// The publisher delivered `outgoing`: its waiter, and those of the messages it stands for,
    /// are told.
    pub(super) fn delivered(&self, outgoing: Outgoing) {
        self.queued.fetch_sub(1, SeqCst);
        // The caller may not be waiting: nothing to do then.
        if let Some(done) = outgoing.done {
            let _ = done.send(Ok(()));
        }
        if let Some(target) = outgoing.covers {
            let waiters = self
                .overflowed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&target);
            for done in waiters.into_iter().flatten() {
                let _ = done.send(Ok(()));
            }
        }
    }

    pub(super) fn last_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }
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

fn encode(outbox: &Outbox, kind: Kind, target: &str, group: &[u8], key: &[u8]) -> Vec<u8> {
    Message {
        kind,
        origin: &outbox.replica_id,
        target,
        group,
        key,
        instance: outbox.instance,
        sent_micros: wall_micros(),
    }
    .encode()
}

/// The shared tier's generation a message bumps (`tier.rs`).
#[cfg(feature = "redis-tier")]
fn generation(
    outbox: &Outbox,
    kind: Kind,
    target: &str,
    group: &[u8],
    key: &[u8],
) -> Option<[String; 2]> {
    super::tier_keys::generation_keys(&outbox.prefix, kind, target, group, key)
}

/// Without the shared tier, no generations.
#[cfg(not(feature = "redis-tier"))]
fn generation(_: &Outbox, _: Kind, _: &str, _: &[u8], _: &[u8]) -> Option<[String; 2]> {
    None
}

/// Queues one message; `None` when no backplane is installed. A full queue takes, in place of
/// the message, one clear of its cache (or scope) for all the messages it refuses until that
/// clear is delivered.
fn send(kind: Kind, target: &str, group: &[u8], key: &[u8]) -> Option<Delivery> {
    let outbox = OUTBOX.get()?;
    let (done, outcome) = oneshot::channel();
    let outgoing = if outbox.queued.load(SeqCst) < outbox.limit {
        Outgoing {
            payload: encode(outbox, kind, target, group, key),
            done: Some(done),
            covers: None,
            generation: generation(outbox, kind, target, group, key),
        }
    } else {
        COUNTERS.publish_failures.fetch_add(1, SeqCst);
        // A scope's caches are cleared by a scope message no replica decodes (`receive.rs`).
        let (kind, group): (Kind, &[u8]) = if kind == Kind::Scope {
            (Kind::Scope, &[0xff])
        } else {
            (Kind::Clear, &[])
        };
        let mut overflowed = outbox
            .overflowed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let waiters = overflowed.entry((kind, target.to_owned())).or_default();
        waiters.push(done);
        if waiters.len() > 1 {
            // Its clear is queued already.
            return Some(bounded(outbox, outcome));
        }
        Outgoing {
            payload: encode(outbox, kind, target, group, &[]),
            done: None,
            covers: Some((kind, target.to_owned())),
            generation: generation(outbox, kind, target, group, &[]),
        }
    };
    outbox.queued.fetch_add(1, SeqCst);
    if outbox.outgoing.send(outgoing).is_err() {
        outbox.queued.fetch_sub(1, SeqCst);
        return Some(Delivery::Failed(PublishError::Closed));
    }
    Some(bounded(outbox, outcome))
}

/// What `Invalidated::published` awaits: the delivery, or `Queued` once the heartbeat timeout
/// passed without it (the message stays queued).
fn bounded(
    outbox: &'static Outbox,
    outcome: oneshot::Receiver<Result<(), PublishError>>,
) -> Delivery {
    let patience = outbox.patience;
    Delivery::Future(Box::pin(async move {
        match tokio::time::timeout(patience, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(PublishError::Closed),
            Err(_) => Err(PublishError::Queued(
                outbox
                    .last_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            )),
        }
    }))
}

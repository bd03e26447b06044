//! The backplane's two tasks: the publisher (invalidations, in order, retried) and the
//! subscriber (messages, heartbeat, health).

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, timeout, Instant};

use super::health::{clear_every_cache, go_down, go_healthy, COUNTERS};
use super::message::Message;
use super::receive;
use crate::seam::PublishError;

/// Attempts per invalidation message before it is reported as failed.
const ATTEMPTS: u32 = 3;

#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) payload: Vec<u8>,
    pub(super) done: Option<oneshot::Sender<Result<(), PublishError>>>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) client: redis::Client,
    pub(super) channel: String,
    pub(super) beat_channel: String,
    pub(super) replica_id: String,
    pub(super) every: Duration,
    pub(super) timeout: Duration,
}

impl Shared {
    /// A connection manager (reconnects by itself), every step bounded by the heartbeat
    /// timeout so that a frozen server cannot stall the caller.
    async fn manager(&self) -> Result<ConnectionManager, String> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        match timeout(
            self.timeout,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(manager)) => Ok(manager),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("connection timed out".to_owned()),
        }
    }

    async fn publish(
        &self,
        manager: &mut Option<ConnectionManager>,
        channel: &str,
        payload: &[u8],
    ) -> Result<(), String> {
        if manager.is_none() {
            *manager = Some(self.manager().await?);
        }
        let Some(conn) = manager.as_mut() else {
            return Err("no connection".to_owned());
        };
        let mut command = redis::cmd("PUBLISH");
        command.arg(channel).arg(payload);
        match timeout(self.timeout, command.query_async::<i64>(conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("publish timed out".to_owned()),
        }
    }
}

/// Publishes the invalidations in the order they were made, each retried, each outcome sent
/// back to its `Invalidated`.
pub(super) async fn publisher(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<Outgoing>) {
    let mut manager = None;
    while let Some(outgoing) = queue.recv().await {
        let mut outcome = Err(String::new());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                COUNTERS.publish_retries.fetch_add(1, SeqCst);
                sleep(shared.every / 4).await;
            }
            outcome = shared
                .publish(&mut manager, &shared.channel, &outgoing.payload)
                .await;
            if outcome.is_ok() {
                break;
            }
            // Start from a fresh connection on the next attempt.
            manager = None;
        }
        let outcome = match outcome {
            Ok(()) => {
                COUNTERS.published.fetch_add(1, SeqCst);
                Ok(())
            }
            Err(e) => {
                COUNTERS.publish_failures.fetch_add(1, SeqCst);
                tracing::warn!(target: "cache_core::backplane", error = %e, "invalidation not published after {ATTEMPTS} attempts");
                Err(PublishError::Failed(e))
            }
        };
        if let Some(done) = outgoing.done {
            // The caller may not be waiting: nothing to do then.
            let _ = done.send(outcome);
        }
    }
}

/// Subscribes, applies messages and watches the heartbeat; on any doubt, closes the caches and
/// subscribes again.
pub(super) async fn subscriber(shared: Arc<Shared>) {
    loop {
        if let Err(e) = session(&shared).await {
            tracing::warn!(target: "cache_core::backplane", error = %e, "subscription unhealthy: caches closed");
        }
        go_down();
        sleep(shared.every).await;
    }
}

/// Aborts the heartbeat task when its session ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends a heartbeat every interval on a connection of its own; each must come back through
/// the subscription within the timeout.
async fn beat(shared: Arc<Shared>) {
    let mut manager = None;
    let mut seq: u64 = 0;
    loop {
        seq += 1;
        if shared
            .publish(&mut manager, &shared.beat_channel, &seq.to_le_bytes())
            .await
            .is_err()
        {
            manager = None;
        }
        sleep(shared.every).await;
    }
}

/// One subscription, from connecting to its loss.
async fn session(shared: &Arc<Shared>) -> Result<(), String> {
    let mut pubsub = match timeout(shared.timeout, shared.client.get_async_pubsub()).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("connection timed out".to_owned()),
    };
    let subscribe = async {
        pubsub.subscribe(&shared.channel).await?;
        pubsub.subscribe(&shared.beat_channel).await
    };
    match timeout(shared.timeout, subscribe).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("subscribe timed out".to_owned()),
    }
    // Subscribed: every message published from here on reaches us. What was published before
    // is lost, so what the caches hold goes before they serve again.
    go_healthy();
    let mut stream = pubsub.into_on_message();
    let _beat = AbortOnDrop(tokio::spawn(beat(Arc::clone(shared))));
    let mut last_beat = Instant::now();
    loop {
        // Overdue exactly `timeout` after the last heartbeat came back: a frozen server or a
        // dead connection is noticed within the timeout of its last sign of life.
        let overdue = tokio::time::sleep_until(last_beat + shared.timeout);
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err("subscription connection closed".to_owned());
                };
                if message.get_channel_name() == shared.beat_channel {
                    last_beat = Instant::now();
                    continue;
                }
                receive(shared, message.get_payload_bytes());
            }
            () = overdue => {
                COUNTERS.heartbeats_late.fetch_add(1, SeqCst);
                return Err("heartbeat overdue".to_owned());
            }
        }
    }
}

fn receive(shared: &Shared, payload: &[u8]) {
    COUNTERS.received.fetch_add(1, SeqCst);
    match Message::decode(payload) {
        Ok(message) if message.origin == shared.replica_id => {
            COUNTERS.ignored_own.fetch_add(1, SeqCst);
        }
        Ok(message) => receive::apply(&message),
        Err(Some((kind, target))) => receive::reject(kind, target),
        // Not even the target is readable (another format version): clear everything.
        Err(None) => {
            COUNTERS.rejected.fetch_add(1, SeqCst);
            tracing::warn!(target: "cache_core::backplane", "unreadable invalidation: every cache cleared");
            clear_every_cache();
        }
    }
}

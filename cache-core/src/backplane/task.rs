//! The backplane's tasks: the publisher (invalidations, in order, appended to the log and
//! published by one script, retried until delivered) and the subscriber (messages, the log's
//! replay after a gap in the subscription, the heartbeat, the lease).

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Value;
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};

use super::endpoint::Endpoint;
use super::health::{applied_after, clear_every_cache, go_down, go_healthy, COUNTERS};
use super::log::{self, LogId, Position};
use super::message::{Framed, Message};
use super::publish::{Outgoing, OUTBOX};
use super::receive;
use crate::seam;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) endpoint: Endpoint,
    pub(super) channel: String,
    pub(super) log_key: String,
    pub(super) epoch_key: String,
    pub(super) replica_key: String,
    pub(super) beat_channel: String,
    /// Where the shared tier says a value was written or a fetch lease given back (feature
    /// `redis-tier`): the replicas waiting on that key read it again at once.
    #[cfg(feature = "redis-tier")]
    pub(super) tier_channel: String,
    pub(super) instance: u64,
    pub(super) every: Duration,
    pub(super) timeout: Duration,
    pub(super) log_length: usize,
}

impl Shared {
    /// A connection manager (reconnects by itself), every step bounded by the heartbeat
    /// timeout so that a frozen server cannot stall the caller.
    pub(super) async fn manager(&self) -> Result<ConnectionManager, String> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        let client = self.endpoint.client().await?;
        bounded(
            self.timeout,
            ConnectionManager::new_with_config(client, config),
        )
        .await
    }

    /// The connection in `manager`, made if there is none.
    async fn connection<'m>(
        &self,
        manager: &'m mut Option<ConnectionManager>,
    ) -> Result<&'m mut ConnectionManager, String> {
        if manager.is_none() {
            *manager = Some(self.manager().await?);
        }
        manager.as_mut().ok_or_else(|| "no connection".to_owned())
    }

    /// Appends one message to the log and publishes it on the channel, framed with its id.
    async fn append(
        &self,
        manager: &mut Option<ConnectionManager>,
        payload: &[u8],
        generation: Option<&[String; 2]>,
    ) -> Result<(), String> {
        let conn = self.connection(manager).await?;
        let script = log::append_script();
        let mut call = script.key(&self.epoch_key);
        call.key(&self.log_key);
        if let Some([life, generation]) = generation {
            call.key(life).key(generation);
        }
        call.arg(payload)
            .arg(self.log_length)
            .arg(log::fresh_epoch())
            .arg(&self.channel);
        bounded(self.timeout, call.invoke_async::<Value>(conn))
            .await
            .map(drop)
    }

    /// One heartbeat: when it was sent, on this process's clock, back through the subscription.
    async fn beat(&self, manager: &mut Option<ConnectionManager>) -> Result<(), String> {
        let conn = self.connection(manager).await?;
        let mut payload = self.instance.to_le_bytes().to_vec();
        payload.extend_from_slice(&seam::lease_clock_now().to_le_bytes());
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.beat_channel).arg(payload);
        bounded(self.timeout, publish.query_async::<i64>(conn)).await?;
        // This replica's id, claimed for a few timeouts: another process holding it is told.
        let mut claim = redis::cmd("SET");
        claim
            .arg(&self.replica_key)
            .arg(self.instance)
            .arg("PX")
            .arg(u64::try_from(self.timeout.as_millis() * 4).unwrap_or(u64::MAX))
            .arg("GET");
        let previous: Option<u64> = bounded(self.timeout, claim.query_async(conn)).await?;
        if previous.is_some_and(|other| other != self.instance) {
            COUNTERS.duplicate_ids.fetch_add(1, SeqCst);
            tracing::error!(target: "cache_core::backplane", key = %self.replica_key, "another process uses this replica id: give each replica its own (both still apply each other's invalidations)");
        }
        Ok(())
    }
}

/// `future`, failing after `limit`, its error as text.
async fn bounded<T, E: std::fmt::Display>(
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Delivers the invalidations in the order they were made, each retried until delivered, each
/// outcome sent back to its `Invalidated`.
pub(super) async fn publisher(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<Outgoing>) {
    let mut manager = None;
    while let Some(outgoing) = queue.recv().await {
        let mut delay = Duration::from_millis(5);
        let mut failing = false;
        loop {
            match shared
                .append(
                    &mut manager,
                    &outgoing.payload,
                    outgoing.generation.as_ref(),
                )
                .await
            {
                Ok(()) => break,
                Err(e) => {
                    // Start from a fresh connection on the next attempt.
                    manager = None;
                    COUNTERS.publish_retries.fetch_add(1, SeqCst);
                    if !failing {
                        failing = true;
                        tracing::warn!(target: "cache_core::backplane", error = %e, "invalidation not published yet: queued, retrying");
                    }
                    if let Some(outbox) = OUTBOX.get() {
                        outbox.last_error(e);
                    }
                    sleep(delay).await;
                    delay = (delay * 2).min(shared.every / 2);
                }
            }
        }
        COUNTERS.published.fetch_add(1, SeqCst);
        if let Some(outbox) = OUTBOX.get() {
            outbox.delivered(outgoing);
        }
    }
}

/// Subscribes, applies messages and watches the heartbeat; on any doubt, lets the lease lapse
/// and subscribes again, replaying the log from where it stopped.
pub(super) async fn subscriber(shared: Arc<Shared>) {
    let mut position = Position::default();
    loop {
        if let Err(e) = session(&shared, &mut position).await {
            tracing::warn!(target: "cache_core::backplane", error = %e, "subscription unhealthy: caches closed until it is back");
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
    loop {
        if shared.beat(&mut manager).await.is_err() {
            manager = None;
        }
        sleep(shared.every).await;
    }
}

/// One subscription, from connecting to its loss.
async fn session(shared: &Arc<Shared>, position: &mut Position) -> Result<(), String> {
    let client = bounded(shared.timeout, async { shared.endpoint.client().await }).await?;
    let mut pubsub = bounded(shared.timeout, client.get_async_pubsub()).await?;
    let subscribe = async {
        pubsub.subscribe(&shared.channel).await?;
        #[cfg(feature = "redis-tier")]
        pubsub.subscribe(&shared.tier_channel).await?;
        pubsub.subscribe(&shared.beat_channel).await
    };
    bounded(shared.timeout, subscribe).await?;
    // Subscribed: every message appended from here on reaches us on the channel. What was
    // appended while we were away is read from the log, or, if the log cannot tell, what the
    // caches hold goes.
    let mut manager = None;
    let conn = shared.connection(&mut manager).await?;
    catch_up(shared, conn, position).await?;
    drop(manager);
    let mut stream = pubsub.into_on_message();
    let _beat = AbortOnDrop(tokio::spawn(beat(Arc::clone(shared))));
    let mut last_beat = Instant::now();
    loop {
        // Overdue exactly `timeout` after the last heartbeat came back: a frozen server or a
        // dead connection is noticed within the timeout of its last sign of life (and the lease
        // lapses by then without us).
        let overdue = tokio::time::sleep_until(last_beat + shared.timeout);
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err("subscription connection closed".to_owned());
                };
                if message.get_channel_name() == shared.beat_channel {
                    if heartbeat(shared, message.get_payload_bytes()) {
                        last_beat = Instant::now();
                    }
                    continue;
                }
                #[cfg(feature = "redis-tier")]
                if message.get_channel_name() == shared.tier_channel {
                    super::tier_waiters::settled(message.get_payload_bytes());
                    continue;
                }
                on_channel(shared, position, message.get_payload_bytes());
            }
            () = overdue => {
                COUNTERS.heartbeats_late.fetch_add(1, SeqCst);
                return Err("heartbeat overdue".to_owned());
            }
        }
    }
}

/// A heartbeat came back: every message appended before it was sent has been applied (the
/// log's replay is done before the channel is read, and the channel keeps the order in which
/// the server ran the scripts), so the caches may serve until it was sent plus the timeout.
fn heartbeat(shared: &Shared, payload: &[u8]) -> bool {
    let Some((instance, sent)) = payload.split_at_checked(8).and_then(|(a, b)| {
        Some((
            u64::from_le_bytes(a.try_into().ok()?),
            u64::from_le_bytes(b.try_into().ok()?),
        ))
    }) else {
        return false;
    };
    if instance != shared.instance {
        return false;
    }
    seam::renew_lease(sent, shared.timeout);
    go_healthy();
    true
}

/// Where the log stands now against what this replica applied, and the replay (or clear) that
/// brings the caches up to it.
async fn catch_up(
    shared: &Shared,
    conn: &mut ConnectionManager,
    position: &mut Position,
) -> Result<(), String> {
    let script = log::connect_script();
    let mut call = script.key(&shared.epoch_key);
    call.key(&shared.log_key)
        .arg(log::fresh_epoch())
        .arg(position.applied.to_string());
    let state: log::State = bounded(shared.timeout, call.invoke_async::<Value>(conn))
        .await
        .and_then(|v| log::State::parse(&v))?;
    match position.gap(&state) {
        None => {
            let mut from = position.applied;
            while from < state.last {
                let mut range = redis::cmd("XRANGE");
                range
                    .arg(&shared.log_key)
                    .arg(format!("({from}"))
                    .arg(state.last.to_string())
                    .arg("COUNT")
                    .arg(log::REPLAY_BATCH);
                let reply: Value = bounded(shared.timeout, range.query_async(conn)).await?;
                let entries = log::entries(&reply)?;
                let Some(&(last, _)) = entries.last() else {
                    break;
                };
                for (_, payload) in &entries {
                    COUNTERS.replayed.fetch_add(1, SeqCst);
                    apply(shared, payload);
                }
                from = last;
            }
            COUNTERS.replays.fetch_add(1, SeqCst);
        }
        Some(gap) => {
            if gap == log::Gap::WentBack {
                // The log lost entries some replicas may not have read: a new epoch tells them.
                let mut bump = redis::cmd("SET");
                bump.arg(&shared.epoch_key).arg(log::fresh_epoch());
                bounded(shared.timeout, bump.query_async::<Value>(conn)).await?;
                tracing::warn!(target: "cache_core::backplane", "the invalidation log went back (a restore?): new epoch");
                return Err("the log went back".to_owned());
            }
            if position.epoch.is_some() {
                COUNTERS.gap_clears.fetch_add(1, SeqCst);
                tracing::warn!(target: "cache_core::backplane", why = ?gap, "the invalidation log cannot cover the gap: every attached cache cleared");
            }
            clear_every_cache();
        }
    }
    position.epoch = Some(state.epoch);
    position.applied = state.last;
    Ok(())
}

/// A message from the channel: applied unless the log's replay applied it already.
fn on_channel(shared: &Shared, position: &mut Position, payload: &[u8]) {
    let Some(framed) = Framed::split(payload) else {
        COUNTERS.received.fetch_add(1, SeqCst);
        tracing::warn!(target: "cache_core::backplane", "damaged frame: every cache cleared");
        clear_every_cache();
        // Counted once cleared: whoever sees the count sees the clear.
        COUNTERS.rejected.fetch_add(1, SeqCst);
        return;
    };
    if let Some(id) = framed.id {
        match id.parse::<LogId>() {
            Ok(id) if id <= position.applied => return,
            Ok(id) => position.applied = id,
            Err(()) => {}
        }
    }
    apply(shared, framed.message);
}

/// One message, from the channel or the log.
fn apply(shared: &Shared, payload: &[u8]) {
    COUNTERS.received.fetch_add(1, SeqCst);
    match Message::decode(payload) {
        Ok(message) if message.instance == shared.instance => {
            COUNTERS.ignored_own.fetch_add(1, SeqCst);
        }
        Ok(message) => {
            receive::apply(&message);
            applied_after(message.sent_micros);
        }
        Err(Some((kind, target))) => receive::reject(kind, target),
        // Not even the target is readable: clear everything.
        Err(None) => {
            tracing::warn!(target: "cache_core::backplane", "unreadable invalidation: every cache cleared");
            clear_every_cache();
            COUNTERS.rejected.fetch_add(1, SeqCst);
        }
    }
}

//! Installing the backplane: [`install`], once per process, and the [`Backplane`] it returns.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::endpoint::Endpoint;
use super::health::{go_down, health, Health};
use super::options::{BackplaneError, BackplaneOptions};
use super::publish::{Outbox, Publisher, OUTBOX};
use super::task;
use crate::seam;

/// The installed backplane, as returned by [`install`].
#[derive(Debug, Clone, Copy)]
pub struct Backplane {
    _private: (),
}

impl Backplane {
    /// This replica's id.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let bp = cache_core::backplane::install("redis://127.0.0.1:6379", Default::default()).unwrap();
    /// println!("{}", bp.replica_id());
    /// # }
    /// ```
    #[must_use]
    pub fn replica_id(&self) -> &'static str {
        OUTBOX.get().map_or("", |o| o.replica_id.as_str())
    }

    /// Waits until the subscription is healthy, at most `timeout`; whether it is.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// // Nothing listens on port 1: the replica stays closed, serving nothing from its caches.
    /// let bp = cache_core::backplane::install("redis://127.0.0.1:1", Default::default()).unwrap();
    /// assert!(!bp.wait_healthy(Duration::from_millis(200)).await);
    /// assert_eq!(cache_core::backplane::health(), cache_core::backplane::Health::Down);
    /// # }
    /// ```
    pub async fn wait_healthy(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if health() == Health::Healthy {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Installs the backplane for every cache in the process, from a `redis://` URL. Call it once,
/// at start-up, from within a tokio runtime (its tasks run there). From this call on, the
/// attached caches hold and store nothing until the subscription is healthy; see the
/// [module](super) documentation.
///
/// # Errors
///
/// [`BackplaneError::InvalidUrl`], [`AlreadyInstalled`](BackplaneError::AlreadyInstalled),
/// [`NoRuntime`](BackplaneError::NoRuntime), [`InvalidOption`](BackplaneError::InvalidOption).
/// An unreachable Redis is not an error: the replica stays closed and keeps trying.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use cache_core::backplane::{install, BackplaneError, BackplaneOptions};
/// assert!(matches!(
///     install("http://example.com", BackplaneOptions::default()),
///     Err(BackplaneError::InvalidUrl(_))
/// ));
/// # }
/// ```
pub fn install(url: &str, options: BackplaneOptions) -> Result<Backplane, BackplaneError> {
    let endpoint = Endpoint::parse(url, options.tls_root.as_deref())?;
    if options.heartbeat_every.is_zero() {
        return Err(BackplaneError::InvalidOption("zero heartbeat interval"));
    }
    if options.heartbeat_timeout <= options.heartbeat_every {
        return Err(BackplaneError::InvalidOption(
            "heartbeat timeout must exceed its interval",
        ));
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| BackplaneError::NoRuntime)?;
    let replica_id = options
        .replica_id
        .clone()
        .unwrap_or_else(default_replica_id);
    if options.log_length == 0 || options.publish_queue == 0 {
        return Err(BackplaneError::InvalidOption(
            "zero log length or publish queue",
        ));
    }
    if replica_id.len() > usize::from(u16::MAX) {
        return Err(BackplaneError::InvalidOption(
            "replica id over 65 535 bytes",
        ));
    }
    let (outgoing, queue) = tokio::sync::mpsc::unbounded_channel();
    let instance = instance();
    let mut fresh = false;
    OUTBOX.get_or_init(|| {
        fresh = true;
        Outbox {
            replica_id: replica_id.clone(),
            #[cfg(feature = "redis-tier")]
            prefix: options.prefix.clone(),
            instance,
            outgoing,
            limit: options.publish_queue,
            patience: options.heartbeat_timeout,
            queued: AtomicUsize::new(0),
            overflowed: Mutex::new(HashMap::new()),
            last_error: Mutex::new(String::new()),
        }
    });
    if !fresh {
        return Err(BackplaneError::AlreadyInstalled);
    }
    // Told every invalidation from here on, and asked before every store of a cache that takes
    // part: from here, such a cache stores only while the subscription is healthy...
    seam::subscribe(&Publisher);
    // ...which it is not yet: closed before anything is published or received.
    go_down();
    let shared = Arc::new(task::Shared {
        endpoint,
        channel: options.channel(),
        log_key: options.log_key(),
        epoch_key: options.epoch_key(),
        replica_key: format!("{}:replica:{replica_id}", options.prefix),
        beat_channel: format!("{}:heartbeat:{replica_id}:{instance:016x}", options.prefix),
        #[cfg(feature = "redis-tier")]
        tier_channel: format!("{}:tier-settled", options.prefix),
        instance,
        every: options.heartbeat_every,
        timeout: options.heartbeat_timeout,
        log_length: options.log_length,
    });
    #[cfg(feature = "redis-tier")]
    super::tier::install(Arc::clone(&shared), options.prefix.clone());
    runtime.spawn(task::publisher(Arc::clone(&shared), queue));
    runtime.spawn(task::subscriber(shared));
    Ok(Backplane { _private: () })
}

/// A random number for this process's messages and heartbeats, never 0 (version 1 messages).
fn instance() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish().max(1)
}

fn default_replica_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

//! The Redis backplane (feature `redis`): every invalidation reaches every replica, and a
//! replica that cannot trust the channel serves nothing from its caches.
//!
//! - [`install`] once at start-up, from a `redis://` URL and [`BackplaneOptions`]. Without it
//!   (or without the feature) caches behave exactly as they do alone.
//! - **Who takes part**: every `#[ttl_cached]` function's cache, under its name (`module::fn`,
//!   `module::Type::fn`), and every [`TtlCache`](crate::TtlCache) given a name with
//!   [`CacheBuilder::name`](crate::CacheBuilder::name) and [`attach`]ed. A second cache under a
//!   name already taken is refused: [`attach`] returns [`BackplaneError::DuplicateName`], and a
//!   `#[ttl_cached]` cache (which cannot return an error) stores nothing while the backplane is
//!   installed, counted in [`BackplaneStats::refused_names`]. An unnamed or unattached
//!   `TtlCache` does not take part: its invalidations stay local and it is never gated.
//! - **Publishing**: every invalidation (group, key, clear, scope, and a refresh, which
//!   invalidates its key on the other replicas) evicts locally first, then publishes a message:
//!   format version, cache or scope name, the group/key in the [`WireKey`] encoding, and this
//!   replica's id. A publish that fails is retried, then counted
//!   ([`BackplaneStats::publish_failures`]), logged (`tracing` warn) and reported through
//!   [`Invalidated::published`](crate::Invalidated::published).
//! - **Receiving**: a replica applies each message with the same invalidation a local call
//!   makes (the same generations and in-progress count, so a fetch running on the receiver is
//!   neither stored nor served afterwards), and ignores its own. A message it cannot decode
//!   clears what it was about (the whole cache; every cache for an unreadable message).
//! - **Fail closed**: while the subscription is not known to be healthy (not yet subscribed,
//!   dropped, or its heartbeat overdue) the attached caches hold nothing: they are cleared when
//!   the subscription is lost, and store nothing until it is back, so every call fetches
//!   (concurrent calls still share one fetch). On re-subscription they are cleared again before
//!   they store, since messages published meanwhile are lost (Redis pub/sub is at most once).
//!   The hit path checks nothing: an outage empties the caches instead.

mod link;
mod message;
mod task;

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use crate::keys::wire::WireKey;
pub use link::attach;
pub(crate) use link::{link_handle, link_scope, publish_scope, Delivery, Link};
pub(crate) use link::{publish_handle_clear, publish_handle_group, publish_handle_key};

/// Options of [`install`]: channel prefix, heartbeat, replica id.
///
/// ```
/// use cache_core::backplane::BackplaneOptions;
/// use std::time::Duration;
///
/// let options = BackplaneOptions::default()
///     .prefix("billing")
///     .heartbeat(Duration::from_millis(200), Duration::from_millis(600))
///     .replica_id("billing-7f9c");
/// assert_eq!(options.channel(), "billing:invalidations");
/// ```
#[derive(Debug, Clone)]
pub struct BackplaneOptions {
    prefix: String,
    heartbeat_every: Duration,
    heartbeat_timeout: Duration,
    replica_id: Option<String>,
}

impl Default for BackplaneOptions {
    fn default() -> Self {
        Self {
            prefix: "ttl_cached".to_owned(),
            heartbeat_every: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_millis(1500),
            replica_id: None,
        }
    }
}

impl BackplaneOptions {
    /// The channel prefix (default `"ttl_cached"`): replicas of one service share it, other
    /// services on the same Redis use their own.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// assert_eq!(BackplaneOptions::default().prefix("a").channel(), "a:invalidations");
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How often a heartbeat is sent through the subscription (default 500 ms), and how long
    /// the subscription may go without one coming back before it counts as unhealthy (default
    /// 1.5 s): the longest a frozen server, or a dead connection the client has not noticed,
    /// goes unnoticed.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// # use std::time::Duration;
    /// let o = BackplaneOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(3));
    /// assert_eq!(o.heartbeat_timeout(), Duration::from_secs(3));
    /// ```
    #[must_use]
    pub fn heartbeat(mut self, every: Duration, timeout: Duration) -> Self {
        self.heartbeat_every = every;
        self.heartbeat_timeout = timeout;
        self
    }

    /// The heartbeat timeout; see [`heartbeat`](Self::heartbeat).
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// # use std::time::Duration;
    /// assert_eq!(BackplaneOptions::default().heartbeat_timeout(), Duration::from_millis(1500));
    /// ```
    #[must_use]
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// This replica's id, carried by its messages so that it ignores its own (default: host
    /// process id, start time and a counter, unique per process).
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// let _ = BackplaneOptions::default().replica_id("api-1");
    /// ```
    #[must_use]
    pub fn replica_id(mut self, id: impl Into<String>) -> Self {
        self.replica_id = Some(id.into());
        self
    }

    /// The invalidation channel: `<prefix>:invalidations`.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// assert_eq!(BackplaneOptions::default().channel(), "ttl_cached:invalidations");
    /// ```
    #[must_use]
    pub fn channel(&self) -> String {
        format!("{}:invalidations", self.prefix)
    }
}

/// Why [`install`] or [`attach`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackplaneError {
    /// The URL is not a Redis URL the client accepts.
    InvalidUrl(String),
    /// A backplane is already installed in this process.
    AlreadyInstalled,
    /// `install` was called outside a tokio runtime.
    NoRuntime,
    /// An option is out of range (a zero heartbeat, a timeout not above the interval, an id
    /// or name over 65 535 bytes).
    InvalidOption(&'static str),
    /// A cache with this name already takes part.
    DuplicateName(String),
    /// The cache has no name of its own (give it one with `CacheBuilder::name`).
    Unnamed,
}

impl fmt::Display for BackplaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(e) => write!(f, "invalid Redis URL: {e}"),
            Self::AlreadyInstalled => f.write_str("a backplane is already installed"),
            Self::NoRuntime => f.write_str("install the backplane from within a tokio runtime"),
            Self::InvalidOption(what) => write!(f, "invalid backplane option: {what}"),
            Self::DuplicateName(name) => {
                write!(
                    f,
                    "a cache named `{name}` already takes part in the backplane"
                )
            }
            Self::Unnamed => f.write_str("only a named cache can take part in the backplane"),
        }
    }
}

impl std::error::Error for BackplaneError {}

/// Why an invalidation's message did not reach Redis: see
/// [`Invalidated::published`](crate::Invalidated::published). The local invalidation took
/// effect all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// Every attempt failed; the last error.
    Failed(String),
    /// The backplane's task is gone (its runtime shut down).
    Closed,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "invalidation not published: {e}"),
            Self::Closed => f.write_str("invalidation not published: the backplane is gone"),
        }
    }
}

impl std::error::Error for PublishError {}

/// Whether the attached caches may serve and store; see [`health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No backplane installed: caches behave as they do alone.
    NotInstalled,
    /// Installed, and the subscription is not known to be healthy: attached caches hold
    /// nothing and store nothing.
    Down,
    /// Subscribed, heartbeat on time.
    Healthy,
}

const NOT_INSTALLED: u8 = 0;
const DOWN: u8 = 1;
const HEALTHY: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(NOT_INSTALLED);

/// The subscription's health, as the attached caches see it.
///
/// ```
/// use cache_core::backplane::{health, Health};
/// assert_eq!(health(), Health::NotInstalled);
/// ```
#[must_use]
pub fn health() -> Health {
    match STATE.load(SeqCst) {
        NOT_INSTALLED => Health::NotInstalled,
        HEALTHY => Health::Healthy,
        _ => Health::Down,
    }
}

pub(crate) fn installed() -> bool {
    STATE.load(SeqCst) != NOT_INSTALLED
}

/// Whether an attached cache may store: not while installed and down.
pub(crate) fn storing_allowed() -> bool {
    STATE.load(SeqCst) != DOWN
}

/// Closes the gate, then empties the attached caches (a fetch that began before is then stale
/// by its epoch; one that begins after finds the gate closed when it stores).
fn go_down() {
    let was = STATE.swap(DOWN, SeqCst);
    if was == HEALTHY {
        COUNTERS.outages.fetch_add(1, SeqCst);
    }
    link::clear_all_attached();
}

/// Empties the attached caches, then opens the gate: what was stored before the outage, or
/// fetched during it, is gone before anything is stored again.
fn go_healthy() {
    link::clear_all_attached();
    COUNTERS.subscriptions.fetch_add(1, SeqCst);
    STATE.store(HEALTHY, SeqCst);
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    publish_retries: AtomicU64,
    publish_failures: AtomicU64,
    received: AtomicU64,
    applied: AtomicU64,
    ignored_own: AtomicU64,
    unknown_target: AtomicU64,
    rejected: AtomicU64,
    outages: AtomicU64,
    subscriptions: AtomicU64,
    refused_names: AtomicU64,
    heartbeats_late: AtomicU64,
}

static COUNTERS: Counters = Counters {
    published: AtomicU64::new(0),
    publish_retries: AtomicU64::new(0),
    publish_failures: AtomicU64::new(0),
    received: AtomicU64::new(0),
    applied: AtomicU64::new(0),
    ignored_own: AtomicU64::new(0),
    unknown_target: AtomicU64::new(0),
    rejected: AtomicU64::new(0),
    outages: AtomicU64::new(0),
    subscriptions: AtomicU64::new(0),
    refused_names: AtomicU64::new(0),
    heartbeats_late: AtomicU64::new(0),
};

/// The backplane's counters, since start-up; see [`stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackplaneStats {
    /// Invalidation messages published.
    pub published: u64,
    /// Publish attempts that failed and were retried.
    pub publish_retries: u64,
    /// Invalidations whose message could not be published after every retry.
    pub publish_failures: u64,
    /// Invalidation messages received (including this replica's own).
    pub received: u64,
    /// Messages applied to a local cache or scope.
    pub applied: u64,
    /// This replica's own messages, ignored.
    pub ignored_own: u64,
    /// Messages for a cache or scope this replica has not created: nothing to evict.
    pub unknown_target: u64,
    /// Messages that could not be decoded; what they were about was cleared instead.
    pub rejected: u64,
    /// Times a healthy subscription was lost (dropped, or heartbeat overdue).
    pub outages: u64,
    /// Times the subscription became healthy (the first included).
    pub subscriptions: u64,
    /// Caches refused for a name already taken.
    pub refused_names: u64,
    /// Heartbeats that did not come back in time.
    pub heartbeats_late: u64,
}

/// The backplane's counters.
///
/// ```
/// let stats = cache_core::backplane::stats();
/// assert_eq!(stats.publish_failures, 0);
/// ```
#[must_use]
pub fn stats() -> BackplaneStats {
    let c = &COUNTERS;
    BackplaneStats {
        published: c.published.load(SeqCst),
        publish_retries: c.publish_retries.load(SeqCst),
        publish_failures: c.publish_failures.load(SeqCst),
        received: c.received.load(SeqCst),
        applied: c.applied.load(SeqCst),
        ignored_own: c.ignored_own.load(SeqCst),
        unknown_target: c.unknown_target.load(SeqCst),
        rejected: c.rejected.load(SeqCst),
        outages: c.outages.load(SeqCst),
        subscriptions: c.subscriptions.load(SeqCst),
        refused_names: c.refused_names.load(SeqCst),
        heartbeats_late: c.heartbeats_late.load(SeqCst),
    }
}

/// The installed backplane: this replica's id and where it publishes.
#[derive(Debug)]
pub(crate) struct Installed {
    pub(crate) replica_id: String,
    pub(crate) outgoing: tokio::sync::mpsc::UnboundedSender<task::Outgoing>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

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
        INSTALLED.get().map_or("", |i| i.replica_id.as_str())
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
/// [module](self) documentation.
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
    let client = redis::Client::open(url).map_err(|e| BackplaneError::InvalidUrl(e.to_string()))?;
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
    if replica_id.len() > usize::from(u16::MAX) {
        return Err(BackplaneError::InvalidOption(
            "replica id over 65 535 bytes",
        ));
    }
    let (outgoing, queue) = tokio::sync::mpsc::unbounded_channel();
    let mut fresh = false;
    INSTALLED.get_or_init(|| {
        fresh = true;
        Installed {
            replica_id: replica_id.clone(),
            outgoing,
        }
    });
    if !fresh {
        return Err(BackplaneError::AlreadyInstalled);
    }
    // Closed before anything is published or received.
    go_down();
    let shared = Arc::new(task::Shared {
        client,
        channel: options.channel(),
        beat_channel: format!("{}:heartbeat:{replica_id}", options.prefix),
        replica_id,
        every: options.heartbeat_every,
        timeout: options.heartbeat_timeout,
    });
    runtime.spawn(task::publisher(Arc::clone(&shared), queue));
    runtime.spawn(task::subscriber(shared));
    Ok(Backplane { _private: () })
}

fn default_replica_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

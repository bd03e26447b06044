//! How the backplane is configured ([`BackplaneOptions`]), and why it refuses
//! ([`BackplaneError`]).

use std::fmt;
use std::time::Duration;

/// Options of [`install`](super::install): channel prefix, heartbeat, replica id.
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
    pub(super) prefix: String,
    pub(super) heartbeat_every: Duration,
    pub(super) heartbeat_timeout: Duration,
    pub(super) replica_id: Option<String>,
    pub(super) log_length: usize,
    pub(super) publish_queue: usize,
    pub(super) tls_root: Option<Vec<u8>>,
}

impl Default for BackplaneOptions {
    fn default() -> Self {
        Self {
            prefix: "ttl_cached".to_owned(),
            heartbeat_every: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_millis(1500),
            replica_id: None,
            log_length: 10_000,
            publish_queue: 10_000,
            tls_root: None,
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

    /// This replica's id, carried by its messages for the operators' sake (default: process id
    /// and start time). A replica recognises its own messages by a random instance number drawn
    /// at `install`, not by this id: two processes given the same id still apply each other's
    /// invalidations, and each heartbeat that finds its id claimed by another process counts
    /// in [`BackplaneStats::duplicate_ids`](super::BackplaneStats::duplicate_ids) and logs an
    /// error.
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

    /// How many entries the invalidation log keeps, at least (default 10 000; trimmed
    /// approximately, `XADD MAXLEN ~`): a replica away while the fleet made more invalidations
    /// than this clears its caches when it is back, instead of replaying them.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// let o = BackplaneOptions::default().log_length(100_000);
    /// assert_eq!(o.log_key(), "ttl_cached:log");
    /// ```
    #[must_use]
    pub fn log_length(mut self, entries: usize) -> Self {
        self.log_length = entries;
        self
    }

    /// How many invalidations may wait to be published while Redis is unreachable (default
    /// 10 000). Past it, each cache (or scope) whose invalidation is refused gets one clear
    /// queued in its place, published when Redis is back.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// let _ = BackplaneOptions::default().publish_queue(1_000);
    /// ```
    #[must_use]
    pub fn publish_queue(mut self, messages: usize) -> Self {
        self.publish_queue = messages;
        self
    }

    /// A CA certificate (PEM) to trust for a `rediss://` URL, besides the platform's roots and
    /// the Mozilla roots: for a Redis whose certificate a private CA signed. Only with the
    /// `redis-tls` feature.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// let pem = b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n".to_vec();
    /// let _ = BackplaneOptions::default().tls_root_certificate(pem);
    /// ```
    #[cfg(feature = "redis-tls")]
    #[must_use]
    pub fn tls_root_certificate(mut self, pem: Vec<u8>) -> Self {
        self.tls_root = Some(pem);
        self
    }

    /// The invalidation log, a Redis Stream: `<prefix>:log`.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// assert_eq!(BackplaneOptions::default().prefix("a").log_key(), "a:log");
    /// ```
    #[must_use]
    pub fn log_key(&self) -> String {
        format!("{}:log", self.prefix)
    }

    /// The log's epoch, a random value set by whoever first finds it missing: `<prefix>:epoch`.
    ///
    /// ```
    /// # use cache_core::backplane::BackplaneOptions;
    /// assert_eq!(BackplaneOptions::default().epoch_key(), "ttl_cached:epoch");
    /// ```
    #[must_use]
    pub fn epoch_key(&self) -> String {
        format!("{}:epoch", self.prefix)
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

/// Why [`install`](super::install) or [`attach`](super::attach) refused.
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
    /// or name over 65 535 bytes, a zero log length or publish queue).
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

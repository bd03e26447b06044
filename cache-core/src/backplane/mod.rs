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

// The top layer: it reaches the caches only through the seam (`seam/`), as the observer of
// their invalidations and stores (`publish.rs`), and through the way each cache joined the
// seam's roster to apply another replica's invalidation (`receive.rs`); `attach.rs` is the one
// door of the public API it calls. Nothing below names anything here.
//
// - options.rs: BackplaneOptions, BackplaneError;
// - install.rs: install(), which subscribes the observer and starts the tasks;
// - health.rs: the subscription's health (the gate before each store), the counters;
// - publish.rs: the observer, publishing each invalidation as one message;
// - task.rs: the publisher and subscriber tasks, the heartbeat;
// - receive.rs: a received message applied to the cache or scope it names;
// - message.rs: the wire format of a message.
mod attach;
mod endpoint;
mod health;
mod install;
mod log;
mod message;
mod options;
mod publish;
mod receive;
mod task;

pub use crate::keys::wire::WireKey;
pub use crate::seam::PublishError;
pub use attach::attach;
pub use health::{health, stats, BackplaneStats, Health};
pub use install::{install, Backplane};
pub use options::{BackplaneError, BackplaneOptions};

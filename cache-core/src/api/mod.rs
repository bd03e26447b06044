//! The public API.

pub(crate) mod builder;
pub(crate) mod flat;
pub(crate) mod handle;
#[cfg(feature = "redis")]
pub(crate) mod remote;
pub(crate) mod stats;
pub(crate) mod ttl_cache;

//! The engine.

pub(crate) mod eviction;
pub(crate) mod expiry;
pub(crate) mod fence;
pub(crate) mod flight;
pub(crate) mod group;
pub(crate) mod groups;
pub(crate) mod hook;
pub(crate) mod list;
pub(crate) mod node;
pub(crate) mod policy;
pub(crate) mod probe;
pub(crate) mod stats;
pub(crate) mod store;

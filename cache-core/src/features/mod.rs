//! The features.

pub(crate) mod refresh;
pub(crate) mod scope;
pub(crate) mod stale;

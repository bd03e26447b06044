//! Keys: what a cache key is made of, how a borrowed form finds an owned one, and how a key
//! crosses processes. The bottom layer: it uses nothing else of this crate.

pub(crate) mod borrowed;
pub(crate) mod lookup;
#[cfg(feature = "redis")]
pub(crate) mod wire;

//! Keys: what a cache key is made of, how a borrowed form finds the owned one, and how a key
//! crosses processes. The bottom layer: it uses nothing else of this crate, and everything
//! else may use it.
//!
//! - `borrowed.rs`: [`ToKey`](crate::ToKey) and [`Borrowed`](crate::Borrowed), the owned key
//!   built from a borrowed one on a miss;
//! - `lookup.rs`: the lookup contract, a borrowed view of a `(group, rest)` key that hashes and
//!   compares like the owned key (the engine finds entries by it);
//! - `wire.rs` (feature `redis`): [`WireKey`](crate::backplane::WireKey), the encoding of key
//!   parts that crosses processes, and the erased encoders the caches keep.
//!
//! The key parts `#[ttl_cached]` builds are in `parts.rs`, at the crate's root, with the rest of
//! what its expansions name.

pub(crate) mod borrowed;
pub(crate) mod lookup;
#[cfg(feature = "redis")]
pub(crate) mod wire;

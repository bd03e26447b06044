//! [`ApplyRemote`]: how an observer applies to a cache an invalidation that another replica
//! made.

/// Applies to one cache (or to every cache of a scope) an invalidation another replica made,
/// from its parts in the wire encoding: the same invalidation a local call makes (the same
/// generations and fences, so a fetch running here is neither stored nor served afterwards),
/// on this replica only (nothing is told back). Implemented where the cache's key types are
/// known (`api/remote.rs` for the caches, `features/scope.rs` for the scopes), and called by
/// the observers with what they received.
pub(crate) trait ApplyRemote: Send + Sync {
    /// Evicts the encoded group; `false` if the bytes do not decode (nothing was done).
    fn group(&self, group: &[u8]) -> bool;
    /// Evicts the encoded key; `false` if the bytes do not decode (nothing was done).
    fn key(&self, group: &[u8], key: &[u8]) -> bool;
    /// Evicts everything (a clear, or a message that did not decode).
    fn clear(&self);
    /// Whether the cache still exists (a dropped `TtlCache` frees its name).
    fn alive(&self) -> bool {
        true
    }
}

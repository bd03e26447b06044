//! [`Erased`]: a `#[ttl_cached]` function's cache with its types erased, beside its `TypeId`,
//! so that finding the typed cache again on a hit is a comparison with a constant.
//!
//! `<dyn Any>::downcast_ref` asks the value for its type through the vtable: a virtual call on
//! every call of every cached function. Here the type is recorded once, when the cache is made,
//! and the downcast compares it with `TypeId::of` the type asked for, known at compile time.
//! The one `unsafe` block of this module is the cast that `downcast_ref` makes itself once its
//! check passed.

#![allow(unsafe_code)]

use std::any::{Any, TypeId};
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::time::Duration;

use crate::cache::invalidated::Invalidated;
use crate::engine::snapshot::CacheStats;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the handle needs from a cache whose types it does not know.
pub(crate) trait ErasedCache: Any + Send + Sync {
    fn len(&self) -> usize;
    fn stats(&self) -> CacheStats;
    fn clear(&self) -> Invalidated<usize>;
    fn purge_expired(&self) -> BoxFuture<'_, usize>;
    fn invalidate_group(&self, group: &(dyn Any + Send + Sync)) -> Invalidated<usize>;
    fn invalidate_key(
        &self,
        group: &(dyn Any + Send + Sync),
        rest: &(dyn Any + Send + Sync),
    ) -> Invalidated<bool>;
    /// Upstream fetches running (one per flight), for the `metrics` feature's gauge.
    #[cfg(feature = "metrics")]
    fn fetches_in_flight(&self) -> usize;
    /// What its shared tier did, if it has one (`shared_tier = ..`).
    #[cfg(feature = "redis-tier")]
    fn tier(&self) -> Option<&crate::cache::tier::TierCounters>;
    /// Never zero: [`CacheHandle`](crate::CacheHandle) refuses zero first.
    fn set_ttl(&self, ttl: Duration);
    /// Never zero: [`CacheHandle`](crate::CacheHandle) refuses zero first.
    fn set_capacity(&self, capacity: usize);
}

/// A cache whose types are known only to itself, and the `TypeId` of its concrete type.
///
/// The fields are private to this module and set together in [`Erased::new`] only: `id` is
/// always the `TypeId` of the value behind `cache`, which is what [`Erased::downcast`] relies on.
pub(crate) struct Erased {
    id: TypeId,
    cache: Box<dyn ErasedCache>,
}

impl Erased {
    /// `cache`, boxed and erased, with its type's id.
    pub(crate) fn new<C: ErasedCache>(cache: C) -> Self {
        Self {
            id: TypeId::of::<C>(),
            cache: Box::new(cache),
        }
    }

    /// The cache as a `C`, if that is its concrete type.
    #[inline]
    pub(crate) fn downcast<C: ErasedCache>(&self) -> Option<&C> {
        if self.id == TypeId::of::<C>() {
            let erased: *const dyn ErasedCache = &*self.cache;
            // SAFETY: `id` is the `TypeId` of the value `cache` points to (both set in `new`,
            // from the same `C`, and never written again: the fields are private to this
            // module), and it equals `TypeId::of::<C>()`, so that value is a `C`. Casting the
            // fat pointer to a thin `*const C` keeps its address, the value's own (the box
            // holds it alone); it is aligned, initialized, and lives as long as `self`, which
            // the returned shared reference borrows. This is the cast
            // `<dyn Any>::downcast_ref` makes once its check passed; only the check differs
            // (a stored id instead of a virtual call).
            Some(unsafe { &*erased.cast::<C>() })
        } else {
            None
        }
    }
}

impl Deref for Erased {
    type Target = dyn ErasedCache;

    fn deref(&self) -> &Self::Target {
        &*self.cache
    }
}

#[cfg(test)]
mod tests {
    use super::Erased;
    use crate::cache::Inner;
    use crate::TtlCache;
    use std::time::Duration;

    fn cache<V: Clone + Send + Sync + 'static>() -> Inner<String, u32, V> {
        TtlCache::<String, u32, V>::builder()
            .ttl(Duration::from_secs(60))
            .build_inner()
            .expect("a valid configuration")
    }

    #[test]
    fn a_downcast_finds_the_concrete_type_and_nothing_else() {
        let erased = Erased::new(cache::<u64>());
        let typed = erased
            .downcast::<Inner<String, u32, u64>>()
            .expect("its own type");
        let through_deref: *const dyn super::ErasedCache = &*erased;
        assert!(std::ptr::eq(
            through_deref.cast(),
            std::ptr::from_ref(typed)
        ));
        assert_eq!(typed.len(), 0);
        // Same layout but for the value type: a cast without the check would accept them.
        assert!(erased.downcast::<Inner<String, u32, i64>>().is_none());
        assert!(erased.downcast::<Inner<String, u32, u32>>().is_none());
        assert!(erased.downcast::<Inner<String, u64, u64>>().is_none());
    }

    #[test]
    fn each_cache_is_found_as_its_own_type() {
        let a = Erased::new(cache::<u64>());
        let b = Erased::new(cache::<String>());
        assert!(a.downcast::<Inner<String, u32, u64>>().is_some());
        assert!(a.downcast::<Inner<String, u32, String>>().is_none());
        assert!(b.downcast::<Inner<String, u32, String>>().is_some());
        assert!(b.downcast::<Inner<String, u32, u64>>().is_none());
    }
}

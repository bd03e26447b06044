//! What `ttl = NAME` and `capacity = NAME` in `#[ttl_cached(...)]` may name: a `const` or
//! `static` of one of the types below, read when the function's cache is made.

use std::time::Duration;

/// A value that `#[ttl_cached(ttl = NAME)]` can name: a [`Duration`], or a whole number of
/// seconds (`u64`, `u32`, `u16`, `u8`, `usize`). Named here so that a compile error about the
/// named value names it; you do not implement it.
///
/// ```
/// use cache_core::ttl_cached;
/// use std::time::Duration;
///
/// const LISTING_TTL: Duration = Duration::from_secs(60);
/// static METADATA_TTL_SECS: u64 = 300;
///
/// #[ttl_cached(ttl = LISTING_TTL)]
/// async fn list_folders(user_id: u64) -> Vec<String> { vec![] }
///
/// #[ttl_cached(ttl = METADATA_TTL_SECS)]
/// async fn file_metadata(file_id: u64) -> String { String::new() }
///
/// assert_eq!(list_folders_cache().ttl(), LISTING_TTL);
/// assert_eq!(file_metadata_cache().ttl(), Duration::from_secs(300));
/// ```
#[diagnostic::on_unimplemented(
    message = "`ttl` names a value of type `{Self}`, which is not a duration",
    label = "expected a `Duration` or whole seconds (`u64`)",
    note = "`ttl = NAME` takes a `const` or `static` of type `std::time::Duration`, or a whole \
            number of seconds (`u64`, `u32`, `u16`, `u8`, `usize`)"
)]
pub trait TtlSetting {
    /// The TTL.
    fn to_ttl(&self) -> Duration;
}

impl TtlSetting for Duration {
    fn to_ttl(&self) -> Duration {
        *self
    }
}

macro_rules! whole_seconds {
    ($($int:ty),*) => {$(
        impl TtlSetting for $int {
            fn to_ttl(&self) -> Duration {
                Duration::from_secs(u64::try_from(*self).unwrap_or(u64::MAX))
            }
        }
    )*};
}

whole_seconds!(u64, u32, u16, u8, usize);

/// A value that `#[ttl_cached(capacity = NAME)]` can name: a `usize`. Named here so that a
/// compile error about the named value names it; you do not implement it.
///
/// ```
/// use cache_core::ttl_cached;
///
/// const LISTINGS: usize = 50_000;
///
/// #[ttl_cached(ttl = 60, capacity = LISTINGS)]
/// async fn list_folders(user_id: u64) -> Vec<String> { vec![] }
///
/// assert_eq!(list_folders_cache().capacity(), 50_000);
/// ```
#[diagnostic::on_unimplemented(
    message = "`capacity` names a value of type `{Self}`, which is not a number of entries",
    label = "expected a `usize`",
    note = "`capacity = NAME` takes a `const` or `static` of type `usize`"
)]
pub trait CapacitySetting {
    /// The capacity.
    fn to_capacity(&self) -> usize;
}

impl CapacitySetting for usize {
    fn to_capacity(&self) -> usize {
        *self
    }
}

/// Reads the value named by `ttl = NAME`; the macro spans the call on `NAME`. Public at the
/// crate root so that rustc's notes name it there; the bound the user's type fails is the first
/// line of the `where` clause.
#[doc(hidden)]
pub fn ttl_setting<Named>(ttl: &Named) -> Duration
where
    Named: ?Sized + TtlSetting,
{
    ttl.to_ttl()
}

/// Reads the value named by `capacity = NAME`, like [`ttl_setting`].
#[doc(hidden)]
pub fn capacity_setting<Named>(capacity: &Named) -> usize
where
    Named: ?Sized + CapacitySetting,
{
    capacity.to_capacity()
}

/// Reads the settings named by `shared_tier = NAME` (feature `redis-tier`), like
/// [`ttl_setting`]: a `const` or `static` of type
/// [`SharedTier`](crate::backplane::SharedTier).
#[cfg(feature = "redis-tier")]
#[doc(hidden)]
pub fn shared_tier_setting(tier: &crate::backplane::SharedTier) -> crate::backplane::SharedTier {
    *tier
}

/// Implemented by nothing: `shared_tier` on a cached function without cache-core's feature
/// `redis-tier`.
#[cfg(not(feature = "redis-tier"))]
#[diagnostic::on_unimplemented(
    message = "`shared_tier` needs cache-core's feature `redis-tier`",
    label = "this function shares its values through Redis",
    note = "enable it: `cache-core = {{ version = \"..\", features = [\"redis-tier\"] }}`"
)]
pub trait TierFeature {}

/// Fails to compile, with [`TierFeature`]'s message: `shared_tier = true` without the feature.
#[cfg(not(feature = "redis-tier"))]
#[doc(hidden)]
pub fn shared_tier<Cache: TierFeature, Key, Policy>(_: &Cache, _: &Key, _: &Policy) {}

/// Fails to compile, with [`TierFeature`]'s message: `shared_tier = NAME` without the feature.
#[cfg(not(feature = "redis-tier"))]
#[doc(hidden)]
pub fn shared_tier_with<Cache: TierFeature, Key, Policy, Settings>(
    _: &Cache,
    _: &Key,
    _: &Policy,
    _: Settings,
) {
}

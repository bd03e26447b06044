//! Borrowed forms of composite keys, so a lookup of a `(String, String)` group needs no
//! `String`: `Borrowed(("u1", "drive"))` hashes and compares like `("u1".to_string(),
//! "drive".to_string())`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use scc::Equivalent;

/// Converts a borrowed key to the owned key the cache stores; only called on a miss.
///
/// Implemented for every `ToOwned` type (`str` → `String`, and any `Clone` key as itself), and
/// for [`Borrowed`] tuples. Implement it, with `Hash` and [`Equivalent`], for a borrowed view of
/// your own key type.
///
/// ```
/// use cache_core::ToKey;
/// let owned: String = "u1".to_key();
/// assert_eq!(owned, "u1");
/// ```
pub trait ToKey<K> {
    /// The owned key.
    fn to_key(&self) -> K;
}

impl<Q: ?Sized + ToOwned> ToKey<Q::Owned> for Q {
    fn to_key(&self) -> Q::Owned {
        self.to_owned()
    }
}

/// A tuple of references used as a borrowed composite key: `Borrowed((a, b))` finds the entry
/// stored under `(A, B)` when `A: Borrow<a's type>` and `B: Borrow<b's type>`, for tuples of
/// two to four parts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cache_core::{Borrowed, TtlCache};
/// use std::time::Duration;
///
/// let cache: TtlCache<(String, String), String, u64> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// // No String is built unless the lookup misses.
/// let group = Borrowed(("u1", "drive"));
/// cache.get_with(&group, "root", || async { 7 }).await;
/// assert_eq!(cache.get(&group, "root"), Some(7));
/// assert_eq!(cache.get(&("u1".to_string(), "drive".to_string()), "root"), Some(7));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Borrowed<T>(pub T);

macro_rules! borrowed_tuple {
    ($(($part:ident, $owned:ident, $i:tt)),+) => {
        impl<$($part: ?Sized + Hash),+> Hash for Borrowed<($(&$part,)+)> {
            #[inline(always)]
            fn hash<H: Hasher>(&self, state: &mut H) {
                // Hashes like the owned tuple: each part in order, as its borrowed form.
                $(self.0.$i.hash(state);)+
            }
        }

        impl<$($part: ?Sized + Eq,)+ $($owned: Borrow<$part>),+> Equivalent<($($owned,)+)>
            for Borrowed<($(&$part,)+)>
        {
            #[inline]
            fn equivalent(&self, key: &($($owned,)+)) -> bool {
                $(*self.0.$i == *key.$i.borrow())&&+
            }
        }

        impl<$($part: ?Sized + ToOwned),+> ToKey<($($part::Owned,)+)> for Borrowed<($(&$part,)+)> {
            fn to_key(&self) -> ($($part::Owned,)+) {
                ($(self.0.$i.to_owned(),)+)
            }
        }
    };
}

borrowed_tuple!((A, OA, 0), (B, OB, 1));
borrowed_tuple!((A, OA, 0), (B, OB, 1), (C, OC, 2));
borrowed_tuple!((A, OA, 0), (B, OB, 1), (C, OC, 2), (D, OD, 3));

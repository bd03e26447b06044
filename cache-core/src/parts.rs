//! Key parts for `#[ttl_cached]`: borrowed on a hit, owned only on a miss.
//!
//! For each placeholder the macro writes `(&&&&&&PartTag(&expr)).__ttl_cached_part()`. Method
//! resolution tries the receiver `&&&&&&PartTag` first, then derefs one `&` at a time, so the
//! first matching impl below wins (autoref-based specialization):
//!
//! 0. `str`, `String` and references to them → [`StrPart`], owned as `String`;
//! 1. `Option<&T>` and `&Option<&T>` → [`OptionPart`], owned as `Option<T::Owned>`;
//! 2. `&&T` → [`Part`] of `T`, owned as `T::Owned` (`&&u32` → `u32`);
//! 3. `&T` → [`Part`] of `T`, owned as `T::Owned` (`&User` → `User`);
//! 4. `T` → [`Part`] of `T`, owned as `T::Owned` (`u32` → `u32`);
//! 5. and 6. stand-ins for what cannot be a key part, so that the mistake is reported once, on
//!    the user's parameter, instead of as a cascade through the expansion.
//!
//! A part hashes and compares exactly like its owned form (the [`Borrow`] contract), so the
//! borrowed key `(Part<str>, (Part<str>, ()))` finds the entry stored as `(String, (String, ()))`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use crate::keys::lookup::{GroupLookup, GroupProbe, KeyLookup, KeyProbe};

/// A type usable as (the borrowed form of) one part of a cache key.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key",
    label = "this key part is `{Self}`",
    note = "a key part must be `Hash + Eq` and have an owned form (`ToOwned`, e.g. via `Clone`) \
            that is `Hash + Eq + Clone + Send + Sync + 'static`",
    note = "to leave a parameter out of the key on purpose, add it to `ignore = [...]`"
)]
pub trait CacheKeyPart: Hash + Eq + ToOwned {}

impl<T: ?Sized + Hash + Eq + ToOwned> CacheKeyPart for T {}

/// One part of a key as the macro builds it: hashes and compares like its owned form.
pub trait KeyPart {
    /// The owned form stored in the cache.
    type Owned: Hash + Eq + Clone + Send + Sync + 'static;
    /// Hashes exactly as `Self::Owned` hashes.
    fn hash_part<H: Hasher>(&self, state: &mut H);
    /// Whether `owned` is this part's owned form.
    fn matches(&self, owned: &Self::Owned) -> bool;
    /// The owned form.
    fn to_owned_part(&self) -> Self::Owned;
}

/// A borrowed key part.
#[derive(Debug)]
pub struct Part<'a, T: ?Sized>(pub &'a T);

impl<T> KeyPart for Part<'_, T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Owned = T::Owned;
    #[inline(always)]
    fn hash_part<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
    #[inline]
    fn matches(&self, owned: &Self::Owned) -> bool {
        owned.borrow() == self.0
    }
    fn to_owned_part(&self) -> Self::Owned {
        self.0.to_owned()
    }
}

/// A borrowed string key part (`&str`, `String`, `&String`), owned as `String`. Compared
/// inline: key parts are short, and a call into the C library's `memcmp` per part costs more
/// than the comparison itself.
#[derive(Debug)]
pub struct StrPart<'a>(pub &'a str);

impl KeyPart for StrPart<'_> {
    type Owned = String;
    #[inline(always)]
    fn hash_part<H: Hasher>(&self, state: &mut H) {
        // As `String::hash`, which hashes the `str`.
        self.0.hash(state);
    }
    #[inline]
    fn matches(&self, owned: &String) -> bool {
        bytes_eq(self.0.as_bytes(), owned.as_bytes())
    }
    fn to_owned_part(&self) -> String {
        self.0.to_owned()
    }
}

/// `a == b`, with the common short lengths compared in registers.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Two overlapping loads cover every length in each range below.
    if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
        a.first_chunk::<16>(),
        b.first_chunk::<16>(),
        a.last_chunk::<16>(),
        b.last_chunk::<16>(),
    ) {
        if a.len() <= 32 {
            return u128::from_ne_bytes(*a0) == u128::from_ne_bytes(*b0)
                && u128::from_ne_bytes(*a1) == u128::from_ne_bytes(*b1);
        }
    } else if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
        a.first_chunk::<8>(),
        b.first_chunk::<8>(),
        a.last_chunk::<8>(),
        b.last_chunk::<8>(),
    ) {
        return u64::from_ne_bytes(*a0) == u64::from_ne_bytes(*b0)
            && u64::from_ne_bytes(*a1) == u64::from_ne_bytes(*b1);
    }
    a == b
}

/// A borrowed optional key part (`Option<&str>` and the like).
#[derive(Debug)]
pub struct OptionPart<'a, T: ?Sized>(pub Option<&'a T>);

impl<T> KeyPart for OptionPart<'_, T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Owned = Option<T::Owned>;
    #[inline(always)]
    fn hash_part<H: Hasher>(&self, state: &mut H) {
        // `Option<&T>` and `Option<T::Owned>` hash alike: discriminant, then the value.
        self.0.hash(state);
    }
    #[inline]
    fn matches(&self, owned: &Self::Owned) -> bool {
        match (self.0, owned) {
            (Some(part), Some(owned)) => owned.borrow() == part,
            (None, None) => true,
            _ => false,
        }
    }
    fn to_owned_part(&self) -> Self::Owned {
        self.0.map(ToOwned::to_owned)
    }
}

/// A list of key parts, built as nested pairs ending in `()`: `(a, (b, (c, ())))`.
pub trait PartList {
    /// The owned list, stored in the cache.
    type Owned: Hash + Eq + Clone + Send + Sync + 'static;
    /// Hashes exactly as `Self::Owned` hashes.
    fn hash_parts<H: Hasher>(&self, state: &mut H);
    /// Whether `owned` is this list's owned form.
    fn matches(&self, owned: &Self::Owned) -> bool;
    /// The owned form.
    fn to_owned_parts(&self) -> Self::Owned;
    /// Appends the owned form's wire encoding (see `backplane`); `false` if a part's type has
    /// none.
    #[cfg(feature = "redis")]
    #[doc(hidden)]
    fn wire_encode(owned: &Self::Owned, out: &mut Vec<u8>) -> bool;
    /// Reads an owned form from the front of `input`.
    #[cfg(feature = "redis")]
    #[doc(hidden)]
    fn wire_decode(input: &mut &[u8]) -> Option<Self::Owned>;
}

impl PartList for () {
    type Owned = ();
    #[inline(always)]
    fn hash_parts<H: Hasher>(&self, _: &mut H) {}
    #[inline]
    fn matches(&self, (): &()) -> bool {
        true
    }
    fn to_owned_parts(&self) {}
    #[cfg(feature = "redis")]
    fn wire_encode((): &(), _: &mut Vec<u8>) -> bool {
        true
    }
    #[cfg(feature = "redis")]
    fn wire_decode(_: &mut &[u8]) -> Option<()> {
        Some(())
    }
}

impl<P: KeyPart, Rest: PartList> PartList for (P, Rest) {
    type Owned = (P::Owned, Rest::Owned);
    #[inline(always)]
    fn hash_parts<H: Hasher>(&self, state: &mut H) {
        self.0.hash_part(state);
        self.1.hash_parts(state);
    }
    #[inline]
    fn matches(&self, owned: &Self::Owned) -> bool {
        self.0.matches(&owned.0) && self.1.matches(&owned.1)
    }
    fn to_owned_parts(&self) -> Self::Owned {
        (self.0.to_owned_part(), self.1.to_owned_parts())
    }
    #[cfg(feature = "redis")]
    fn wire_encode(owned: &Self::Owned, out: &mut Vec<u8>) -> bool {
        crate::keys::wire::encode_leaf(&owned.0, out) && Rest::wire_encode(&owned.1, out)
    }
    #[cfg(feature = "redis")]
    fn wire_decode(input: &mut &[u8]) -> Option<Self::Owned> {
        let part = crate::keys::wire::decode_leaf::<P::Owned>(input)?;
        Some((part, Rest::wire_decode(input)?))
    }
}

/// A full key as the macro builds it: the group's parts and the remaining parts.
#[derive(Debug)]
pub struct Key<GP, RP> {
    /// The parts named by `group`.
    pub group: GP,
    /// The parts of `key` after the group's.
    pub rest: RP,
}

impl<GP: PartList, RP> GroupLookup<GP::Owned> for Key<GP, RP> {
    #[inline(always)]
    fn hash_group<H: Hasher>(&self, state: &mut H) {
        self.group.hash_parts(state);
    }
    #[inline]
    fn group_matches(&self, group: &GP::Owned) -> bool {
        self.group.matches(group)
    }
}

impl<GP: PartList, RP> GroupProbe<GP::Owned> for Key<GP, RP> {
    fn owned_group(&self) -> GP::Owned {
        self.group.to_owned_parts()
    }
}

impl<GP: PartList, RP: PartList> KeyLookup<GP::Owned, RP::Owned> for Key<GP, RP> {
    #[inline(always)]
    fn hash_rest<H: Hasher>(&self, state: &mut H) {
        self.rest.hash_parts(state);
    }
    #[inline]
    fn rest_matches(&self, rest: &RP::Owned) -> bool {
        self.rest.matches(rest)
    }
}

impl<GP: PartList, RP: PartList> KeyProbe<GP::Owned, RP::Owned> for Key<GP, RP> {
    fn owned_rest(&self) -> RP::Owned {
        self.rest.to_owned_parts()
    }
}

/// The receiver of the part dispatch: a reference to the placeholder's value. `Copy`, so that
/// the last dispatch level, which takes it by value, works through the references.
#[derive(Debug)]
pub struct PartTag<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> Clone for PartTag<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for PartTag<'_, T> {}

/// Types whose key part is a [`StrPart`]: `str`, `String`, and references to them, however
/// deep (`&str`, `&&str`, `&String`).
pub trait StrLike {
    /// The string.
    fn as_key_str(&self) -> &str;
}

impl StrLike for str {
    fn as_key_str(&self) -> &str {
        self
    }
}

impl StrLike for String {
    fn as_key_str(&self) -> &str {
        self
    }
}

impl<T: ?Sized + StrLike> StrLike for &T {
    fn as_key_str(&self) -> &str {
        (**self).as_key_str()
    }
}

/// Dispatch level 0: strings.
pub trait StrRefPart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(&self) -> Self::Part;
}

impl<'a, T: ?Sized + StrLike> StrRefPart<'a> for &&&&&PartTag<'a, T> {
    type Part = StrPart<'a>;
    #[inline]
    fn __ttl_cached_part(&self) -> StrPart<'a> {
        StrPart(self.0.as_key_str())
    }
}

/// Dispatch level 1: optional references.
pub trait OptionRefPart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(&self) -> Self::Part;
}

impl<'a, T> OptionRefPart<'a> for &&&&PartTag<'a, Option<&'a T>>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync,
{
    type Part = OptionPart<'a, T>;
    #[inline]
    fn __ttl_cached_part(&self) -> OptionPart<'a, T> {
        OptionPart(*self.0)
    }
}

impl<'a, T> OptionRefPart<'a> for &&&&PartTag<'a, &'a Option<&'a T>>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync,
{
    type Part = OptionPart<'a, T>;
    #[inline]
    fn __ttl_cached_part(&self) -> OptionPart<'a, T> {
        OptionPart(**self.0)
    }
}

/// Dispatch level 2: references to references (`&&u32`), dereferenced twice, so that the
/// owned form is the value's and not a borrowed reference.
pub trait RefRefPart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(&self) -> Self::Part;
}

impl<'a, T> RefRefPart<'a> for &&&PartTag<'a, &&T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync,
{
    type Part = Part<'a, T>;
    #[inline]
    fn __ttl_cached_part(&self) -> Part<'a, T> {
        Part(*self.0)
    }
}

/// Dispatch level 3: references, dereferenced once.
pub trait RefPart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(&self) -> Self::Part;
}

impl<'a, T> RefPart<'a> for &&PartTag<'a, &T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync,
{
    type Part = Part<'a, T>;
    #[inline]
    fn __ttl_cached_part(&self) -> Part<'a, T> {
        Part(*self.0)
    }
}

/// Dispatch level 4: values.
pub trait ValuePart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(&self) -> Self::Part;
}

impl<'a, T> ValuePart<'a> for &PartTag<'a, T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync,
{
    type Part = Part<'a, T>;
    #[inline]
    fn __ttl_cached_part(&self) -> Part<'a, T> {
        Part(self.0)
    }
}

/// Dispatch level 5: `Hash + Eq`, but without an owned form the cache can store (`Rc<str>`, a
/// type with a borrowed lifetime). [`part`] reports it.
pub trait UnownedPart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(&self) -> Self::Part;
}

impl<'a, T: ?Sized + Hash + Eq> UnownedPart<'a> for PartTag<'a, T> {
    type Part = NotOwnedPart<'a, T>;
    #[inline]
    fn __ttl_cached_part(&self) -> NotOwnedPart<'a, T> {
        NotOwnedPart(self.0)
    }
}

/// Dispatch level 6, for a type that is not `Hash + Eq`: a stand-in that satisfies every later
/// bound. The expansion reports the type itself, once, on the user's parameter (with a check
/// it generates next to the key), so the stand-in must not add a second error.
pub trait InvalidPart<'a> {
    /// The part type.
    type Part;
    /// The part.
    fn __ttl_cached_part(self) -> Self::Part;
}

impl<'a, T: ?Sized> InvalidPart<'a> for PartTag<'a, T> {
    type Part = NotAKeyPart<'a, T>;
    #[inline]
    fn __ttl_cached_part(self) -> NotAKeyPart<'a, T> {
        NotAKeyPart(self.0)
    }
}

/// The stand-in for a value that is not `Hash + Eq`; never survives type checking, because the
/// expansion also requires `Hash + Eq` of the value directly.
#[derive(Debug)]
pub struct NotAKeyPart<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> KeyPart for NotAKeyPart<'_, T> {
    type Owned = ();
    fn hash_part<H: Hasher>(&self, _: &mut H) {}
    fn matches(&self, (): &()) -> bool {
        false
    }
    fn to_owned_part(&self) {}
}

/// The stand-in for a `Hash + Eq` value without a storable owned form; [`part`] rejects it.
#[derive(Debug)]
pub struct NotOwnedPart<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> KeyPart for NotOwnedPart<'_, T> {
    type Owned = ();
    fn hash_part<H: Hasher>(&self, _: &mut H) {}
    fn matches(&self, (): &()) -> bool {
        false
    }
    fn to_owned_part(&self) {}
}

/// A key part that passed the checks: every part except [`NotOwnedPart`]. ([`NotAKeyPart`] is
/// reported by the expansion's own `Hash + Eq` check, so it passes here to avoid a second error.)
#[diagnostic::on_unimplemented(
    message = "this key part has no owned form that the cache can store",
    label = "the cache keeps an owned copy of this key part",
    note = "a key part's owned form (its `ToOwned::Owned`, such as `String` for `&str`) must be \
            `Hash + Eq + Clone + Send + Sync + 'static`: use an owned, thread-safe type such as \
            `String`, `Arc<str>` or an integer id, or add the parameter to `ignore`"
)]
pub trait CheckedPart {}

impl<T> CheckedPart for Part<'_, T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync + 'static,
{
}

impl CheckedPart for StrPart<'_> {}

impl<T> CheckedPart for OptionPart<'_, T>
where
    T: ?Sized + CacheKeyPart,
    T::Owned: Hash + Eq + Clone + Send + Sync + 'static,
{
}

impl<T: ?Sized> CheckedPart for NotAKeyPart<'_, T> {}

/// Checks one part; the macro spans this call on the placeholder's parameter so that a key
/// part without a storable owned form is reported there.
#[inline(always)]
pub fn part<P: KeyPart + CheckedPart>(part: P) -> P {
    part
}

/// A key part must be `Hash + Eq`: checked on the placeholder's value as written, so that the
/// error names the user's type (`HashMap<u32, u32>`, `Filter`) and says what to use instead.
/// What a `#[ttl_cached]` key part must be: `Hash + Eq`. Implemented for every such type; you
/// never implement it yourself. Named here so that a compile error about a key part names it.
///
/// ```
/// fn is_key_part<T: ?Sized + cache_core::CacheKey>() {}
/// is_key_part::<str>();
/// is_key_part::<(u64, String)>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key",
    label = "key parts must be `Hash + Eq`",
    note = "a `HashMap` or `HashSet` has no stable order: use a sorted `Vec` or a \
            `BTreeMap`/`BTreeSet`; for `f32`/`f64`, use an integer representation \
            (`f64::to_bits`, or a fixed-point integer)",
    note = "to leave a parameter out of the key on purpose, add it to `ignore = [...]`"
)]
pub trait CacheKey: Hash + Eq {}

#[diagnostic::do_not_recommend]
impl<T: ?Sized + Hash + Eq> CacheKey for T {}

/// Checks that a key part's value is `Hash + Eq`; the macro spans the call on the user's
/// parameter type (or the template, for a field path). Public at the crate root so that
/// rustc's notes name it there, not in a hidden module.
#[doc(hidden)]
#[inline(always)]
pub fn check_key_part<T: ?Sized + CacheKey>(_: &T) {}

/// A part of `invalidate_<fn>`'s group, unchecked: the cached function's body checks the same
/// parts, and one report per mistake is enough.
#[inline(always)]
pub fn group_part<P: KeyPart>(part: P) -> P {
    part
}

/// The codec of a `#[ttl_cached]` cache, whose owned parts are `GP`'s and `RP`'s: the encoding
/// its companions publish with (kept here, beside the part lists, so that the wire layer below
/// does not name them).
#[cfg(feature = "redis")]
pub(crate) fn wire_codec<GP: PartList, RP: PartList>() -> crate::keys::wire::WireCodec {
    crate::keys::wire::WireCodec {
        group: encode_erased_parts::<GP>,
        key: encode_erased_parts::<RP>,
    }
}

#[cfg(feature = "redis")]
fn encode_erased_parts<P: PartList>(value: &dyn std::any::Any, out: &mut Vec<u8>) -> bool {
    value
        .downcast_ref::<P::Owned>()
        .is_some_and(|owned| P::wire_encode(owned, out))
}

//! Scopes: one group shared by the caches of several `#[ttl_cached]` functions, evicted from all
//! of them by one call.
//!
//! A scope is declared with [`scope!`](crate::scope!), which names the owned types of its group
//! parts; a function joins it with `scope = Name` in its attribute, which is accepted only if the
//! function's group has exactly those parts. `Name::invalidate(parts...)` then evicts that group
//! from every cache of the scope.
//!
//! **The guarantee is `invalidate_*`'s, across the scope**: a call of any function of the scope
//! that begins after `Name::invalidate` returned never receives a value whose fetch began before
//! that return. How:
//!
//! - A cache joins the scope on its first miss or refresh, before that fetch takes its stamp,
//!   so a cache with anything stored or in flight is a member.
//! - An invalidation raises a fence over its group on the scope (see `engine/fence.rs`), then takes
//!   the member list, then runs each member's group invalidation (each raising the group's fence
//!   in that cache, as `invalidate_*` does), and lowers every fence when its [`Invalidated`]
//!   completes or is dropped.
//! - A fetch of a member cache asks the scope's fences about its group after its stamp, as it
//!   asks its own cache's: if an invalidation of its group is in progress on the scope, the
//!   fetch runs unshared (its caller gets the result; it is neither joined nor stored). A cache
//!   that joined after an invalidation took the member list is therefore covered too: every
//!   fetch it began before that invalidation returned saw the fence. Other groups of the scope
//!   are not fenced.
//!
//! The scope's fences are found by a hash of the group with one fixed seed (the members' groups
//! have the scope's group type, so they hash alike), computed on a miss only while one of the
//! scope's fences is raised.
//!
//! The cost of an invalidation is the entries evicted plus the number of caches in the scope.

use std::any::Any;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, OnceLock, RwLock};

use crate::cache::invalidated::Invalidated;
use crate::cache::trace;
use crate::cache::JoinedScope;
use crate::engine::fence::{shared_hash, Fences, Target};
#[cfg(feature = "redis")]
use crate::keys::wire::{decode_exact, Decoder};
#[cfg(feature = "redis")]
use crate::seam::{self, ApplyRemote};

/// A scope declared with [`scope!`](crate::scope!): the owned types of its group and its
/// members. Implemented by the declaration; not meant to be implemented by hand.
pub trait Scope: 'static {
    /// The owned group, as nested pairs: `(String, (u64, ()))` for
    /// `scope!(pub Account(user_id: String, shard: u64))`.
    type Group: ScopeGroup;
    /// The scope's members and in-progress count.
    fn core() -> &'static ScopeCore;
}

/// The run-time state of a [`Scope`]: its name, the caches that joined it, and its
/// invalidations in progress. Created by [`scope!`](crate::scope!).
///
/// ```
/// cache_core::scope! {
///     /// Everything cached for one account.
///     pub Account(user_id: String);
/// }
/// use cache_core::Scope;
/// assert_eq!(Account::core().name(), "Account");
/// assert_eq!(Account::core().len(), 0); // no cached function of the scope has missed yet
/// ```
pub struct ScopeCore {
    name: &'static str,
    /// The name other replicas know the scope by: its module path and name.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    path: &'static str,
    members: RwLock<Vec<&'static dyn ScopeMember>>,
    /// The fences of the scope's invalidations in progress, by group.
    fences: OnceLock<Arc<Fences>>,
}

impl ScopeCore {
    /// A scope with no members yet.
    #[doc(hidden)]
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self::__new_in(name, name)
    }

    /// A scope with no members yet, known to other replicas as `path`.
    #[doc(hidden)]
    #[must_use]
    pub const fn __new_in(name: &'static str, path: &'static str) -> Self {
        Self {
            name,
            path,
            members: RwLock::new(Vec::new()),
            fences: OnceLock::new(),
        }
    }

    /// The scope's name, as declared.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How many caches have joined the scope (a cache joins on its first miss).
    #[must_use]
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// Whether no cache has joined the scope yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn members(&self) -> std::sync::RwLockReadGuard<'_, Vec<&'static dyn ScopeMember>> {
        // A poisoned lock only means a thread panicked while pushing; the list is valid.
        self.members
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fences of the scope's invalidations in progress, by group ([`shared_hash`]): a member
    /// cache keeps them, and asks them about its group after its stamp, as it asks its own.
    pub(crate) fn fences(&self) -> &Arc<Fences> {
        self.fences.get_or_init(|| Arc::new(Fences::new()))
    }

    /// Adds `member` to the members, once.
    pub(crate) fn join(&self, member: &'static dyn ScopeMember) {
        let mut members = self
            .members
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !members.iter().any(|m| std::ptr::addr_eq(*m, member)) {
            members.push(member);
        }
    }

    /// Makes the scope receive the other replicas' invalidations of its groups, which
    /// `group` decodes (its owned group's part list). Called when a member joins. A different
    /// scope under the same path is refused, and counted.
    #[cfg(feature = "redis")]
    pub(crate) fn join_fleet<G>(&'static self, group: Decoder<G>)
    where
        G: Any + Send + Sync + Hash,
    {
        let remote = Arc::new(RemoteScope { core: self, group });
        if !seam::join_scope(self.path, std::ptr::from_ref(self) as usize, remote) {
            seam::refused(self.path);
        }
    }

    /// Clears every member, on this replica only (a scope message that did not decode).
    #[cfg(feature = "redis")]
    pub(crate) fn clear_members(&self) {
        let members: Vec<&'static dyn ScopeMember> = self.members().clone();
        for member in members {
            drop(member.clear_local());
        }
    }

    /// Evicts `group` from every member, then publishes the invalidation to the other
    /// replicas (feature `redis`). Called by the declared scope's `invalidate`.
    #[doc(hidden)]
    pub fn __invalidate<G: ScopeGroup>(&self, group: &G) -> Invalidated<usize> {
        let invalidated = self.invalidate_typed(group);
        // A part with no wire encoding: every replica clears the scope's members instead.
        #[cfg(feature = "redis")]
        let invalidated = invalidated.delivering(seam::scope_invalidated(self.path, |out| {
            group.wire_encode(out)
        }));
        invalidated
    }

    /// Evicts `group` (the scope's owned group) from every member, on this replica. Fenced on
    /// the scope first, so that a cache that joins meanwhile is covered too.
    pub(crate) fn invalidate_typed<G: Any + Send + Sync + Hash>(
        &self,
        group: &G,
    ) -> Invalidated<usize> {
        self.invalidate_erased(group, shared_hash(group))
    }
}

/// How an error that revokes, in a member's fetch, reaches the whole scope (`cache/fetch.rs`).
impl JoinedScope for ScopeCore {
    fn invalidate_erased(&self, group: &(dyn Any + Send + Sync), hash: u64) -> Invalidated<usize> {
        let mut all = Invalidated::done(0);
        all.hold(self.fences().raise(Target::Group(hash)));
        let members: Vec<&'static dyn ScopeMember> = self.members().clone();
        for member in members {
            all.absorb(member.invalidate_group(group));
        }
        trace::invalidated_scope(self.name, all.peek());
        all
    }

    #[cfg(feature = "redis")]
    fn path(&self) -> &'static str {
        self.path
    }
}

/// A cache that joined a scope, as the scope sees it: a `#[ttl_cached]` function's cache
/// ([`CacheHandle`](crate::CacheHandle) implements it), whose group type is the scope's.
pub(crate) trait ScopeMember: Sync {
    /// Evicts `group` (the scope's owned group, erased) from this cache, on this replica.
    fn invalidate_group(&self, group: &(dyn Any + Send + Sync)) -> Invalidated<usize>;
    /// Evicts everything from this cache, on this replica.
    #[cfg(feature = "redis")]
    fn clear_local(&self) -> Invalidated<usize>;
}

/// A scope whose members are on this replica, as the other replicas' invalidations reach it:
/// decodes the scope's group with its part list.
#[cfg(feature = "redis")]
struct RemoteScope<G> {
    core: &'static ScopeCore,
    group: Decoder<G>,
}

#[cfg(feature = "redis")]
impl<G: Any + Send + Sync + Hash> ApplyRemote for RemoteScope<G> {
    fn group(&self, group: &[u8]) -> bool {
        let Some(group) = decode_exact(group, self.group) else {
            return false;
        };
        drop(self.core.invalidate_typed(&group));
        true
    }
    fn key(&self, _: &[u8], _: &[u8]) -> bool {
        // A scope has groups, not keys.
        false
    }
    fn clear(&self) {
        self.core.clear_members();
    }
}

impl fmt::Debug for ScopeCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeCore")
            .field("name", &self.name)
            .field("members", &self.len())
            .finish_non_exhaustive()
    }
}

/// Declares a scope: a named group shared by several `#[ttl_cached]` functions, evicted from
/// all of their caches by one call, `Name::invalidate(parts...)`.
///
/// The parts are the *owned* types the functions' group parts are stored as (`String` for a
/// `&str` parameter, `u64` for a `u64`); a function joins with `scope = Name` in its attribute,
/// and is refused at compile time unless its group has exactly these parts, in this order.
/// `invalidate` takes each part borrowed (`&str` for `String`, `&u64` for `u64`), like the
/// generated `invalidate_*` companions, and gives the same guarantee across the whole scope:
/// a call of any function of the scope that begins after it returned never receives a value
/// whose fetch began before.
///
/// ```
/// use cache_core::ttl_cached;
/// use std::sync::Arc;
///
/// cache_core::scope! {
///     /// Everything cached for one account of one provider.
///     pub Account(user_id: String, provider: String);
/// }
///
/// #[ttl_cached(ttl = 60, key = "<user_id>:<provider>:<folder>", group = "<user_id>:<provider>", scope = Account)]
/// async fn list_folders(user_id: &str, provider: &str, folder: &str) -> Arc<Vec<String>> {
///     Arc::new(vec![format!("{folder} of {user_id} on {provider}")])
/// }
///
/// #[ttl_cached(ttl = 60, key = "<user_id>:<provider>:<file>", group = "<user_id>:<provider>", scope = Account)]
/// async fn file_size(user_id: &str, provider: &str, file: &str) -> u64 {
///     file.len() as u64
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// list_folders("u1", "drive", "root").await;
/// file_size("u1", "drive", "a.txt").await;
/// file_size("u2", "drive", "a.txt").await;
/// // The credentials of u1 on drive changed: one call, every function of the scope.
/// assert_eq!(Account::invalidate("u1", "drive").await, 2);
/// assert_eq!(list_folders_cache().len() + file_size_cache().len(), 1);
/// # }
/// ```
#[macro_export]
macro_rules! scope {
    ($(#[$meta:meta])* $vis:vis $name:ident($($part:ident: $ty:ty),+ $(,)?);) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Scope for $name {
            type Group = $crate::__scope_group!($($ty),+);
            fn core() -> &'static $crate::ScopeCore {
                static CORE: $crate::ScopeCore = $crate::ScopeCore::__new_in(
                    ::core::stringify!($name),
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                );
                &CORE
            }
        }

        impl $crate::__private::GroupOfScope<$name>
            for $crate::__private::GroupParts<$crate::__scope_group!($($ty),+)>
        {
        }

        impl $name {
            /// Evicts this group from the cache of every function in the scope, with the
            /// guarantee of the generated `invalidate_*` companions, across all of them.
            /// Generated by `cache_core::scope!`.
            #[allow(clippy::needless_lifetimes)]
            $vis fn invalidate($($part: &(impl ?::core::marker::Sized + $crate::ToKey<$ty>)),+) -> $crate::Invalidated<usize> {
                let group: <Self as $crate::Scope>::Group =
                    $crate::__scope_group_value!($($crate::ToKey::<$ty>::to_key($part)),+);
                <Self as $crate::Scope>::core().__invalidate(&group)
            }
        }
    };
}

/// `(A, (B, ()))` from `A, B`: the owned group of a scope, shaped as the macro's part lists.
#[doc(hidden)]
#[macro_export]
macro_rules! __scope_group {
    () => { () };
    ($head:ty $(, $rest:ty)*) => { ($head, $crate::__scope_group!($($rest),*)) };
}

/// `(a, (b, ()))` from `a, b`.
#[doc(hidden)]
#[macro_export]
macro_rules! __scope_group_value {
    () => { () };
    ($head:expr $(, $rest:expr)*) => { ($head, $crate::__scope_group_value!($($rest),*)) };
}

/// The owned group of a scope, as nested pairs `(A, (B, ()))`: what its invalidations carry to
/// other replicas (feature `redis`). Implemented for every such list; not meant to be
/// implemented by hand.
#[doc(hidden)]
pub trait ScopeGroup: Any + Send + Sync + Hash {
    /// Appends the wire encoding (the same as the members' groups'); `false` if a part's type
    /// has none.
    #[cfg(feature = "redis")]
    fn wire_encode(&self, out: &mut Vec<u8>) -> bool;
}

impl ScopeGroup for () {
    #[cfg(feature = "redis")]
    fn wire_encode(&self, _: &mut Vec<u8>) -> bool {
        true
    }
}

impl<A: Any + Send + Sync + Hash, R: ScopeGroup> ScopeGroup for (A, R) {
    #[cfg(feature = "redis")]
    fn wire_encode(&self, out: &mut Vec<u8>) -> bool {
        crate::keys::wire::encode_leaf(&self.0, out) && self.1.wire_encode(out)
    }
}

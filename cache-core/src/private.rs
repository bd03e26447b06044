//! What `#[ttl_cached]` expansions call. Not public API: names and signatures here change
//! whenever the macro and the runtime change together.

use std::future::Future;
use std::marker::PhantomData;

pub use crate::flight::{Lead, Start};
pub use crate::handle::CacheHandle;
pub use crate::parts::{
    group_part, part, CacheKeyPart, CheckedPart, InvalidPart, Key, KeyPart, NotAKeyPart,
    NotOwnedPart, OptionPart, OptionRefPart, Part, PartList, PartTag, RefPart, RefRefPart, StrLike,
    StrPart, StrRefPart, UnownedPart, ValuePart,
};
pub use crate::policy::{Plain, Policy, TryRetry, TryShared};

/// The receiver of the return-type dispatch.
///
/// `(&&&&&ReturnTag::<R>::NEW).__ttl_cached_policy()` picks, by autoref-based specialization on
/// the concrete return type (aliases such as `anyhow::Result<T>` included), the first that
/// applies of:
/// 1. `Result<T, E>` with a storable `T` and `E: Clone + Send + Sync` → [`TryShared`]: `Ok`
///    stored, the error handed to coalesced waiters;
/// 2. `Result<T, E>` with a storable `T` → [`TryRetry`]: `Ok` stored, waiters retry;
/// 3. a storable `R` → [`Plain`]: every value stored;
/// 4. and 5. `Result<T, E>`, or any `R`, that cannot be stored → [`Unstorable`], a stand-in
///    that satisfies the rest of the expansion. The expansion then requires
///    `<P as StoredValue>::Stored: Clone + Send + Sync + 'static` through a check it generates,
///    spanned on the return type, which fails once, naming the user's type.
#[derive(Debug)]
pub struct ReturnTag<R>(PhantomData<fn() -> R>);

impl<R> ReturnTag<R> {
    /// The tag.
    pub const NEW: Self = Self(PhantomData);
}

macro_rules! dispatch_level {
    ($(#[$doc:meta])* $trait:ident, $receiver:ty, [$($params:tt)*], $policy:ty, $($bounds:tt)*) => {
        $(#[$doc])*
        pub trait $trait {
            /// The policy.
            type Policy;
            /// The policy.
            fn __ttl_cached_policy(&self) -> Self::Policy;
        }

        impl<$($params)*> $trait for $receiver where $($bounds)* {
            type Policy = $policy;
            #[inline]
            fn __ttl_cached_policy(&self) -> $policy {
                <$policy>::NEW
            }
        }
    };
}

dispatch_level!(
    /// Dispatch level 1.
    SharedErrKind, &&&&ReturnTag<Result<T, E>>, [T, E], TryShared<T, E>,
    T: Clone + Send + Sync, E: Clone + Send + Sync
);
dispatch_level!(
    /// Dispatch level 2.
    RetryErrKind, &&&ReturnTag<Result<T, E>>, [T, E], TryRetry<T, E>,
    T: Clone + Send + Sync
);
dispatch_level!(
    /// Dispatch level 3.
    PlainKind, &&ReturnTag<R>, [R], Plain<R>,
    R: Clone + Send + Sync
);
dispatch_level!(
    /// Dispatch level 4: a `Result` whose `Ok` type cannot be stored.
    UnstorableOkKind, &ReturnTag<Result<T, E>>, [T, E], Unstorable<Result<T, E>, T>,
);
dispatch_level!(
    /// Dispatch level 5: a return type that cannot be stored.
    UnstorableKind, ReturnTag<R>, [R], Unstorable<R, R>,
);

/// The stand-in policy for a return type whose stored part `S` is not
/// `Clone + Send + Sync + 'static`: it satisfies the expansion's other bounds so that the
/// expansion's own check reports the problem once, on the return type.
#[derive(Debug)]
pub struct Unstorable<R, S>(PhantomData<fn() -> (R, S)>);

impl<R, S> Unstorable<R, S> {
    /// The policy.
    pub const NEW: Self = Self(PhantomData);
}

impl<R, S> Policy for Unstorable<R, S> {
    type Value = ();
    type Output = R;
    fn storable(&self, _: &R) -> Option<()> {
        None
    }
    fn share(&self, _: &R) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        None
    }
    fn answer(&self, (): ()) -> R {
        unreachable!("an unstorable return type never compiles: the expansion rejects it")
    }
    fn answer_shared(&self, _: &(dyn std::any::Any + Send + Sync)) -> Option<R> {
        None
    }
}

pub use crate::policy::StoredValue;

impl<V> StoredValue for Plain<V> {
    type Stored = V;
}
impl<V, E> StoredValue for TryRetry<V, E> {
    type Stored = V;
}
impl<V, E> StoredValue for TryShared<V, E> {
    type Stored = V;
}
impl<R, S> StoredValue for Unstorable<R, S> {
    type Stored = S;
}

/// A type the cache can store.
pub trait CacheValue: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

/// The rest of a miss once the caller leads: runs the fetch, then stores and publishes its
/// outcome. One future for both, so that the cached function's own state machine has one
/// suspension point fewer (each costs every cached function type and borrow checking). `R`,
/// named by the expansion, fixes the fetch's output to the function's return type, so `return`
/// and `?` in the body are checked against it, as they would be in the original `async fn`.
pub async fn complete<R, F, G, K, P>(lead: Lead<'_, G, K, P::Value>, fetch: F, policy: &P) -> R
where
    F: Future<Output = R>,
    P: Policy<Output = R>,
{
    let outcome = match crate::stale::catch_unwind(fetch).await {
        Ok(outcome) => outcome,
        Err(payload) => return lead.panicked(payload, policy),
    };
    lead.finish(outcome, policy).await
}

/// The hit path of a `#[ttl_cached]` function: plain synchronous code, so a hit does not
/// build or poll the miss path's future.
#[inline]
pub fn lookup<GP, RP, P>(handle: &CacheHandle, key: &Key<GP, RP>, policy: &P) -> Option<P::Output>
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    cache
        .store
        .lookup(key, cache.current_epoch())
        .map(|value| policy.answer(value))
}

/// The miss path of a `#[ttl_cached]` function: waits for a running fetch, or makes the caller
/// its leader.
pub async fn start<'c, GP, RP, P>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
    policy: &P,
) -> Start<P::Output, Lead<'c, GP::Owned, RP::Owned, P::Value>>
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    // Takes part in the backplane before its first fetch takes a stamp.
    #[cfg(feature = "redis")]
    crate::backplane::link_handle::<GP, RP, _, _, _>(handle, cache);
    // Boxed: the miss path's state machine stays out of the caller's future.
    Box::pin(cache.start(key, policy)).await
}

/// What [`start_stale`] found: as [`Start`], or an expired value served at once
/// (`Stale`), with the background refresh the caller leads, if it does, to spawn with
/// [`revalidate`].
#[derive(Debug)]
pub enum StaleStart<O, L, R> {
    /// Answered: another caller's fetch, or a live value.
    Done(O),
    /// The caller fetches, inline.
    Lead(L),
    /// The expired value, and the refresh to spawn if no fetch of the key was running.
    Stale(O, Option<R>),
}

/// A background refresh a `stale = ".."` function's caller leads, not yet spawned: dropped
/// unspawned (the parameters' copies panicked), it abandons the key's flight, so that callers
/// waiting on it fetch themselves.
pub struct Revalidate<G, K, V>(
    crate::stale::Background<&'static crate::cache::Inner<G, K, V>, G, K, V>,
)
where
    G: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static;

impl<G, K, V> std::fmt::Debug for Revalidate<G, K, V>
where
    G: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Revalidate")
    }
}

/// The miss path of a `stale = ".."` function: the expired value inside the window (and the
/// refresh to start, if the caller leads it), else as [`start`]. Nothing of the function's
/// parameters is needed yet: the caller copies them only when it fetches or refreshes.
pub async fn start_stale<GP, RP, P>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
    policy: &P,
) -> StaleStart<
    P::Output,
    Lead<'static, GP::Owned, RP::Owned, P::Value>,
    Revalidate<GP::Owned, RP::Owned, P::Value>,
>
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache: &'static crate::cache::Inner<GP::Owned, RP::Owned, P::Value> =
        handle.typed::<GP::Owned, RP::Owned, P::Value>();
    if let Some((answer, refresh)) = cache.claim_stale(&cache, key, policy) {
        return StaleStart::Stale(answer, refresh.map(Revalidate));
    }
    match Box::pin(cache.start(key, policy)).await {
        Start::Done(done) => StaleStart::Done(done),
        Start::Lead(lead) => StaleStart::Lead(lead),
    }
}

/// Spawns a `stale = ".."` function's background refresh on the caller's runtime. `fetch` is
/// the function's body over owned copies of its parameters, so it must be `Send + 'static`.
pub fn revalidate<G, K, V, F, P>(refresh: Revalidate<G, K, V>, fetch: F, policy: P)
where
    G: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    P: Policy<Value = V> + Send + Sync + 'static,
    P::Output: Send,
    F: Future<Output = P::Output> + Send + 'static,
{
    refresh.0.spawn(fetch, policy);
}

pub use crate::refresh::{Refresh, Refreshing};

/// `refresh_<fn>`, first half: leads a refresh of the key (taking its flight entry, removing its
/// stored value) and returns the leadership for [`refreshing`] to lend to the call of `<fn>`.
pub fn begin_refresh<GP, RP, P>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
    _policy: &P,
) -> Refresh
where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    #[cfg(feature = "redis")]
    crate::backplane::link_handle::<GP, RP, _, _, _>(handle, cache);
    let lead = cache.lead_refresh(key);
    // The other replicas drop the key and fetch it anew.
    #[cfg(feature = "redis")]
    drop(crate::backplane::publish_handle_key::<GP, RP>(
        handle,
        &key.group.to_owned_parts(),
        &key.rest.to_owned_parts(),
    ));
    Refresh::new(cache, lead)
}

/// `refresh_<fn>`, second half: the call of `<fn>`, which leads the refresh.
pub fn refreshing<F: Future>(refresh: Refresh, call: F) -> Refreshing<F> {
    Refreshing::new(refresh, call)
}

/// `invalidate_<fn>(group parameters...)`: invalidates when called (the companion is a plain
/// `fn`), whether or not the returned future is awaited.
pub fn invalidate_group<GP: PartList>(
    handle: &'static CacheHandle,
    group: &GP,
) -> crate::Invalidated<usize> {
    let owned = group.to_owned_parts();
    let invalidated = handle.invalidate_group_erased(&owned);
    // After the local eviction: the other replicas' (see `backplane`).
    #[cfg(feature = "redis")]
    let invalidated =
        invalidated.delivering(crate::backplane::publish_handle_group::<GP>(handle, &owned));
    invalidated
}

/// `invalidate_<fn>_key(key parameters...)`: invalidates when called, like
/// [`invalidate_group`].
pub fn invalidate_key<GP: PartList, RP: PartList>(
    handle: &'static CacheHandle,
    key: &Key<GP, RP>,
) -> crate::Invalidated<bool> {
    let (group, rest) = (key.group.to_owned_parts(), key.rest.to_owned_parts());
    let invalidated = handle.invalidate_key_erased(&group, &rest);
    #[cfg(feature = "redis")]
    let invalidated = invalidated.delivering(crate::backplane::publish_handle_key::<GP, RP>(
        handle, &group, &rest,
    ));
    invalidated
}

/// The caches of a `#[ttl_cached]` function: the cached function, `<fn>_cache()` and
/// `invalidate_<fn>` each keep one of these in a `static` of their own, and all three find the
/// same cache through a registry keyed by the attribute's source position (`site`), the
/// function's name and its owner; the first owner a `static` sees is kept beside it, so that
/// outside generic impls the registry is read once per `static`.
///
/// The owner is `Self` where the expansion can name it (a method): in `impl<T> Client<T>`, one
/// cache per `T`, since sharing one would hand a `Client<A>` value to a `Client<B>` caller. A receiver-less function
/// whose signature does not mention `Self` may be a free function or an associated function of
/// an unmarked impl, and its expansion cannot tell which; there the owner is read from the type
/// name of a closure written in the function ([`probe`]): `crate::module` for a free function,
/// `crate::Client<Doc>` for an associated function of `impl<T> Client<T>` called on
/// `Client<Doc>`, so that each instantiation still has its own cache.
///
/// ```
/// use cache_core::__private::{probe, SiteHandles};
/// use std::time::Duration;
///
/// struct Client<T>(T);
/// impl<T> Client<T> {
///     fn handle() -> &'static cache_core::CacheHandle {
///         static SITE: SiteHandles =
///             SiteHandles::new("list", "src/lib.rs:3:5", Duration::from_secs(60), 100);
///         SITE.of_probe(probe(&|| {}))
///     }
///     fn same() -> &'static cache_core::CacheHandle {
///         static SITE: SiteHandles =
///             SiteHandles::new("list", "src/lib.rs:3:5", Duration::from_secs(60), 100);
///         SITE.of_type::<Self>()
///     }
/// }
///
/// assert!(std::ptr::eq(Client::<u8>::handle(), Client::<u8>::same()));
/// assert!(!std::ptr::eq(Client::<u8>::handle(), Client::<u16>::handle()));
/// assert!(Client::<u8>::handle().name().ends_with("Client<u8>::list"));
/// ```
#[derive(Debug)]
pub struct SiteHandles {
    function: &'static str,
    site: &'static str,
    ttl: Setting<std::time::Duration>,
    capacity: Setting<usize>,
    options: crate::stale::Options,
    /// The first owner seen by this `static` (by its source string), and its cache: the only
    /// one outside generic impls, found without a lock.
    first: std::sync::OnceLock<(&'static str, &'static CacheHandle)>,
    more: std::sync::RwLock<Vec<(&'static str, &'static CacheHandle)>>,
}

/// The largest capacity an attribute's cache gets: a larger one, such as `capacity =
/// usize::MAX` for "no bound" (a path, or a `const` or `static` it names, whose value is known
/// only here, at run time), saturates to it. No machine holds this many entries, so the bound
/// changes nothing else; it keeps the sizes the eviction queues derive from the capacity (3 % of
/// it for the small queue) from overflowing, which panicked on the first call in debug builds.
const MAX_CAPACITY: usize = usize::MAX / 4;

/// The type name of `_closure`: `path::to::function::{{closure}}`, where the path names the
/// impl's type (with its generic arguments) or the module the function is in.
#[must_use]
pub fn probe<F>(_closure: &F) -> &'static str {
    std::any::type_name::<F>()
}

/// A setting of the attribute: written in it, or named by it (`ttl = LISTING_TTL`) and read
/// when the handle is made.
#[derive(Debug, Clone, Copy)]
enum Setting<T> {
    Written(T),
    Named(fn() -> T),
}

impl<T> Setting<T> {
    fn read(self) -> T {
        match self {
            Self::Written(value) => value,
            Self::Named(read) => read(),
        }
    }
}

impl SiteHandles {
    /// No cache yet; it is created, or found in the registry, on first use.
    pub const fn new(
        function: &'static str,
        site: &'static str,
        ttl: std::time::Duration,
        capacity: usize,
    ) -> Self {
        Self {
            function,
            site,
            ttl: Setting::Written(ttl),
            capacity: Setting::Written(capacity),
            options: crate::stale::Options::NONE,
            first: std::sync::OnceLock::new(),
            more: std::sync::RwLock::new(Vec::new()),
        }
    }

    /// For an attribute that names its `ttl` or `capacity` (`ttl = LISTING_TTL`): the settings
    /// are read when the handle is made.
    pub const fn configured(
        function: &'static str,
        site: &'static str,
        ttl: fn() -> std::time::Duration,
        capacity: fn() -> usize,
    ) -> Self {
        Self {
            function,
            site,
            ttl: Setting::Named(ttl),
            capacity: Setting::Named(capacity),
            options: crate::stale::Options::NONE,
            first: std::sync::OnceLock::new(),
            more: std::sync::RwLock::new(Vec::new()),
        }
    }

    /// `stale = "30s"`: the window after the TTL in which an expired value is served while
    /// one background refresh runs.
    #[must_use]
    pub const fn stale(mut self, window: std::time::Duration) -> Self {
        self.options.stale = window;
        self
    }

    /// `stale_if_error = "5m"`: the window in which an expired value stands in for a failed
    /// fetch.
    #[must_use]
    pub const fn stale_if_error(mut self, window: std::time::Duration) -> Self {
        self.options.stale_if_error = window;
        self
    }

    /// `jitter = "10%"`: the fraction of the TTL by which each value's TTL may be shortened
    /// (checked by the macro to be in `0.0..=1.0`).
    #[must_use]
    pub const fn jitter(mut self, fraction: f64) -> Self {
        self.options.jitter = fraction;
        self
    }

    /// The cache of the function as a member of `T`.
    #[inline]
    pub fn of_type<T: ?Sized>(&'static self) -> &'static CacheHandle {
        self.of_source(std::any::type_name::<T>(), owner_of_type)
    }

    /// The cache of the function in which the closure named by `probe` was written.
    #[inline]
    pub fn of_probe(&'static self, probe: &'static str) -> &'static CacheHandle {
        self.of_source(probe, owner_of_probe)
    }

    /// The first owner's cache, read inline; everything else is out of line in [`Self::find`],
    /// so that each of the many call sites (every cached function and its companions) keeps a
    /// load, a comparison and a call.
    #[inline]
    fn of_source(
        &'static self,
        source: &'static str,
        owner: fn(&str) -> String,
    ) -> &'static CacheHandle {
        if let Some(&(first_source, first)) = self.first.get() {
            if std::ptr::eq(first_source, source) || first_source == source {
                return first;
            }
        }
        self.find(source, owner)
    }

    /// The first call through this `static`, or another owner than the first.
    #[cold]
    #[inline(never)]
    fn find(
        &'static self,
        source: &'static str,
        owner: fn(&str) -> String,
    ) -> &'static CacheHandle {
        let (first_source, first) = *self
            .first
            .get_or_init(|| (source, self.registered(&owner(source))));
        if std::ptr::eq(first_source, source) || first_source == source {
            return first;
        }
        self.other(source, owner)
    }

    /// Another instantiation than the first (a generic impl, or an `impl Trait` parameter):
    /// found in this `static`'s list, else in the registry.
    #[cold]
    fn other(
        &'static self,
        source: &'static str,
        owner: fn(&str) -> String,
    ) -> &'static CacheHandle {
        let found = |list: &[(&'static str, &'static CacheHandle)]| {
            list.iter().find(|(s, _)| *s == source).map(|(_, h)| *h)
        };
        // A poisoned lock only means another thread panicked while pushing; the list is valid.
        if let Some(handle) = found(&self.more.read().unwrap_or_else(|e| e.into_inner())) {
            return handle;
        }
        let mut more = self.more.write().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = found(&more) {
            return handle;
        }
        let handle = self.registered(&owner(source));
        more.push((source, handle));
        handle
    }

    #[cold]
    fn registered(&self, owner: &str) -> &'static CacheHandle {
        type Registry =
            std::collections::HashMap<(&'static str, &'static str, String), &'static CacheHandle>;
        static REGISTRY: std::sync::Mutex<Option<Registry>> = std::sync::Mutex::new(None);
        // A capacity above `MAX_CAPACITY` (`capacity = usize::MAX`, "no bound") saturates.
        let (ttl, capacity) = (self.ttl.read(), self.capacity.read().min(MAX_CAPACITY));
        // A zero written in the attribute is a compile error; a zero it names is found here.
        if ttl.is_zero() || capacity == 0 {
            let which = if ttl.is_zero() { "ttl" } else { "capacity" };
            panic!(
                "cache `{owner}::{}`: the `{which}` named in its `#[ttl_cached]` attribute is \
                 zero, which would cache nothing",
                self.function
            );
        }
        // A poisoned lock only means another thread panicked while inserting; the map is valid.
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let key = (self.site, self.function, owner.to_owned());
        let map = registry.get_or_insert_with(Default::default);
        if let Some(handle) = map.get(&key).copied() {
            return handle;
        }
        let name: &'static str = Box::leak(format!("{owner}::{}", self.function).into_boxed_str());
        let handle: &'static CacheHandle = Box::leak(Box::new(
            CacheHandle::__new(name, ttl, capacity).with_options(self.options),
        ));
        map.insert(key, handle);
        handle
    }
}

/// The owner named by `std::any::type_name::<Self>()`: the type itself.
fn owner_of_type(ty: &str) -> String {
    ty.to_owned()
}

/// `crate::Client<u8>` from `crate::Client<u8>::get_cache::{{closure}}` or, in an `async fn`,
/// `crate::Client<u8>::get::{{closure}}::{{closure}}`: the closures (any last segment in braces,
/// whatever rustc's spelling) and the function, with its generic arguments (which an
/// `impl Trait` parameter gives it), go.
fn owner_of_probe(probe: &str) -> String {
    let mut path = probe;
    while let Some((rest, last)) = split_last_segment(path) {
        path = rest;
        if !last.starts_with('{') {
            break;
        }
    }
    path.to_owned()
}

/// `path` split at its last `::` outside `<...>`.
fn split_last_segment(path: &str) -> Option<(&str, &str)> {
    let bytes = path.as_bytes();
    let mut depth = 0usize;
    let mut last = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            // `->` in a function pointer type is not a closing bracket.
            b'>' if i == 0 || bytes[i - 1] != b'-' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => last = Some(i),
            _ => {}
        }
    }
    last.map(|i| (&path[..i], &path[i + 2..]))
}

/// Required of the receiver's type by `stale = ".."` on a `&self` method: the background
/// refresh runs the body on a clone of `self`, in a task spawned on the caller's runtime.
#[diagnostic::on_unimplemented(
    message = "with `stale`, the background refresh runs on a clone of `self`, so `{Self}` must be `Clone + Send + Sync + 'static`",
    label = "the refresh runs on a clone of this `self`",
    note = "derive or implement `Clone` for `{Self}` (hold the client's state in an `Arc` to make the clone cheap), keep it `Send + Sync` and free of borrows; or use `stale_if_error = \"5m\"`, which serves the expired value when a fetch fails and runs no background refresh"
)]
pub trait StaleReceiver: Clone + Send + Sync + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static> StaleReceiver for T {}

/// The clone of `self` that a `stale` method's body runs on, made only when the body runs (a
/// miss, or the refresh of an expired value); fails with [`StaleReceiver`]'s message unless the
/// receiver's type can be cloned into the refresh.
#[inline]
pub fn clone_receiver<T: StaleReceiver>(receiver: &T) -> T {
    receiver.clone()
}

/// Required of `Self` by the companions of a method-level `#[ttl_cached]`: true of the self type
/// of every impl of a sized type, false of `Self` in a trait, where the companions would become
/// items of the trait.
#[diagnostic::on_unimplemented(
    message = "`#[ttl_cached]` on a trait's method would add its companions `<method>_cache` and `invalidate_<method>` to the trait",
    label = "cache the method in each impl of the trait instead",
    note = "in each impl, put `#[ttl_cached]` on the impl block and `#[ttl_cached(...)]` on the method; in an impl of an unsized type (`impl dyn Trait`), which the expansion cannot tell from a trait, put `#[ttl_cached]` on the impl block"
)]
pub trait MethodOfAnImpl {}

#[diagnostic::do_not_recommend]
impl<T> MethodOfAnImpl for T {}

/// Fails, with [`MethodOfAnImpl`]'s message, where `T` is a trait's `Self`.
#[inline]
pub fn method_of_an_impl<T: ?Sized + MethodOfAnImpl>() {}

/// A `scope = S` function's miss path and its `refresh_<fn>`: joins the function's cache to the
/// scope before the fetch or refresh takes its stamp (see `scope.rs`), once.
#[inline]
pub fn join_scope<GP, RP, P>(
    handle: &'static CacheHandle,
    _key: &Key<GP, RP>,
    _policy: &P,
    scope: &'static crate::ScopeCore,
) where
    GP: PartList,
    RP: PartList,
    P: Policy,
    P::Value: CacheValue,
{
    let cache = handle.typed::<GP::Owned, RP::Owned, P::Value>();
    if cache.scope.get().is_none() {
        // The scope receives the other replicas' invalidations once a member is here.
        #[cfg(feature = "redis")]
        crate::backplane::link_scope::<GP>(scope);
        scope.join(handle);
        let _ = cache.scope.set(scope);
    }
}

/// The owned group of a function, as a type to compare with a scope's: see [`check_scope`].
#[derive(Debug)]
pub struct GroupParts<G>(PhantomData<G>);

/// Implemented exactly when a function's owned group parts are the scope's: `scope!` implements
/// it for its scope's group.
#[diagnostic::on_unimplemented(
    message = "this function's group does not have the parts of the scope `{S}`",
    label = "the group's parts must be the scope's, in the same order",
    note = "a function joins a scope only if its `group` template names parameters whose owned types are the types in the scope's declaration (`String` for a `&str` parameter), in order"
)]
pub trait GroupOfScope<S> {}

// Implemented by each `scope!` declaration, for its own group only. This impl, which no group
// meets, keeps that one impl from being the only candidate: with one, rustc would report a
// mismatch as a type equation between the expansion's internal types instead of this message.
#[diagnostic::do_not_recommend]
impl<S> GroupOfScope<S> for GroupParts<NoGroup> {}

/// A type no group has: see the impl above.
#[derive(Debug)]
pub enum NoGroup {}

/// Fails to compile, with [`GroupOfScope`]'s message, unless `GP`'s owned parts are `S`'s group.
#[inline]
pub fn check_scope<S, GP>(_group: &GP)
where
    S: crate::Scope,
    GP: PartList,
    GroupParts<GP::Owned>: GroupOfScope<S>,
{
}

#[cfg(test)]
mod tests {
    use super::owner_of_probe;

    #[test]
    fn the_owner_is_what_precedes_the_function() {
        let cases = [
            ("app::list::{{closure}}::{{closure}}", "app"),
            ("app::list_cache::{{closure}}", "app"),
            ("app::Client<u8>::get_cache::{{closure}}", "app::Client<u8>"),
            (
                "app::Client<alloc::string::String>::get::{{closure}}",
                "app::Client<alloc::string::String>",
            ),
            (
                "app::Client<fn(u8) -> app::X>::get::{closure#0}",
                "app::Client<fn(u8) -> app::X>",
            ),
            (
                "app::report<app::main::{{closure}}>::{{closure}}::{{closure}}",
                "app",
            ),
            (
                "<dyn app::Source>::scaled::{{closure}}",
                "<dyn app::Source>",
            ),
            ("app::main::double::{{closure}}", "app::main"),
        ];
        for (probe, owner) in cases {
            assert_eq!(owner_of_probe(probe), owner, "{probe}");
        }
    }
}

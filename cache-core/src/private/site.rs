//! Where a cached function's cache is found: [`SiteHandles`], one `static` per expansion site,
//! and the registry of every function's cache by site, name and owner.

use crate::api::handle::{CacheHandle, Options};

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
    options: Options,
    /// The first owner seen by this `static` (by its source string), and its cache: the only
    /// one outside generic impls, found without a lock.
    first: std::sync::OnceLock<(&'static str, &'static CacheHandle)>,
    more: std::sync::RwLock<Vec<(&'static str, &'static CacheHandle)>>,
}

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
            options: Options::NONE,
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
            options: Options::NONE,
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

    /// `throttle = "5s"`: how long the upstream of a key is left alone after a failed fetch
    /// whose expired value stood in for it.
    #[must_use]
    pub const fn throttle(mut self, period: std::time::Duration) -> Self {
        self.options.throttle = Some(period);
        self
    }

    /// `timeout = "10s"`: how long a fetch may run before it is dropped.
    #[must_use]
    pub const fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.options.timeout = Some(limit);
        self
    }

    /// `soft_timeout = "500ms"`: how long a caller with an expired value waits for its fetch.
    #[must_use]
    pub const fn soft_timeout(mut self, limit: std::time::Duration) -> Self {
        self.options.soft_timeout = Some(limit);
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
        let (ttl, capacity) = (self.ttl.read(), self.capacity.read());
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

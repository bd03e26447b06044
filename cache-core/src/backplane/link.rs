//! Which caches take part, under which names, and how their keys are encoded, published and
//! applied.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use super::message::{Kind, Message};
use super::task::Outgoing;
use super::{BackplaneError, PublishError, COUNTERS, INSTALLED};
use crate::api::handle::CacheHandle;
use crate::api::ttl_cache::TtlCache;
use crate::cache::Inner;
use crate::features::scope::ScopeCore;
use crate::keys::wire::WireKey;
use crate::parts::PartList;

type Encoder = fn(&dyn Any, &mut Vec<u8>) -> bool;

/// How a cache takes part: its name and its key encoders. Set once, before the cache's first
/// fetch takes its stamp (for a `#[ttl_cached]` cache) or by [`attach`].
#[derive(Debug)]
pub(crate) struct Link {
    name: Arc<str>,
    group: Encoder,
    key: Encoder,
    /// Refused for a name already taken: stores nothing while the backplane is installed.
    refused: bool,
}

impl Link {
    /// Whether the cache may store now.
    pub(crate) fn storing_allowed(&self) -> bool {
        if self.refused {
            !super::installed()
        } else {
            super::storing_allowed()
        }
    }

    pub(crate) fn publish_group(&self, group: &dyn Any) -> Option<Delivery> {
        self.publish(Kind::Group, Some(group), None)
    }

    pub(crate) fn publish_key(&self, group: &dyn Any, key: &dyn Any) -> Option<Delivery> {
        self.publish(Kind::Key, Some(group), Some(key))
    }

    pub(crate) fn publish_clear(&self) -> Option<Delivery> {
        self.publish(Kind::Clear, None, None)
    }

    fn publish(
        &self,
        kind: Kind,
        group: Option<&dyn Any>,
        key: Option<&dyn Any>,
    ) -> Option<Delivery> {
        if self.refused {
            return None;
        }
        let (mut g, mut k) = (Vec::new(), Vec::new());
        let encoded = group.is_none_or(|group| (self.group)(group, &mut g))
            && key.is_none_or(|key| (self.key)(key, &mut k));
        // A part of a type with no wire encoding: the other replicas clear the whole cache,
        // which evicts at least what was asked.
        let kind = if encoded { kind } else { Kind::Clear };
        if !encoded {
            g.clear();
            k.clear();
        }
        send(kind, &self.name, &g, &k)
    }
}

/// Sends one message; `None` when no backplane is installed.
fn send(kind: Kind, target: &str, group: &[u8], key: &[u8]) -> Option<Delivery> {
    let installed = INSTALLED.get()?;
    let payload = Message {
        kind,
        origin: &installed.replica_id,
        target,
        group,
        key,
    }
    .encode();
    let (done, delivery) = tokio::sync::oneshot::channel();
    if installed
        .outgoing
        .send(Outgoing {
            payload,
            done: Some(done),
        })
        .is_err()
    {
        return Some(Delivery::Failed(PublishError::Closed));
    }
    Some(Delivery::Pending(delivery))
}

/// The outcome of one invalidation's publish, awaited by
/// [`Invalidated::published`](crate::Invalidated::published).
#[derive(Debug)]
pub(crate) enum Delivery {
    Pending(tokio::sync::oneshot::Receiver<Result<(), PublishError>>),
    Failed(PublishError),
}

impl Future for Delivery {
    type Output = Result<(), PublishError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Pending(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(PublishError::Closed))),
            Self::Failed(e) => Poll::Ready(Err(e.clone())),
        }
    }
}

/// What a replica does with a message for one of its caches or scopes.
trait Receive: Send + Sync {
    /// Evicts the encoded group; `false` if the bytes do not decode.
    fn group(&self, group: &[u8]) -> bool;
    /// Evicts the encoded key; `false` if the bytes do not decode.
    fn key(&self, group: &[u8], key: &[u8]) -> bool;
    /// Evicts everything (a clear, or a message that did not decode).
    fn clear(&self);
    /// Whether the cache still exists (a dropped `TtlCache` frees its name).
    fn alive(&self) -> bool {
        true
    }
}

struct Registered {
    /// The cache's (or scope's) address: the same cache registering again is not a duplicate.
    identity: usize,
    receiver: Arc<dyn Receive>,
}

#[derive(Default)]
struct Registry {
    caches: HashMap<Arc<str>, Registered>,
    scopes: HashMap<&'static str, Registered>,
    /// `#[ttl_cached]` caches refused for a name already taken: they receive nothing, store
    /// nothing while the backplane is installed, and are emptied with the others, so that what
    /// they stored before `install` is not served after it.
    refused: Vec<Arc<dyn Receive>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    // Poisoned only by a panic in a map operation; the maps are valid.
    let mut guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Registry::default))
}

/// Registers `receiver` under `name`, unless another cache has it.
fn register(name: &Arc<str>, identity: usize, receiver: Arc<dyn Receive>) -> bool {
    with_registry(|r| match r.caches.get(name) {
        Some(existing) if existing.receiver.alive() => existing.identity == identity,
        _ => {
            r.caches
                .insert(Arc::clone(name), Registered { identity, receiver });
            true
        }
    })
}

/// Empties every attached cache (health transitions), locally only.
pub(super) fn clear_all_attached() {
    let receivers: Vec<Arc<dyn Receive>> = with_registry(|r| {
        r.caches
            .values()
            .map(|c| Arc::clone(&c.receiver))
            .chain(r.refused.iter().cloned())
            .collect()
    });
    // Outside the lock: a clear drops values, which runs user code.
    for receiver in receivers {
        receiver.clear();
    }
}

/// Applies a message from another replica.
pub(super) fn apply(message: &Message<'_>) {
    let receiver = with_registry(|r| {
        let table = if message.kind == Kind::Scope {
            r.scopes.get(message.target)
        } else {
            r.caches.get(message.target)
        };
        table.map(|c| Arc::clone(&c.receiver))
    });
    let Some(receiver) = receiver else {
        // Not created here: nothing stored, nothing in flight.
        COUNTERS.unknown_target.fetch_add(1, SeqCst);
        return;
    };
    let decoded = match message.kind {
        Kind::Group | Kind::Scope => receiver.group(message.group),
        Kind::Key => receiver.key(message.group, message.key),
        Kind::Clear => {
            receiver.clear();
            true
        }
    };
    if decoded {
        COUNTERS.applied.fetch_add(1, SeqCst);
    } else {
        reject(message.kind, message.target);
    }
}

/// A message whose body did not decode: clears what it named (fail closed).
pub(super) fn reject(kind: Kind, target: &str) {
    COUNTERS.rejected.fetch_add(1, SeqCst);
    warn_rejected(target);
    let receiver = with_registry(|r| {
        let table = if kind == Kind::Scope {
            r.scopes.get(target)
        } else {
            r.caches.get(target)
        };
        table.map(|c| Arc::clone(&c.receiver))
    });
    if let Some(receiver) = receiver {
        receiver.clear();
    }
}

fn warn_rejected(target: &str) {
    tracing::warn!(target: "cache_core::backplane", cache = target, "undecodable invalidation: cleared instead");
}

type Decoder<T> = fn(&mut &[u8]) -> Option<T>;

/// A `#[ttl_cached]` function's cache: decodes with the expansion's part lists.
struct HandleReceiver<G, K> {
    handle: &'static CacheHandle,
    group: Decoder<G>,
    key: Decoder<K>,
}

impl<G: Any + Send + Sync, K: Any + Send + Sync> Receive for HandleReceiver<G, K> {
    fn group(&self, group: &[u8]) -> bool {
        let Some(group) = decode_exact(group, self.group) else {
            return false;
        };
        drop(self.handle.invalidate_group_erased(&group));
        true
    }
    fn key(&self, group: &[u8], key: &[u8]) -> bool {
        let (Some(group), Some(key)) =
            (decode_exact(group, self.group), decode_exact(key, self.key))
        else {
            return false;
        };
        drop(self.handle.invalidate_key_erased(&group, &key));
        true
    }
    fn clear(&self) {
        drop(self.handle.clear_local());
    }
}

fn decode_exact<T>(mut bytes: &[u8], decode: fn(&mut &[u8]) -> Option<T>) -> Option<T> {
    let value = decode(&mut bytes)?;
    bytes.is_empty().then_some(value)
}

fn encode_parts<P: PartList>(owned: &dyn Any, out: &mut Vec<u8>) -> bool {
    owned
        .downcast_ref::<P::Owned>()
        .is_some_and(|owned| P::wire_encode(owned, out))
}

/// Makes a `#[ttl_cached]` function's cache take part, once, before its first fetch takes its
/// stamp. Called on the miss path only.
pub(crate) fn link_handle<GP, RP, G, K, V>(handle: &'static CacheHandle, cache: &Inner<G, K, V>)
where
    GP: PartList<Owned = G>,
    RP: PartList<Owned = K>,
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    if cache.link.get().is_some() {
        return;
    }
    let name: Arc<str> = Arc::from(handle.name());
    let receiver = Arc::new(HandleReceiver::<G, K> {
        handle,
        group: GP::wire_decode,
        key: RP::wire_decode,
    });
    let accepted = register(
        &name,
        std::ptr::from_ref(handle) as usize,
        Arc::clone(&receiver) as Arc<dyn Receive>,
    );
    if !accepted {
        refused(&name);
        with_registry(|r| r.refused.push(receiver));
        if super::installed() {
            // Installed already: what it stored before is not to be served.
            drop(handle.clear_local());
        }
    }
    let _ = cache.link.set(Link {
        name,
        group: encode_parts::<GP>,
        key: encode_parts::<RP>,
        refused: !accepted,
    });
}

/// Whether `handle`'s name was taken by another cache (then it does not publish either).
fn taken_by_another(handle: &CacheHandle) -> bool {
    let identity = std::ptr::from_ref(handle) as usize;
    with_registry(|r| {
        r.caches
            .get(handle.name())
            .is_some_and(|c| c.identity != identity && c.receiver.alive())
    })
}

/// Publishes a `#[ttl_cached]` cache's group invalidation, whether or not the cache exists in
/// this process yet: it may on the other replicas.
pub(crate) fn publish_handle_group<GP: PartList>(
    handle: &'static CacheHandle,
    group: &GP::Owned,
) -> Option<Delivery> {
    if !super::installed() || taken_by_another(handle) {
        return None;
    }
    let mut bytes = Vec::new();
    if GP::wire_encode(group, &mut bytes) {
        send(Kind::Group, handle.name(), &bytes, &[])
    } else {
        send(Kind::Clear, handle.name(), &[], &[])
    }
}

/// Publishes a `#[ttl_cached]` cache's key invalidation; see [`publish_handle_group`].
pub(crate) fn publish_handle_key<GP: PartList, RP: PartList>(
    handle: &'static CacheHandle,
    group: &GP::Owned,
    key: &RP::Owned,
) -> Option<Delivery> {
    if !super::installed() || taken_by_another(handle) {
        return None;
    }
    let (mut g, mut k) = (Vec::new(), Vec::new());
    if GP::wire_encode(group, &mut g) && RP::wire_encode(key, &mut k) {
        send(Kind::Key, handle.name(), &g, &k)
    } else {
        send(Kind::Clear, handle.name(), &[], &[])
    }
}

/// Publishes a `#[ttl_cached]` cache's clear; see [`publish_handle_group`].
pub(crate) fn publish_handle_clear(handle: &CacheHandle) -> Option<Delivery> {
    if !super::installed() || taken_by_another(handle) {
        return None;
    }
    send(Kind::Clear, handle.name(), &[], &[])
}

fn refused(name: &str) {
    COUNTERS.refused_names.fetch_add(1, SeqCst);
    tracing::error!(target: "cache_core::backplane", cache = name, "a second cache with this name was refused; it stores nothing while the backplane is installed");
}

/// A scope whose members are on this replica: registered when its first member joins.
struct ScopeReceiver<G> {
    core: &'static ScopeCore,
    group: Decoder<G>,
}

impl<G: Any + Send + Sync + std::hash::Hash> Receive for ScopeReceiver<G> {
    fn group(&self, group: &[u8]) -> bool {
        let Some(group) = decode_exact(group, self.group) else {
            return false;
        };
        drop(self.core.invalidate_typed(&group));
        true
    }
    fn key(&self, _: &[u8], _: &[u8]) -> bool {
        false
    }
    fn clear(&self) {
        self.core.clear_members();
    }
}

/// Registers a scope (its group's owned parts are `GP::Owned`) for the messages of other
/// replicas. A different scope under the same path is refused and counted.
pub(crate) fn link_scope<GP: PartList>(core: &'static ScopeCore) {
    let receiver = Arc::new(ScopeReceiver::<GP::Owned> {
        core,
        group: GP::wire_decode,
    });
    let identity = std::ptr::from_ref(core) as usize;
    let accepted = with_registry(|r| match r.scopes.get(core.wire_name()) {
        Some(existing) => existing.identity == identity,
        None => {
            r.scopes
                .insert(core.wire_name(), Registered { identity, receiver });
            true
        }
    });
    if !accepted {
        refused(core.wire_name());
    }
}

/// Publishes a scope invalidation; `None` when no backplane is installed.
pub(crate) fn publish_scope(core: &ScopeCore, group: &[u8]) -> Option<Delivery> {
    send(Kind::Scope, core.wire_name(), group, &[])
}

/// A [`TtlCache`] built with [`CacheBuilder::name`](crate::CacheBuilder::name): decodes with
/// its key types' [`WireKey`].
struct CacheReceiver<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: Weak<Inner<G, K, V>>,
}

impl<G, K, V> Receive for CacheReceiver<G, K, V>
where
    G: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    K: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn group(&self, group: &[u8]) -> bool {
        let Some(group) = G::from_wire(group) else {
            return false;
        };
        if let Some(cache) = self.cache.upgrade() {
            drop(cache.invalidate_group_by(&crate::keys::lookup::GroupOnly(&group)));
        }
        true
    }
    fn key(&self, group: &[u8], key: &[u8]) -> bool {
        let (Some(group), Some(rest)) = (G::from_wire(group), K::from_wire(key)) else {
            return false;
        };
        if let Some(cache) = self.cache.upgrade() {
            drop(cache.invalidate_key_by(&crate::keys::lookup::Pair {
                group: &group,
                rest: &rest,
            }));
        }
        true
    }
    fn clear(&self) {
        if let Some(cache) = self.cache.upgrade() {
            drop(cache.clear_all());
        }
    }
    fn alive(&self) -> bool {
        self.cache.strong_count() > 0
    }
}

fn encode_wire<T: WireKey + 'static>(value: &dyn Any, out: &mut Vec<u8>) -> bool {
    value.downcast_ref::<T>().map(|v| v.encode(out)).is_some()
}

/// Makes a [`TtlCache`] take part in the backplane under its name: its invalidations are
/// published, the other replicas' applied to it, and it is gated and cleared with the
/// subscription's health. The cache must have been given a name with
/// [`CacheBuilder::name`](crate::CacheBuilder::name), unique in the process; it stays attached
/// until dropped (the registry holds it weakly; its name is then free again).
///
/// # Errors
///
/// [`BackplaneError::Unnamed`] for a cache without a name of its own,
/// [`BackplaneError::DuplicateName`] for a name another cache took,
/// [`BackplaneError::InvalidOption`] for a name over 65 535 bytes.
///
/// ```
/// use cache_core::backplane::{attach, BackplaneError};
/// use cache_core::TtlCache;
/// use std::time::Duration;
///
/// let listings: TtlCache<String, u64, String> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).name("listings").build().unwrap();
/// attach(&listings).unwrap();
/// attach(&listings).unwrap(); // the same cache again: nothing changes
///
/// let other: TtlCache<String, u64, String> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).name("listings").build().unwrap();
/// assert_eq!(attach(&other), Err(BackplaneError::DuplicateName("listings".into())));
/// let unnamed: TtlCache<String, u64, String> =
///     TtlCache::builder().ttl(Duration::from_secs(60)).build().unwrap();
/// // A clone is the same cache: attached already.
/// attach(&listings.clone()).unwrap();
/// assert_eq!(attach(&unnamed), Err(BackplaneError::Unnamed));
/// ```
pub fn attach<G, K, V>(cache: &TtlCache<G, K, V>) -> Result<(), BackplaneError>
where
    G: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    K: WireKey + Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    // The builder's default name: a cache nobody named is not one replicas can agree on.
    if cache.name() == "ttl_cache" {
        return Err(BackplaneError::Unnamed);
    }
    if cache.name().len() > usize::from(u16::MAX) {
        return Err(BackplaneError::InvalidOption(
            "cache name over 65 535 bytes",
        ));
    }
    let name: Arc<str> = Arc::from(cache.name());
    let receiver = Arc::new(CacheReceiver {
        cache: Arc::downgrade(&cache.inner),
    });
    if !register(&name, Arc::as_ptr(&cache.inner) as usize, receiver) {
        return Err(BackplaneError::DuplicateName(name.to_string()));
    }
    if cache.inner.link.get().is_none() {
        // Closed from now on while the backplane is down: what it holds goes.
        let _ = cache.inner.link.set(Link {
            name,
            group: encode_wire::<G>,
            key: encode_wire::<K>,
            refused: false,
        });
        if !super::storing_allowed() {
            drop(cache.inner.clear_all());
        }
    }
    Ok(())
}

impl<G, K, V> Inner<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// How this cache publishes, if it takes part and a backplane is installed.
    pub(crate) fn backplane(&self) -> Option<&Link> {
        self.link.get().filter(|_| super::installed())
    }
}

//! How a generated `refresh_<fn>` runs the function's body as the leader of its refresh.
//!
//! The body exists once, inside the cached function; `refresh_<fn>` calls that function. Before
//! the call, it makes itself the leader of a refresh of the key (`Inner::lead_refresh`, in
//! `cache/fetch.rs`: the key's flight entry is its own and the stored value is gone, so the
//! function's lookup misses) and lends the leadership to the call through a thread-local slot
//! that is filled only while the call's future is being polled. The function's miss path
//! (`private::start`, `private::start_stale`) takes it from there with [`take`], if it is for
//! its own cache, instead of joining or leading a flight of its own. The hit path does not look
//! at the slot, and neither does the cache's own miss path, which knows nothing of this.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::cache::Inner;
use crate::engine::flight::Lead;

type Lent = Option<Box<dyn Any + Send>>;

thread_local! {
    /// The leadership lent to the future being polled on this thread, if any.
    static LENT: Cell<Lent> = const { Cell::new(None) };
}

/// A refresh's leadership, for the call of one cache's function.
struct Handoff<G: 'static, K: 'static, V: 'static> {
    /// The cache, by address: the leadership is for its function only.
    cache: usize,
    lead: Lead<'static, G, K, V>,
    /// The delivery of the refresh's key invalidation to the other replicas, which a refresh
    /// with a shared tier waits for before it fetches (see `cache/tier.rs`).
    #[cfg(feature = "redis-tier")]
    replaced: Option<crate::seam::Delivery>,
}

/// What `refresh_<fn>` lends to its call of `<fn>`.
#[derive(Debug)]
pub struct Refresh {
    lent: Lent,
}

impl Refresh {
    pub(crate) fn new<G, K, V>(
        cache: &'static Inner<G, K, V>,
        lead: Lead<'static, G, K, V>,
        #[cfg(feature = "redis-tier")] replaced: Option<crate::seam::Delivery>,
    ) -> Self
    where
        G: Hash + Eq + Clone + Send + Sync + 'static,
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let handoff = Handoff {
            cache: std::ptr::from_ref(cache) as usize,
            lead,
            #[cfg(feature = "redis-tier")]
            replaced,
        };
        Self {
            lent: Some(Box::new(handoff)),
        }
    }
}

/// The leadership lent to the future being polled, if it is for `cache`: the refresh's lead,
/// with what the leader must do before it fetches ([`Taken::lead`]).
pub(crate) fn take<G, K, V>(cache: &Inner<G, K, V>) -> Option<Taken<G, K, V>>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let lent = LENT.take()?;
    match lent.downcast::<Handoff<G, K, V>>() {
        Ok(handoff) if handoff.cache == std::ptr::from_ref(cache) as usize => Some(Taken(*handoff)),
        // For another function: a cached function its key parts called, say. Left in place.
        Ok(handoff) => {
            LENT.set(Some(handoff));
            None
        }
        Err(other) => {
            LENT.set(Some(other));
            None
        }
    }
}

/// A refresh's leadership, taken by its function's miss path.
pub(crate) struct Taken<G: 'static, K: 'static, V: 'static>(Handoff<G, K, V>);

impl<G, K, V> Taken<G, K, V>
where
    G: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The refresh's lead, once it may fetch: with a shared tier, after its key invalidation
    /// reached Redis and the generations it leaves were read (see `cache/tier.rs`), so that
    /// the value is written back under them.
    pub(crate) async fn lead(self, cache: &Inner<G, K, V>) -> Lead<'static, G, K, V> {
        #[cfg(feature = "redis-tier")]
        {
            let Handoff { lead, replaced, .. } = self.0;
            if replaced.is_some() && cache.tier.get().is_some() {
                Box::pin(cache.before_refresh(&lead.flight, replaced)).await;
            }
            lead
        }
        #[cfg(not(feature = "redis-tier"))]
        {
            let _ = cache;
            self.0.lead
        }
    }
}

/// `call` polled with `refresh`'s leadership lent to it; see the module documentation.
pub struct Refreshing<F> {
    lent: Lent,
    call: Pin<Box<F>>,
}

impl<F> std::fmt::Debug for Refreshing<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshing")
            .field("lent", &self.lent.is_some())
            .finish_non_exhaustive()
    }
}

impl<F> Refreshing<F> {
    pub(crate) fn new(refresh: Refresh, call: F) -> Self {
        Self {
            lent: refresh.lent,
            call: Box::pin(call),
        }
    }
}

impl<F: Future> Future for Refreshing<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if this.lent.is_none() {
            return this.call.as_mut().poll(cx);
        }
        /// Takes back what was not taken, and restores what an outer refresh had lent, also
        /// when the poll unwinds.
        struct Restore<'a> {
            lent: &'a mut Lent,
            outer: Lent,
        }
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                *self.lent = LENT.replace(self.outer.take());
            }
        }
        let outer = LENT.replace(this.lent.take());
        let _restore = Restore {
            lent: &mut this.lent,
            outer,
        };
        this.call.as_mut().poll(cx)
    }
}

//! One upstream fetch as operators see it: a `tracing` span around it (feature `tracing`:
//! `fetch`, with the cache's name and, once it ends, its outcome), so that a trace shows where a
//! request waited on the provider, and its latency in the `cache_fetch_duration_seconds`
//! histogram (feature `metrics`). Neither carries key contents: keys are often user ids.
//!
//! Only leaders watch: a fetch is one upstream call, however many callers wait for it. Without
//! both features the watch is empty and inlined away. With `metrics`, fetches are timed only
//! once [`time_fetches`] was called (by the first `metrics::report()`, which is when a recorder
//! may be listening): before, a fetch pays one load, no clock read and no allocation.

/// The upstream fetch latency histogram's name.
#[cfg(feature = "metrics")]
pub(crate) const FETCH_DURATION: &str = "cache_fetch_duration_seconds";

/// Whether fetches are timed: see [`time_fetches`].
#[cfg(feature = "metrics")]
static TIMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, every upstream fetch is timed and recorded.
#[cfg(feature = "metrics")]
pub(crate) fn time_fetches() {
    TIMED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// How an upstream fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(any(feature = "metrics", feature = "tracing")), allow(dead_code))]
pub(crate) enum Outcome {
    /// A value (stored or not).
    Ok,
    /// An `Err`.
    Error,
    /// The fetch panicked.
    Panic,
    /// The leader was dropped before the fetch ended.
    Cancelled,
}

impl Outcome {
    /// `ok` or `error`, as the policy reads the fetch's output.
    pub(crate) fn of(failed: bool) -> Self {
        if failed {
            Self::Error
        } else {
            Self::Ok
        }
    }

    #[cfg(any(feature = "metrics", feature = "tracing"))]
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Panic => "panic",
            Self::Cancelled => "cancelled",
        }
    }
}

#[cfg(any(feature = "metrics", feature = "tracing"))]
mod imp {
    use std::future::Future;

    use super::Outcome;

    /// A fetch being watched: ended with [`end`](Self::end), or, dropped first, counted as
    /// cancelled.
    pub(crate) struct Upstream<'a> {
        #[cfg(feature = "metrics")]
        cache: &'a str,
        #[cfg(not(feature = "metrics"))]
        cache: std::marker::PhantomData<&'a str>,
        /// When it began, if a report said a recorder may be listening.
        #[cfg(feature = "metrics")]
        started: Option<std::time::Instant>,
        #[cfg(feature = "tracing")]
        span: tracing::Span,
        ended: bool,
    }

    impl<'a> Upstream<'a> {
        /// A fetch of the cache named `cache` begins.
        pub(crate) fn begin(cache: &'a str) -> Self {
            Self {
                #[cfg(feature = "metrics")]
                cache,
                #[cfg(not(feature = "metrics"))]
                cache: std::marker::PhantomData,
                #[cfg(feature = "metrics")]
                started: super::TIMED
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .then(std::time::Instant::now),
                #[cfg(feature = "tracing")]
                span: tracing::debug_span!(
                    target: "cache_core",
                    "fetch",
                    cache,
                    outcome = tracing::field::Empty
                ),
                ended: false,
            }
        }

        /// The fetch, polled inside the span.
        #[cfg(feature = "tracing")]
        pub(crate) fn watch<F: Future>(&self, fetch: F) -> tracing::instrument::Instrumented<F> {
            tracing::Instrument::instrument(fetch, self.span.clone())
        }

        /// The fetch.
        #[cfg(not(feature = "tracing"))]
        #[inline(always)]
        pub(crate) fn watch<F: Future>(&self, fetch: F) -> F {
            fetch
        }

        /// The fetch ended so.
        pub(crate) fn end(mut self, outcome: Outcome) {
            self.ended = true;
            self.record(outcome);
        }

        fn record(&self, outcome: Outcome) {
            #[cfg(feature = "tracing")]
            self.span.record("outcome", outcome.label());
            #[cfg(feature = "metrics")]
            if let Some(started) = self.started {
                ::metrics::histogram!(
                    super::FETCH_DURATION,
                    "cache" => self.cache.to_owned(),
                    "outcome" => outcome.label(),
                )
                .record(started.elapsed().as_secs_f64());
            }
        }
    }

    impl Drop for Upstream<'_> {
        fn drop(&mut self) {
            if !self.ended {
                self.record(Outcome::Cancelled);
            }
        }
    }
}

#[cfg(not(any(feature = "metrics", feature = "tracing")))]
mod imp {
    use std::future::Future;

    use super::Outcome;

    /// Nothing to watch without the features.
    pub(crate) struct Upstream<'a>(std::marker::PhantomData<&'a str>);

    impl<'a> Upstream<'a> {
        #[inline(always)]
        pub(crate) fn begin(_: &'a str) -> Self {
            Self(std::marker::PhantomData)
        }
        #[inline(always)]
        pub(crate) fn watch<F: Future>(&self, fetch: F) -> F {
            fetch
        }
        #[inline(always)]
        pub(crate) fn end(self, _: Outcome) {}
    }
}

pub(crate) use imp::Upstream;

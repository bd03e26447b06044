//! The `tracing` feature: a debug event per fetch and invalidation, with the cache name and
//! counts, and never the key's contents (they are often user ids).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use cache_core::ttl_cached;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every event as `field=value` text.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = String::new();
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[ttl_cached(ttl = 60, key = "<user_id>:<folder_id>", group = "<user_id>")]
async fn list(user_id: &str, folder_id: &str) -> Vec<String> {
    vec![format!("{user_id}{folder_id}")]
}

#[test]
fn events_name_the_cache_and_never_the_key() {
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        runtime.block_on(async {
            list("secret-user-42", "secret-folder").await;
            list("secret-user-42", "secret-folder").await; // a hit: no event
            invalidate_list("secret-user-42").await;
        });
    });
    let events = recorder.0.lock().unwrap().clone();
    let joined = events.join("\n");
    assert_eq!(
        events.len(),
        3,
        "fetch, fetch finished, invalidation:\n{joined}"
    );
    assert!(events[0].contains("miss: fetching") && events[0].contains("tracing::list"));
    assert!(events[1].contains("stored=true"));
    assert!(events[2].contains("group invalidated") && events[2].contains("removed=1"));
    assert!(
        !joined.contains("secret"),
        "key contents leaked into the logs:\n{joined}"
    );
}

/// Records spans: each `new_span` with its fields, each later `record`, and the events seen
/// while a span was entered (so that a trace shows the request waiting inside `fetch`).
#[derive(Default, Clone)]
struct Spans(Arc<Mutex<SpanLog>>);

#[derive(Default)]
struct SpanLog {
    /// Per span id: its name and fields, as text.
    spans: Vec<String>,
    /// The span entered now, if any.
    entered: Vec<u64>,
    /// Events, each with the span it happened in.
    events: Vec<(Option<u64>, String)>,
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let mut line = format!("{} ", attributes.metadata().name());
        attributes.record(&mut Line(&mut line));
        let mut log = self.0.lock().unwrap();
        log.spans.push(line);
        Id::from_u64(log.spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut log = self.0.lock().unwrap();
        let line = &mut log.spans[span.into_u64() as usize - 1];
        values.record(&mut Line(line));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = String::new();
        event.record(&mut Line(&mut line));
        let mut log = self.0.lock().unwrap();
        let inside = log.entered.last().copied();
        log.events.push((inside, line));
    }
    fn enter(&self, span: &Id) {
        self.0.lock().unwrap().entered.push(span.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.0.lock().unwrap().entered.pop();
    }
}

#[ttl_cached(ttl = 60, key = "<user_id>", group = "<user_id>")]
async fn profile(user_id: &str) -> Result<String, String> {
    tracing::info!("calling the provider");
    if user_id.ends_with("unknown") {
        return Err("no such user".into());
    }
    Ok(format!("profile of {user_id}"))
}

#[test]
fn each_upstream_fetch_is_a_span_with_its_cache_and_outcome() {
    let spans = Spans::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    tracing::subscriber::with_default(spans.clone(), || {
        runtime.block_on(async {
            profile("secret-user-7").await.unwrap();
            profile("secret-user-7").await.unwrap(); // a hit: no fetch, no span
            profile("secret-unknown").await.unwrap_err();
        });
    });
    let log = spans.0.lock().unwrap();
    let fetches: Vec<&String> = log
        .spans
        .iter()
        .filter(|s| s.starts_with("fetch "))
        .collect();
    assert_eq!(
        fetches.len(),
        2,
        "one span per upstream fetch: {:?}",
        log.spans
    );
    assert!(
        fetches[0].contains("cache=\"tracing::profile\"") && fetches[0].contains("outcome=\"ok\"")
    );
    assert!(fetches[1].contains("outcome=\"error\""), "{}", fetches[1]);
    // The provider's own events happen inside the fetch's span.
    let inside: Vec<&(Option<u64>, String)> = log
        .events
        .iter()
        .filter(|(_, e)| e.contains("calling the provider"))
        .collect();
    assert_eq!(inside.len(), 2);
    for (span, _) in inside {
        let span = span.expect("the provider was called inside a span");
        assert!(log.spans[span as usize - 1].starts_with("fetch "));
    }
    assert!(
        !log.spans.iter().any(|s| s.contains("secret")),
        "key contents in a span: {:?}",
        log.spans
    );
}

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

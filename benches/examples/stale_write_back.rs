//! Defect 3 of a hand-rolled cache, checked against each library: a fetch that began before an
//! invalidation finishes after it. Does a caller that begins after the invalidation get the old
//! value, and does the cache hold the old value afterwards?
//!
//! `cargo run --release -p ttl-cached-benches --example stale_write_back`

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use cache_core::ttl_cached;
use tokio::time::sleep;

/// The upstream's version; a credential rotation bumps it. Each fetch reads it when it starts,
/// then takes 200 ms.
static VERSION: AtomicU64 = AtomicU64::new(0);

async fn fetch_upstream() -> u64 {
    let version = VERSION.load(SeqCst);
    sleep(Duration::from_millis(200)).await;
    version
}

#[ttl_cached(ttl = 600, key = "<user>")]
async fn with_ttl_cached(user: &str) -> u64 {
    let _ = user;
    fetch_upstream().await
}

#[cached::proc_macro::cached(ttl_secs = 600, sync_writes = "by_key")]
async fn with_cached(user: String) -> u64 {
    let _ = user;
    fetch_upstream().await
}

/// What a caller that began after the invalidation received, and what the cache held after
/// every fetch finished.
struct Outcome {
    caller_after: u64,
    held_after: u64,
}

async fn scenario<F, Fut, I, IFut>(get: F, invalidate: I) -> Outcome
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = u64> + Send,
    I: FnOnce() -> IFut,
    IFut: std::future::Future<Output = ()>,
{
    VERSION.store(0, SeqCst);
    let in_flight = tokio::spawn({
        let get = get.clone();
        async move { get().await }
    });
    sleep(Duration::from_millis(50)).await;
    // Credentials rotate: the upstream moves to version 1, and the cache is told.
    VERSION.store(1, SeqCst);
    invalidate().await;
    let caller_after = get().await;
    in_flight.await.expect("the first caller");
    sleep(Duration::from_millis(10)).await;
    let held_after = get().await;
    Outcome {
        caller_after,
        held_after,
    }
}

fn verdict(version: u64) -> &'static str {
    if version == 0 {
        "old (stale)"
    } else {
        "new"
    }
}

#[tokio::main]
async fn main() {
    let mut rows = Vec::new();

    let outcome = scenario(
        || with_ttl_cached("u1"),
        || async {
            invalidate_with_ttl_cached("u1").await;
        },
    )
    .await;
    rows.push(("cache-core #[ttl_cached]", outcome));

    let moka: moka::future::Cache<String, u64> = moka::future::Cache::builder().build();
    let outcome = scenario(
        {
            let moka = moka.clone();
            move || {
                let moka = moka.clone();
                async move { moka.get_with("u1".to_string(), fetch_upstream()).await }
            }
        },
        || async {
            moka.invalidate("u1").await;
        },
    )
    .await;
    rows.push(("moka 0.12 future::Cache::get_with + invalidate", outcome));

    let outcome = scenario(
        || with_cached("u1".to_string()),
        || async {
            use cached::Cached;
            let _ = WITH_CACHED.write().await.cache_remove(&"u1".to_string());
        },
    )
    .await;
    rows.push((
        "cached 4 #[cached(sync_writes = \"by_key\")] + cache_remove",
        outcome,
    ));

    println!("A fetch begins (upstream at version 0); 50 ms later the upstream moves to version 1");
    println!(
        "and the cache is invalidated; then a new caller asks; then the old fetch finishes.\n"
    );
    println!("| cache | caller that began after the invalidation got | cache held afterwards |");
    println!("|---|---|---|");
    for (name, outcome) in rows {
        println!(
            "| {name} | {} | {} |",
            verdict(outcome.caller_after),
            verdict(outcome.held_after)
        );
    }
}

//! When the upstream is in trouble, on `#[ttl_cached]` functions: `throttle = ".."` at its
//! boundaries on tokio's paused clock, retry hints read from an error type that implements
//! `RetryAfter` (and none from one that does not), `serve_stale_if` and `revoke_if`, with
//! `stale_if_error` and with `stale`. Each test has functions of its own: their caches are
//! global. The upstream of each is a status in an atomic (0: up) and a run counter.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cache_core::{ttl_cached, RetryAfter};
use tokio::time::advance;
use ttl_cached_tests::settle;

const TTL: Duration = Duration::from_secs(60);
const NANO: Duration = Duration::from_nanos(1);

/// An API error: an HTTP status and, for a 429, the `Retry-After` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: u16,
    retry_after_secs: Option<u64>,
}

/// A fetch past `timeout = ".."` fails with a 504.
impl From<cache_core::FetchTimedOut> for ApiError {
    fn from(_: cache_core::FetchTimedOut) -> Self {
        ApiError {
            status: 504,
            retry_after_secs: None,
        }
    }
}

impl RetryAfter for ApiError {
    fn retry_after(&self) -> Option<Duration> {
        self.retry_after_secs.map(Duration::from_secs)
    }
}

/// The upstream: `Ok(format!("{tag} v{run}"))` while `status` is 0, else that error (a 429
/// says to retry in 30 s).
fn upstream(status: &AtomicU16, runs: &AtomicUsize, tag: &str) -> Result<String, ApiError> {
    let run = runs.fetch_add(1, SeqCst) + 1;
    match status.load(SeqCst) {
        0 => Ok(format!("{tag} v{run}")),
        status => Err(ApiError {
            status,
            retry_after_secs: (status == 429).then_some(30),
        }),
    }
}

static THROTTLED_STATUS: AtomicU16 = AtomicU16::new(0);
static THROTTLED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>", stale_if_error = "10m", throttle = "2s")]
async fn throttled(user: &str) -> Result<String, ApiError> {
    upstream(&THROTTLED_STATUS, &THROTTLED_RUNS, user)
}

/// `throttle = "2s"`: after a failure papered over, no upstream call until 1 ns before 2 s;
/// one at 2 s. A 429 with a 30 s hint: none until 1 ns before 30 s.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn throttle_and_retry_hint_boundaries() {
    let runs = || THROTTLED_RUNS.load(SeqCst);
    assert_eq!(throttled("ann").await.as_deref(), Ok("ann v1"));
    advance(TTL).await;
    THROTTLED_STATUS.store(503, SeqCst);
    assert_eq!(throttled("ann").await.as_deref(), Ok("ann v1"));
    assert_eq!(runs(), 2);
    advance(Duration::from_secs(2) - NANO).await;
    assert_eq!(throttled("ann").await.as_deref(), Ok("ann v1"));
    assert_eq!(runs(), 2, "called while throttled");
    advance(NANO).await;
    THROTTLED_STATUS.store(429, SeqCst);
    assert_eq!(throttled("ann").await.as_deref(), Ok("ann v1"));
    assert_eq!(runs(), 3, "no probe at the throttle's end");
    assert_eq!(throttled_cache().stats().retry_hints, 1);

    THROTTLED_STATUS.store(0, SeqCst);
    advance(Duration::from_secs(30) - NANO).await;
    assert_eq!(throttled("ann").await.as_deref(), Ok("ann v1"));
    assert_eq!(runs(), 3, "called before the retry hint");
    advance(NANO).await;
    assert_eq!(throttled("ann").await.as_deref(), Ok("ann v4"));
    let stats = throttled_cache().stats();
    assert_eq!((stats.stale_on_error, stats.throttled), (2, 2));
}

static PLAIN_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An error type without `RetryAfter`: the default throttle (5 s), no hint read.
#[ttl_cached(ttl = 60, key = "<user>", stale_if_error = "10m")]
async fn plain_error(user: &str) -> Result<String, String> {
    let run = PLAIN_RUNS.fetch_add(1, SeqCst) + 1;
    match run {
        1 => Ok(format!("{user} v1")),
        _ => Err("503".to_string()),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_error_without_hints_gets_the_default_throttle() {
    assert_eq!(plain_error("bo").await.as_deref(), Ok("bo v1"));
    advance(TTL).await;
    assert_eq!(plain_error("bo").await.as_deref(), Ok("bo v1"));
    advance(Duration::from_secs(5) - NANO).await;
    assert_eq!(plain_error("bo").await.as_deref(), Ok("bo v1"));
    assert_eq!(
        PLAIN_RUNS.load(SeqCst),
        2,
        "called during the default throttle"
    );
    advance(NANO).await;
    assert_eq!(plain_error("bo").await.as_deref(), Ok("bo v1"));
    assert_eq!(
        PLAIN_RUNS.load(SeqCst),
        3,
        "no probe after the default throttle"
    );
    assert_eq!(plain_error_cache().stats().retry_hints, 0);
}

static RULED_STATUS: AtomicU16 = AtomicU16::new(0);
static RULED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(
    ttl = 60,
    key = "<user>:<folder>",
    group = "<user>",
    stale_if_error = "10m",
    serve_stale_if = |e: &ApiError| e.status >= 500,
    revoke_if = |e: &ApiError| e.status == 401
)]
async fn ruled(user: &str, folder: u32) -> Result<String, ApiError> {
    upstream(&RULED_STATUS, &RULED_RUNS, &format!("{user}/{folder}"))
}

/// `serve_stale_if`: a 404 reaches the caller (not papered over, not throttled); a 503 is
/// papered over. `revoke_if`: a 401 reaches the caller and drops the user's listings at once:
/// afterwards none of them is served stale, while another user's still is.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn serve_stale_if_and_revoke_if() {
    for folder in 1..=3 {
        ruled("cy", folder).await.unwrap();
    }
    ruled("dee", 1).await.unwrap();
    advance(TTL).await;

    RULED_STATUS.store(404, SeqCst);
    assert_eq!(ruled("cy", 1).await.map_err(|e| e.status), Err(404));
    RULED_STATUS.store(503, SeqCst);
    assert_eq!(ruled("cy", 1).await.as_deref(), Ok("cy/1 v1"));
    assert_eq!(ruled_cache().stats().stale_on_error, 1);

    RULED_STATUS.store(401, SeqCst);
    assert_eq!(ruled("cy", 2).await.map_err(|e| e.status), Err(401));
    assert_eq!(ruled_cache().stats().revoked, 1);
    RULED_STATUS.store(503, SeqCst);
    for folder in 1..=3 {
        assert_eq!(
            ruled("cy", folder).await.map_err(|e| e.status),
            Err(503),
            "cy's folder {folder} was served stale after the revocation"
        );
    }
    assert_eq!(ruled_cache().stats().stale_on_error, 1);
    assert_eq!(ruled("dee", 1).await.as_deref(), Ok("dee/1 v4"));
}

static SWR_STATUS: AtomicU16 = AtomicU16::new(0);
static SWR_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>", stale = "10m", throttle = "3s")]
async fn revalidated(user: String) -> Result<String, ApiError> {
    upstream(&SWR_STATUS, &SWR_RUNS, &user)
}

/// `stale = ".."` with a hint: a failed background refresh backs off for the hint (30 s, more
/// than the 3 s throttle); stale calls meanwhile start no refresh.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failed_refresh_backs_off_for_the_retry_hint() {
    let runs = || SWR_RUNS.load(SeqCst);
    revalidated("eve".into()).await.unwrap();
    advance(TTL).await;
    SWR_STATUS.store(429, SeqCst);
    assert_eq!(revalidated("eve".into()).await.as_deref(), Ok("eve v1"));
    settle().await;
    assert_eq!(runs(), 2);
    SWR_STATUS.store(0, SeqCst);
    advance(Duration::from_secs(30) - NANO).await;
    assert_eq!(revalidated("eve".into()).await.as_deref(), Ok("eve v1"));
    settle().await;
    assert_eq!(runs(), 2, "refreshed before the retry hint");
    advance(NANO).await;
    assert_eq!(revalidated("eve".into()).await.as_deref(), Ok("eve v1"));
    settle().await;
    assert_eq!(runs(), 3);
    assert_eq!(revalidated("eve".into()).await.as_deref(), Ok("eve v3"));
    let stats = revalidated_cache().stats();
    assert_eq!((stats.refreshes_failed, stats.retry_hints), (1, 1));
}

cache_core::scope! {
    /// Everything cached for one user.
    pub Account(user: String);
}

static SCOPED_STATUS: AtomicU16 = AtomicU16::new(0);
static SCOPED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(
    ttl = 60,
    key = "<user>:<folder>",
    group = "<user>",
    scope = Account,
    stale_if_error = "10m",
    revoke_if = |e: &ApiError| e.status == 401
)]
async fn scoped_listing(user: &str, folder: u32) -> Result<String, ApiError> {
    upstream(&SCOPED_STATUS, &SCOPED_RUNS, &format!("{user}/{folder}"))
}

static THUMBNAILS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 600, key = "<user>:<file>", group = "<user>", scope = Account)]
async fn scoped_thumbnail(user: &str, file: u32) -> String {
    let run = THUMBNAILS.fetch_add(1, SeqCst) + 1;
    format!("{user}/{file} thumbnail v{run}")
}

/// `revoke_if` on a function in a scope: the revoking error invalidates the group in every
/// function of the scope (here the user's thumbnails, live, in another function's cache), as
/// `Account::invalidate` would; another user's are kept.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_revoking_error_invalidates_the_group_in_the_whole_scope() {
    scoped_listing("fay", 1).await.unwrap();
    assert_eq!(scoped_thumbnail("fay", 1).await, "fay/1 thumbnail v1");
    assert_eq!(scoped_thumbnail("gus", 1).await, "gus/1 thumbnail v2");
    advance(TTL).await;
    SCOPED_STATUS.store(401, SeqCst);
    assert_eq!(
        scoped_listing("fay", 1).await.map_err(|e| e.status),
        Err(401)
    );
    assert_eq!(scoped_listing_cache().stats().revoked, 1);
    assert_eq!(
        scoped_thumbnail("fay", 1).await,
        "fay/1 thumbnail v3",
        "the scope's other function kept the revoked user's value"
    );
    assert_eq!(scoped_thumbnail("gus", 1).await, "gus/1 thumbnail v2");
}

static HUNG_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>", timeout = "2s")]
async fn hung_listing(user: &str) -> Result<String, ApiError> {
    HUNG_RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(user.to_string())
}

/// `timeout = "2s"`: the caller waits until 1 ns before it, then gets the function's error
/// made `From<FetchTimedOut>`; nothing is stored, and the next call fetches again.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn timeout_boundary() {
    let caller = tokio::spawn(hung_listing("hal"));
    settle().await;
    advance(Duration::from_secs(2) - NANO).await;
    settle().await;
    assert!(!caller.is_finished(), "answered before the timeout");
    advance(NANO).await;
    assert_eq!(caller.await.unwrap().map_err(|e| e.status), Err(504));
    assert_eq!(hung_listing_cache().stats().timeouts, 1);
    let again = tokio::spawn(hung_listing("hal"));
    settle().await;
    assert_eq!(HUNG_RUNS.load(SeqCst), 2, "the timed-out result was stored");
    again.abort();
}

static SOFT_RUNS: AtomicUsize = AtomicUsize::new(0);
static SOFT_GATE: std::sync::LazyLock<tokio::sync::Notify> =
    std::sync::LazyLock::new(tokio::sync::Notify::new);

#[ttl_cached(
    ttl = 60,
    key = "<user>",
    stale = "1s",
    stale_if_error = "10m",
    soft_timeout = "2s"
)]
async fn soft_listing(user: &str) -> Result<String, ApiError> {
    let run = SOFT_RUNS.fetch_add(1, SeqCst) + 1;
    if run > 1 {
        SOFT_GATE.notified().await;
    }
    Ok(format!("{user} v{run}"))
}

/// `soft_timeout = "2s"` with `stale`: past the stale-while-revalidate window (so the call
/// fetches), the caller gets the expired value at 2 s, not 1 ns before; the body goes on in the
/// background and its value is stored when it ends.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn soft_timeout_boundary() {
    assert_eq!(soft_listing("ida").await.as_deref(), Ok("ida v1"));
    advance(TTL + Duration::from_secs(5)).await;
    let caller = tokio::spawn(soft_listing("ida"));
    settle().await;
    advance(Duration::from_secs(2) - NANO).await;
    settle().await;
    assert!(!caller.is_finished(), "answered before the soft timeout");
    advance(NANO).await;
    let answered = tokio::time::timeout(Duration::from_secs(3600), caller).await;
    let answered = answered.expect("not answered at the soft timeout").unwrap();
    assert_eq!(answered.as_deref(), Ok("ida v1"));
    assert_eq!(soft_listing_cache().stats().soft_timeouts, 1);
    SOFT_GATE.notify_one();
    settle().await;
    assert_eq!(soft_listing("ida").await.as_deref(), Ok("ida v2"));
    assert_eq!(SOFT_RUNS.load(SeqCst), 2);
}

//! One replica of the backplane tests: a process with `#[ttl_cached]` functions, a scope and a
//! named `TtlCache`, all on the backplane, driven by one-line commands on stdin and answering
//! one line each on stdout (prefixed `@@ `).

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cache_core::backplane::{self, BackplaneOptions, Health, SharedTier};
use cache_core::{ttl_cached, TtlCache};
use tokio::sync::oneshot;

cache_core::scope! {
    /// Everything cached for one user.
    pub Account(user: String);
}

/// The upstream's current version, as the test sets it.
static VERSION: AtomicU64 = AtomicU64::new(0);
/// Upstream calls so far.
static CALLS: AtomicU64 = AtomicU64::new(0);
/// How long each upstream call takes, in ms (set by `slow`), so that a stampede finds the
/// fetch still running.
static SLOW_MS: AtomicU64 = AtomicU64::new(0);

/// A fetch to hold: it signals `started` once it has read the upstream, then waits.
struct Hold {
    started: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

static HOLD: Mutex<Option<Hold>> = Mutex::new(None);

/// Spawns `task` with the next upstream call held (see [`Hold`]); `held` keeps its release.
/// Answers once the call started, or after 10 s.
async fn hold(
    held: &mut Option<(oneshot::Sender<()>, tokio::task::JoinHandle<String>)>,
    task: impl std::future::Future<Output = String> + Send + 'static,
) -> String {
    let (started, started_rx) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    *HOLD.lock().expect("not poisoned") = Some(Hold {
        started,
        release: release_rx,
    });
    *held = Some((release, tokio::spawn(task)));
    match tokio::time::timeout(Duration::from_secs(10), started_rx).await {
        Ok(Ok(())) => "started".to_owned(),
        _ => "not started".to_owned(),
    }
}

async fn upstream(user: &str) -> String {
    let version = VERSION.load(SeqCst);
    CALLS.fetch_add(1, SeqCst);
    let slow = SLOW_MS.load(SeqCst);
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    let hold = HOLD.lock().expect("not poisoned").take();
    if let Some(hold) = hold {
        let _ = hold.started.send(());
        let _ = hold.release.await;
    }
    format!("{user}@v{version}")
}

#[ttl_cached(ttl = 3600, key = "<user>", group = "<user>", scope = Account)]
async fn listing(user: &str) -> String {
    upstream(user).await
}

#[ttl_cached(ttl = 3600, key = "<user>:<folder>", group = "<user>")]
async fn folder(user: &str, folder: u64) -> String {
    let _ = folder;
    upstream(user).await
}

/// The settings of [`shared_folder`]'s tier: a short lease, so that a test that kills its
/// holder does not wait long.
const SHARED: SharedTier = SharedTier::new().lease(Duration::from_millis(1000));

/// A cached function whose values the replicas share (`shared_tier = NAME`).
#[ttl_cached(ttl = 3600, key = "<user>:<folder>", group = "<user>", shared_tier = SHARED)]
async fn shared_folder(user: &str, folder: u64) -> String {
    let _ = folder;
    upstream(user).await
}

/// A cached function in the scope [`Account`] that shares its values (`shared_tier = true`).
#[ttl_cached(ttl = 3600, key = "<user>", group = "<user>", scope = Account, shared_tier = true)]
async fn shared_account(user: &str) -> String {
    upstream(user).await
}

/// A cached function that serves stale (60 ms TTL, then an hour of stale-while-revalidate): a
/// remote invalidation must leave nothing of it to serve.
#[ttl_cached(ttl = "60ms", key = "<user>", group = "<user>", stale = "1h")]
async fn stale_listing(user: &str) -> String {
    upstream(user).await
}

/// Whether the upstream of [`shared_fallback`] fails.
static FAILING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A shared function that falls back on an expired value when its upstream fails (300 ms TTL,
/// then an hour of stale-if-error): the tier keeps its values for the hour too, so a replica
/// that never held one can fall back on another's.
#[ttl_cached(ttl = "300ms", key = "<user>", group = "<user>", shared_tier = SHARED, stale_if_error = "1h")]
async fn shared_fallback(user: &str) -> Result<String, String> {
    if FAILING.load(SeqCst) {
        CALLS.fetch_add(1, SeqCst);
        return Err("down".to_owned());
    }
    Ok(upstream(user).await)
}

/// A shared function that serves stale while revalidating (300 ms TTL, then an hour): a
/// replica without the value serves another's expired value at once, and the fleet refreshes
/// it once.
#[ttl_cached(ttl = "300ms", key = "<user>", group = "<user>", shared_tier = SHARED, stale = "1h")]
async fn shared_stale(user: &str) -> String {
    upstream(user).await
}

/// Whether [`revocable`]'s upstream answers that the user's credentials were revoked.
static REVOKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A cached function whose upstream can answer "revoked", which invalidates the user's group
/// (`revoke_if`), here and on every replica.
#[ttl_cached(ttl = 3600, key = "<user>:<n>", group = "<user>", revoke_if = |e: &String| e == "revoked")]
async fn revocable(user: &str, n: u64) -> Result<String, String> {
    let _ = n;
    if REVOKED.load(SeqCst) {
        return Err("revoked".to_owned());
    }
    Ok(upstream(user).await)
}

fn builder() -> &'static Arc<TtlCache<String, u64, String>> {
    static CACHE: OnceLock<Arc<TtlCache<String, u64, String>>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let cache = Arc::new(
            TtlCache::builder()
                .ttl(Duration::from_secs(3600))
                .name("backplane-test::builder")
                .build()
                .expect("valid settings"),
        );
        backplane::attach(&cache).expect("a unique name");
        cache
    })
}

/// A cache that serves stale: a 50 ms TTL, then a minute of stale-while-revalidate and of
/// stale-if-error. An invalidation from the other replica must leave nothing to serve stale.
fn stale() -> &'static TtlCache<String, u64, String> {
    static CACHE: OnceLock<TtlCache<String, u64, String>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let cache = TtlCache::builder()
            .ttl(Duration::from_millis(50))
            .stale_while_revalidate(Duration::from_secs(60))
            .stale_if_error(Duration::from_secs(60))
            .name("backplane-test::stale")
            .build()
            .expect("valid settings");
        backplane::attach(&cache).expect("a unique name");
        cache
    })
}

/// A named cache attached only when the test says (`late_attach`): it may hold values fetched
/// before it took part.
fn late() -> &'static TtlCache<String, u64, String> {
    static CACHE: OnceLock<TtlCache<String, u64, String>> = OnceLock::new();
    CACHE.get_or_init(|| {
        TtlCache::builder()
            .ttl(Duration::from_secs(3600))
            .name("backplane-test::late")
            .build()
            .expect("valid settings")
    })
}

/// A cache with a shared tier (feature `redis-tier`): TTL from `TTL_BP_TIER_TTL_MS` (default
/// an hour), fetch lease from `TTL_BP_TIER_LEASE_MS` (default 5 s), timeout of its Redis calls
/// from `TTL_BP_TIER_TIMEOUT_MS` (default 100 ms), largest value shared from
/// `TTL_BP_TIER_MAX_BYTES` (default 1 MiB).
fn tiered() -> &'static TtlCache<String, u64, String> {
    static CACHE: OnceLock<TtlCache<String, u64, String>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let ms = |var: &str, default: u64| {
            Duration::from_millis(
                std::env::var(var)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(default),
            )
        };
        let cache = TtlCache::builder()
            .ttl(ms("TTL_BP_TIER_TTL_MS", 3_600_000))
            .name("backplane-test::tiered")
            .shared_tier(
                SharedTier::new()
                    .lease(ms("TTL_BP_TIER_LEASE_MS", 5_000))
                    .timeout(ms("TTL_BP_TIER_TIMEOUT_MS", 100))
                    .max_value_bytes(
                        std::env::var("TTL_BP_TIER_MAX_BYTES")
                            .ok()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1 << 20),
                    ),
            )
            .build()
            .expect("valid settings");
        backplane::attach(&cache).expect("a unique name");
        cache
    })
}

/// The same cache as [`tiered`], attached, without the tier: what each replica fetches alone.
fn untiered() -> &'static TtlCache<String, u64, String> {
    static CACHE: OnceLock<TtlCache<String, u64, String>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let ttl = std::env::var("TTL_BP_TIER_TTL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3_600_000);
        let cache = TtlCache::builder()
            .ttl(Duration::from_millis(ttl))
            .name("backplane-test::untiered")
            .build()
            .expect("valid settings");
        backplane::attach(&cache).expect("a unique name");
        cache
    })
}

/// A cache with no name: it does not take part, so it is neither gated nor cleared.
fn unnamed() -> &'static TtlCache<String, u64, String> {
    static CACHE: OnceLock<TtlCache<String, u64, String>> = OnceLock::new();
    CACHE.get_or_init(|| {
        TtlCache::builder()
            .ttl(Duration::from_secs(3600))
            .build()
            .expect("valid settings")
    })
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
}

async fn get(kind: &str, user: &str) -> String {
    match kind {
        "listing" => listing(user).await,
        "folder" => folder(user, 1).await,
        "builder" => builder().get_with(user, &1, || upstream(user)).await,
        "unnamed" => unnamed().get_with(user, &1, || upstream(user)).await,
        "tiered" => tiered().get_with(user, &1, || upstream(user)).await,
        "shared" => shared_folder(user, 1).await,
        "shared-account" => shared_account(user).await,
        "stale-fn" => stale_listing(user).await,
        "shared-fallback" => shared_fallback(user)
            .await
            .unwrap_or_else(|e| format!("err:{e}")),
        "shared-swr" => shared_stale(user).await,
        "revocable" => revocable(user, 1).await.unwrap_or_else(|e| e),
        "revocable-2" => revocable(user, 2).await.unwrap_or_else(|e| e),
        "untiered" => untiered().get_with(user, &1, || upstream(user)).await,
        "late" => late().get_with(user, &1, || upstream(user)).await,
        "stale" => {
            let owned = user.to_owned();
            stale()
                .get_with_stale(user, &1, move || async move { upstream(&owned).await })
                .await
        }
        other => panic!("unknown cache {other}"),
    }
}

fn outcome<T: std::fmt::Debug>(sent: u128, r: Result<T, backplane::PublishError>) -> String {
    match r {
        Ok(_) => format!("ok {sent}"),
        Err(e) => format!("err {}", e.to_string().replace(' ', "_")),
    }
}

async fn invalidate(kind: &str, user: &str) -> String {
    let sent = now_ns();
    match kind {
        "listing-group" => outcome(sent, invalidate_listing(user).published().await),
        "scope" => outcome(sent, Account::invalidate(user).published().await),
        "clear-handle" => outcome(sent, listing_cache().clear().published().await),
        "folder-key" => outcome(sent, invalidate_folder_key(user, 1).published().await),
        "folder-group" => outcome(sent, invalidate_folder(user).published().await),
        "refresh-folder" => {
            refresh_folder(user, 1).await;
            format!("ok {sent}")
        }
        "builder-group" => outcome(sent, builder().invalidate_group(user).published().await),
        "builder-key" => outcome(sent, builder().invalidate(user, &1).published().await),
        "builder-clear" => outcome(sent, builder().clear().published().await),
        "shared-refresh" => {
            refresh_shared_folder(user, 1).await;
            format!("ok {sent}")
        }
        "tiered-refresh" => {
            tiered().refresh(user, &1, || upstream(user)).await;
            format!("ok {sent}")
        }
        "builder-refresh" => {
            builder().refresh(user, &1, || upstream(user)).await;
            format!("ok {sent}")
        }
        "stale-group" => outcome(sent, stale().invalidate_group(user).published().await),
        "late-group" => outcome(sent, late().invalidate_group(user).published().await),
        "tiered-group" => outcome(sent, tiered().invalidate_group(user).published().await),
        "tiered-key" => outcome(sent, tiered().invalidate(user, &1).published().await),
        "tiered-clear" => outcome(sent, tiered().clear().published().await),
        "shared-group" => outcome(sent, invalidate_shared_folder(user).published().await),
        "shared-key" => outcome(
            sent,
            invalidate_shared_folder_key(user, 1).published().await,
        ),
        "shared-clear" => outcome(sent, shared_folder_cache().clear().published().await),
        "stale-fn-group" => outcome(sent, invalidate_stale_listing(user).published().await),
        "shared-fallback-group" => {
            outcome(sent, invalidate_shared_fallback(user).published().await)
        }
        "shared-swr-group" => outcome(sent, invalidate_shared_stale(user).published().await),
        "builder-insert" => {
            // A write-through: A has the new value in hand; B must drop its old one.
            builder().insert(user, &1, upstream(user).await).await;
            format!("ok {sent}")
        }
        other => panic!("unknown invalidation {other}"),
    }
}

async fn poll_until(done: impl FnMut() -> bool) -> bool {
    poll_for(Duration::from_secs(20), done).await
}

async fn poll_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    true
}

fn stats() -> String {
    let s = backplane::stats();
    format!(
        "stats calls={} published={} publish_failures={} received={} applied={} ignored_own={} \
         rejected={} outages={} subscriptions={} replays={} replayed={} gap_clears={} \
         duplicate_ids={} publish_retries={} lag_last_micros={} lag_samples={} fenced_micros={}",
        CALLS.load(SeqCst),
        s.published,
        s.publish_failures,
        s.received,
        s.applied,
        s.ignored_own,
        s.rejected,
        s.outages,
        s.subscriptions,
        s.replays,
        s.replayed,
        s.gap_clears,
        s.duplicate_ids,
        s.publish_retries,
        s.lag_last_micros,
        s.lag_samples,
        s.fenced_micros
    )
}

pub(crate) fn run() {
    let name = std::env::var("TTL_BP_REPLICA").expect("set by the test");
    let url = std::env::var("TTL_BP_URL").expect("set by the test");
    let (every, timeout) = std::env::var("TTL_BP_HEARTBEAT_MS")
        .ok()
        .and_then(|h| {
            let (e, t) = h.split_once(',')?;
            Some((e.parse().ok()?, t.parse().ok()?))
        })
        .unwrap_or((100, 400));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut options = BackplaneOptions::default()
            .prefix("backplane-test")
            .heartbeat(Duration::from_millis(every), Duration::from_millis(timeout))
            .replica_id(std::env::var("TTL_BP_ID").unwrap_or_else(|_| name.clone()));
        if let Some(n) = std::env::var("TTL_BP_PUBLISH_QUEUE")
            .ok()
            .and_then(|n| n.parse().ok())
        {
            options = options.publish_queue(n);
        }
        if let Ok(path) = std::env::var("TTL_BP_CA") {
            options =
                options.tls_root_certificate(std::fs::read(path).expect("the CA certificate"));
        }
        if let Some(n) = std::env::var("TTL_BP_LOG_LENGTH")
            .ok()
            .and_then(|n| n.parse().ok())
        {
            options = options.log_length(n);
        }
        backplane::install(&url, options).expect("installed");
        builder();
        stale();
    });
    let mut held: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<String>)> = None;
    let mut spraying: Option<tokio::task::JoinHandle<u64>> = None;
    // A get running in the background, to cancel (`spawnget`, `cancel`).
    let mut spawned: Option<tokio::task::JoinHandle<String>> = None;
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let words: Vec<&str> = line.split(' ').collect();
        let answer = runtime.block_on(async {
            match words.as_slice() {
                ["ver", v] => {
                    VERSION.store(v.parse().expect("a version"), SeqCst);
                    "ok".to_owned()
                }
                ["revoked", on] => {
                    REVOKED.store(*on == "on", SeqCst);
                    "ok".to_owned()
                }
                ["failing", on] => {
                    FAILING.store(*on == "on", SeqCst);
                    "ok".to_owned()
                }
                ["get", kind, user] => {
                    let value = get(kind, user).await;
                    format!("val {value} calls {}", CALLS.load(SeqCst))
                }
                ["inv", kind, user] => invalidate(kind, user).await,
                ["await", kind, user, want] => {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    loop {
                        let value = get(kind, user).await;
                        if value == *want {
                            break format!("seen {}", now_ns());
                        }
                        if Instant::now() > deadline {
                            break format!("timeout still {value}");
                        }
                        tokio::task::yield_now().await;
                    }
                }
                ["slowget", user] => {
                    let user = (*user).to_owned();
                    hold(&mut held, async move { listing(&user).await }).await
                }
                // A fetch of the tiered cache held after it read the upstream (and, before
                // that, the tier).
                ["slowget", kind, user] => {
                    let (kind, user) = ((*kind).to_owned(), (*user).to_owned());
                    hold(&mut held, async move { get(&kind, &user).await }).await
                }
                // An invalidation (a refresh) whose upstream call is held, as `slowget`.
                ["slowinv", kind, user] => {
                    let (kind, user) = ((*kind).to_owned(), (*user).to_owned());
                    hold(&mut held, async move { invalidate(&kind, &user).await }).await
                }
                ["spawnget", kind, user] => {
                    let (kind, user) = ((*kind).to_owned(), (*user).to_owned());
                    spawned = Some(tokio::spawn(async move { get(&kind, &user).await }));
                    "spawned".to_owned()
                }
                // Cancels the spawned get (its future dropped where it is waiting).
                ["cancel"] => {
                    let task = spawned.take().expect("a spawned get");
                    task.abort();
                    match task.await {
                        Err(e) if e.is_cancelled() => "cancelled".to_owned(),
                        Ok(value) => format!("finished {value}"),
                        Err(e) => format!("failed {e}"),
                    }
                }
                ["release"] => {
                    let (release, task) = held.take().expect("a held fetch");
                    let _ = release.send(());
                    format!("val {}", task.await.expect("the fetch completes"))
                }
                ["wait_applied", n] => {
                    let n: u64 = n.parse().expect("a count");
                    if poll_until(|| backplane::stats().applied >= n).await {
                        "ok".to_owned()
                    } else {
                        "timeout".to_owned()
                    }
                }
                ["wait_ignored_own", n] => {
                    let n: u64 = n.parse().expect("a count");
                    if poll_until(|| backplane::stats().ignored_own >= n).await {
                        "ok".to_owned()
                    } else {
                        format!("timeout {}", stats())
                    }
                }
                ["wait_rejected", n] => {
                    let n: u64 = n.parse().expect("a count");
                    if poll_until(|| backplane::stats().rejected >= n).await {
                        "ok".to_owned()
                    } else {
                        "timeout".to_owned()
                    }
                }
                ["wait_health", want] => {
                    let want = match *want {
                        "Healthy" => Health::Healthy,
                        "Down" => Health::Down,
                        other => panic!("unknown health {other}"),
                    };
                    if poll_until(|| backplane::health() == want).await {
                        format!("at {}", now_ns())
                    } else {
                        format!("timeout {:?}", backplane::health())
                    }
                }
                // Whether it becomes healthy within `ms`.
                ["healthy_within", ms] => {
                    let limit = Duration::from_millis(ms.parse().expect("ms"));
                    if poll_for(limit, || backplane::health() == Health::Healthy).await {
                        "healthy".to_owned()
                    } else {
                        format!("not healthy: {:?}", backplane::health())
                    }
                }
                ["late_attach"] => match backplane::attach(late()) {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => format!("err {e}"),
                },
                ["slow", ms] => {
                    SLOW_MS.store(ms.parse().expect("ms"), SeqCst);
                    "ok".to_owned()
                }
                // Invalidations of other users' groups, keys and scope groups, two every
                // millisecond or so, in the background: what a busy fleet sends every replica.
                ["spray", n] => {
                    let n: u64 = n.parse().expect("a count");
                    spraying = Some(tokio::spawn(async move {
                        for i in 0..n {
                            let other = format!("other-{}", i % 97);
                            match i % 3 {
                                0 => drop(builder().invalidate_group(&other)),
                                1 => drop(Account::invalidate(&other)),
                                _ => drop(builder().invalidate(&other, &1)),
                            }
                            if i % 2 == 1 {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        }
                        n
                    }));
                    "ok".to_owned()
                }
                ["spray_wait"] => {
                    let task = spraying.take().expect("a spray running");
                    format!("sprayed {}", task.await.expect("the spray completes"))
                }
                // `callers` misses of one key, one every 200 µs (the first one's fetch is still
                // running when the last arrives): the upstream calls they made.
                ["stampede", kind, user, callers] => {
                    let callers: usize = callers.parse().expect("a count");
                    let before = CALLS.load(SeqCst);
                    let tasks: Vec<_> = (0..callers)
                        .map(|_| {
                            let (kind, user) = ((*kind).to_owned(), (*user).to_owned());
                            let task = tokio::spawn(async move { get(&kind, &user).await });
                            // Blocks this thread only: the callers run on the runtime's workers.
                            std::thread::sleep(Duration::from_micros(200));
                            task
                        })
                        .collect();
                    let mut values = Vec::new();
                    for task in tasks {
                        values.push(task.await.expect("a caller completes"));
                    }
                    values.dedup();
                    format!(
                        "calls {} values {}",
                        CALLS.load(SeqCst) - before,
                        values.len()
                    )
                }
                // `n` keys of one cache (users `k0`..), each read once: the upstream calls they
                // made, and the values, comma-separated.
                ["many", kind, n] => {
                    let n: usize = n.parse().expect("a count");
                    let before = CALLS.load(SeqCst);
                    let mut values = Vec::with_capacity(n);
                    for i in 0..n {
                        values.push(get(kind, &format!("k{i}")).await);
                    }
                    format!(
                        "calls {} values {}",
                        CALLS.load(SeqCst) - before,
                        values.join(",")
                    )
                }
                // An invalidation whose delivery nobody awaits: it is queued while Redis is away.
                ["invq", "listing-group", user] => {
                    drop(invalidate_listing(user));
                    "ok".to_owned()
                }
                ["invq", "tiered-group", user] => {
                    drop(tiered().invalidate_group(*user));
                    "ok".to_owned()
                }
                ["invq", "shared-group", user] => {
                    drop(invalidate_shared_folder(user));
                    "ok".to_owned()
                }
                ["invq", "shared-swr-group", user] => {
                    drop(invalidate_shared_stale(user));
                    "ok".to_owned()
                }
                // `n` reads of one key, as fast as they go: each distinct value and its count.
                ["reads", kind, user, n] => {
                    let n: usize = n.parse().expect("a count");
                    let mut seen: Vec<(String, usize)> = Vec::new();
                    for _ in 0..n {
                        let value = get(kind, user).await;
                        match seen.iter_mut().find(|(v, _)| *v == value) {
                            Some((_, count)) => *count += 1,
                            None => seen.push((value, 1)),
                        }
                    }
                    let seen: Vec<String> = seen.iter().map(|(v, c)| format!("{v}x{c}")).collect();
                    format!("seen {}", seen.join(","))
                }
                ["wait_stat", stat, n] => {
                    let n: u64 = n.parse().expect("a count");
                    let value = |s: &backplane::BackplaneStats| match *stat {
                        "published" => s.published,
                        "applied" => s.applied,
                        "replays" => s.replays,
                        "gap_clears" => s.gap_clears,
                        "duplicate_ids" => s.duplicate_ids,
                        other => panic!("unknown stat {other}"),
                    };
                    if poll_until(|| value(&backplane::stats()) >= n).await {
                        "ok".to_owned()
                    } else {
                        format!("timeout {}", stats())
                    }
                }
                ["stats"] => stats(),
                ["tier"] | ["tier", _] => {
                    // A function's tier is set on its first miss: zeros before.
                    let t = match words.get(1) {
                        Some(&"shared") => shared_folder_cache().tier_stats().unwrap_or_default(),
                        Some(&"shared-account") => {
                            shared_account_cache().tier_stats().unwrap_or_default()
                        }
                        Some(&"shared-fallback") => {
                            shared_fallback_cache().tier_stats().unwrap_or_default()
                        }
                        Some(&"shared-swr") => {
                            shared_stale_cache().tier_stats().unwrap_or_default()
                        }
                        _ => tiered().tier_stats().expect("a tier"),
                    };
                    format!(
                        "tier calls={} hits={} stale={} misses={} waited={} waited_out={} \
                         skipped={} unavailable={} undecodable={} too_large={} writes={} \
                         writes_refused={} write_errors={}",
                        CALLS.load(SeqCst),
                        t.hits,
                        t.stale,
                        t.misses,
                        t.waited,
                        t.waited_out,
                        t.skipped,
                        t.unavailable,
                        t.undecodable,
                        t.too_large,
                        t.writes,
                        t.writes_refused,
                        t.write_errors
                    )
                }
                // Reads of `users` (comma-separated), in order, `rounds` times, each timed: the
                // upstream calls, and the p50 and p99 of the reads in µs.
                ["timed", kind, users, rounds] => {
                    let rounds: usize = rounds.parse().expect("a count");
                    let before = CALLS.load(SeqCst);
                    let mut micros = Vec::new();
                    for _ in 0..rounds {
                        for user in users.split(',') {
                            let started = Instant::now();
                            let _ = get(kind, user).await;
                            micros.push(started.elapsed().as_micros());
                        }
                    }
                    micros.sort_unstable();
                    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
                    format!(
                        "calls {} p50 {} p99 {} max {}",
                        CALLS.load(SeqCst) - before,
                        at(0.5),
                        at(0.99),
                        micros[micros.len() - 1]
                    )
                }
                // Drops the function's values here only (evicted for capacity), telling nobody.
                ["forget", "shared-swr"] => {
                    let cache = shared_stale_cache();
                    let capacity = cache.capacity();
                    cache.set_capacity(1).expect("a valid capacity");
                    cache.set_capacity(capacity).expect("a valid capacity");
                    "ok".to_owned()
                }
                ["name"] => listing_cache().name().to_owned(),
                other => panic!("unknown command {other:?}"),
            }
        });
        println!("@@ {answer}");
    }
}

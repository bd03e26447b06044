//! The simulated users, run once against the bare clients and once through the cache.
//!
//! Both phases replay the same browsing (same seed, same folders, same rotations at the same
//! point) against a fresh fake API, so every difference in the report comes from the cache.
//! The browsing is shaped like a real UI's: a few folders get most of the visits, and each page
//! view lists the folder for the main pane and `root` for the folder tree at the same time —
//! two components asking for the same data, which is what single-flight is for.
//!
//! Every request is recorded with when it started and what it got back (including when the
//! upstream call behind the answer began), so the report's claims are checked from the outside
//! instead of being read off the cache's own counters.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cache_core::CacheStats;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::api::{ApiConfig, ApiMonitor, ApiTotals, FakeApi, IssuedCredential, FOLDERS};
use crate::providers::{
    self, ApiError, CloudProvider, CredentialStore, Dropbox, ErrorKind, GoogleDrive, Listing,
    Upstream,
};

/// A folder id that used to be shared with everyone and was deleted: every request for it is a
/// 404, which is how the report shows that errors are not cached.
pub(crate) const DELETED_FOLDER: &str = "Old-Shared-Link";

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) users: usize,
    pub(crate) requests_per_user: usize,
    pub(crate) rotate: usize,
    pub(crate) seed: u64,
    pub(crate) api: ApiConfig,
    pub(crate) client_timeout: Duration,
    /// Pause between two page views of one user, uniformly random up to this.
    pub(crate) think: Duration,
    /// Share of page views that open [`DELETED_FOLDER`].
    pub(crate) deleted_share: f64,
    pub(crate) progress: bool,
}

impl Config {
    /// The demo's defaults, sized to finish both phases in seconds on two cores.
    pub(crate) fn demo() -> Self {
        Self {
            users: 50,
            requests_per_user: 100,
            rotate: 5,
            seed: 42,
            api: ApiConfig {
                latency: (Duration::from_millis(50), Duration::from_millis(150)),
                rate_per_sec: 5.0,
                burst: 10.0,
                stall_chance: 0.003,
                stall: Duration::from_millis(1500),
            },
            client_timeout: Duration::from_secs(1),
            think: Duration::from_millis(10),
            deleted_share: 0.02,
            progress: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every request calls `fetch_folder`: straight to the upstream.
    Uncached,
    /// Every request calls the `#[ttl_cached]` `list_folders`.
    Cached,
}

/// What one request got back.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Listing {
        credential_generation: u64,
        right_owner: bool,
    },
    Error(ErrorKind),
}

/// One user-facing request.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) user: usize,
    pub(crate) provider: usize,
    /// Index into [`FOLDERS`], or `FOLDERS.len()` for [`DELETED_FOLDER`].
    pub(crate) folder: usize,
    pub(crate) start: Instant,
    pub(crate) latency: Duration,
    /// When the upstream call whose answer this request got began.
    pub(crate) fetched_at: Instant,
    pub(crate) outcome: Outcome,
}

impl Sample {
    pub(crate) fn end(&self) -> Instant {
        self.start + self.latency
    }
}

/// A completed credential rotation.
#[derive(Debug, Clone)]
pub(crate) struct Rotation {
    pub(crate) user: usize,
    pub(crate) generation: u64,
    /// When `invalidate_user` returned: requests starting from here on must not see listings of
    /// an older generation.
    pub(crate) completed: Instant,
    pub(crate) evicted: usize,
}

#[derive(Debug)]
pub(crate) struct PhaseResult {
    pub(crate) wall: Duration,
    pub(crate) samples: Vec<Sample>,
    pub(crate) rotations: Vec<Rotation>,
    pub(crate) rotation_failures: Vec<String>,
    pub(crate) api: ApiTotals,
    /// Per provider (drive, dropbox): the cache counters' growth during the phase.
    pub(crate) cache: [CacheStats; 2],
}

pub(crate) fn user_name(user: usize) -> String {
    format!("user-{user:03}")
}

/// Runs one phase: a fresh fake API, every user signed in, then everyone browsing.
pub(crate) async fn run_phase(config: &Config, mode: Mode) -> anyhow::Result<PhaseResult> {
    let api = FakeApi::start(config.api.clone())
        .await
        .context("starting the fake API on 127.0.0.1")?;
    let http = reqwest::Client::builder()
        .timeout(config.client_timeout)
        .build()
        .context("building the HTTP client")?;
    let upstream = Upstream {
        http,
        base_url: api.base_url(),
        credentials: Arc::new(CredentialStore::default()),
    };
    let admin = Arc::new(upstream.clone());

    let mut sign_ins = JoinSet::new();
    for user in 0..config.users {
        let admin = admin.clone();
        sign_ins.spawn(async move { issue_credential(&admin, &user_name(user)).await });
    }
    while let Some(issued) = sign_ins.join_next().await {
        admin.credentials.set(&issued??);
    }

    let providers: Arc<[Arc<dyn CloudProvider>; 2]> = Arc::new([
        Arc::new(GoogleDrive::new(upstream.clone())),
        Arc::new(Dropbox::new(upstream)),
    ]);
    // One cache serves every instance of a client type (`ignore = [self]`), and the clients of
    // an earlier phase talked to a server that is gone: start from empty, as a fresh process would.
    for cache in providers::listing_caches() {
        cache.clear().await;
    }
    let caches_before = providers::listing_caches().map(|c| c.stats());

    let total = config.users * config.requests_per_user;
    let progress = progress_bar(config.progress, total, mode);
    let shared = Arc::new(Shared {
        done: AtomicUsize::new(0),
        halfway: total / 2,
        halfway_reached: Notify::new(),
        progress: progress.clone(),
    });

    let started = Instant::now();
    let mut users = JoinSet::new();
    for user in 0..config.users {
        users.spawn(browse(
            config.clone(),
            mode,
            user,
            providers.clone(),
            shared.clone(),
        ));
    }
    let rotations = tokio::spawn(rotate_halfway(
        config.clone(),
        admin.clone(),
        shared.clone(),
    ));
    let ticker = tokio::spawn(show_live_counts(progress.clone(), api.monitor()));

    let mut samples = Vec::with_capacity(total);
    while let Some(user_samples) = users.join_next().await {
        samples.extend(user_samples.context("a simulated user panicked")?);
    }
    // With `--rotate 0` or tiny runs the halfway mark may be the end; never wait forever on it.
    shared.halfway_reached.notify_one();
    let (rotations, rotation_failures) = rotations.await.context("the rotation task panicked")?;
    let wall = started.elapsed();
    ticker.abort();
    progress.finish_and_clear();

    let caches_after = providers::listing_caches().map(|c| c.stats());
    Ok(PhaseResult {
        wall,
        samples,
        rotations,
        rotation_failures,
        api: api.totals(),
        cache: [0, 1].map(|i| stats_delta(caches_after[i], caches_before[i])),
    })
}

/// `CacheStats` counters only grow: the phase's share is the difference of two snapshots.
fn stats_delta(after: CacheStats, before: CacheStats) -> CacheStats {
    after.since(&before)
}

#[derive(Debug)]
struct Shared {
    done: AtomicUsize,
    halfway: usize,
    halfway_reached: Notify,
    progress: ProgressBar,
}

impl Shared {
    fn record(&self) {
        self.progress.inc(1);
        if self.done.fetch_add(1, Relaxed) + 1 == self.halfway {
            self.halfway_reached.notify_one();
        }
    }
}

fn progress_bar(visible: bool, total: usize, mode: Mode) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:24}] {pos:>5}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(match mode {
        Mode::Uncached => "cache OFF",
        Mode::Cached => "cache ON",
    });
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

async fn show_live_counts(progress: ProgressBar, api: ApiMonitor) {
    loop {
        let t = api.totals();
        progress.set_message(format!(
            "upstream calls {}, 429s {}",
            t.requests, t.rate_limited
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn issue_credential(
    admin: &Upstream,
    user: &str,
) -> anyhow::Result<IssuedCredential> {
    let url = format!("{}/users/{user}/rotate", admin.base_url);
    let response = admin
        .http
        .post(&url)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?
        .error_for_status()
        .with_context(|| format!("POST {url}"))?;
    response
        .json()
        .await
        .with_context(|| format!("POST {url}: decoding the credential"))
}

/// Zipf-like: the k-th folder of [`FOLDERS`] is visited about 1/k as often as `root`.
fn pick_folder(rng: &mut fastrand::Rng, deleted_share: f64) -> usize {
    if rng.f64() < deleted_share {
        return FOLDERS.len();
    }
    let harmonic: f64 = (1..=FOLDERS.len()).map(|k| 1.0 / k as f64).sum();
    let mut x = rng.f64() * harmonic;
    for k in 0..FOLDERS.len() {
        x -= 1.0 / (k + 1) as f64;
        if x <= 0.0 {
            return k;
        }
    }
    FOLDERS.len() - 1
}

fn folder_id(folder: usize) -> &'static str {
    FOLDERS.get(folder).copied().unwrap_or(DELETED_FOLDER)
}

async fn browse(
    config: Config,
    mode: Mode,
    user: usize,
    providers: Arc<[Arc<dyn CloudProvider>; 2]>,
    shared: Arc<Shared>,
) -> Vec<Sample> {
    let mut rng = fastrand::Rng::with_seed(
        config.seed ^ (user as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let name = user_name(user);
    let mut samples = Vec::with_capacity(config.requests_per_user);
    // After an error in the main pane the user clicks the folder again, once.
    let mut retry = None;
    while samples.len() < config.requests_per_user {
        let (provider, folder, is_retry) = match retry.take() {
            Some((provider, folder)) => (provider, folder, true),
            None => (
                rng.usize(..providers.len()),
                pick_folder(&mut rng, config.deleted_share),
                false,
            ),
        };
        let think = config.think.mul_f64(rng.f64());
        let load = |folder| {
            request(
                mode,
                &*providers[provider],
                &name,
                user,
                provider,
                folder,
                &shared,
            )
        };
        let pane = if config.requests_per_user - samples.len() == 1 {
            load(folder).await
        } else {
            // The main pane and the folder tree load together.
            let (pane, tree) = tokio::join!(load(folder), load(0));
            samples.push(tree);
            pane
        };
        if matches!(pane.outcome, Outcome::Error(_)) && !is_retry {
            retry = Some((provider, folder));
        }
        samples.push(pane);
        tokio::time::sleep(think).await;
    }
    samples
}

async fn request(
    mode: Mode,
    provider: &dyn CloudProvider,
    user_id: &str,
    user: usize,
    provider_index: usize,
    folder: usize,
    shared: &Shared,
) -> Sample {
    let start = Instant::now();
    let result = match mode {
        Mode::Uncached => provider.fetch_folder(user_id, folder_id(folder)).await,
        Mode::Cached => provider.list_folders(user_id, folder_id(folder)).await,
    };
    let latency = start.elapsed();
    shared.record();
    let (fetched_at, outcome) = match result {
        Ok(listing) => (listing.fetched_at, listing_outcome(&listing, user_id)),
        Err(ApiError {
            kind, fetched_at, ..
        }) => (fetched_at, Outcome::Error(kind)),
    };
    Sample {
        user,
        provider: provider_index,
        folder,
        start,
        latency,
        fetched_at,
        outcome,
    }
}

fn listing_outcome(listing: &Listing, user_id: &str) -> Outcome {
    Outcome::Listing {
        credential_generation: listing.credential_generation,
        right_owner: listing.owner == user_id && !listing.entries.is_empty(),
    }
}

/// Waits for the halfway mark, then rotates the chosen users' credentials while everyone keeps
/// browsing: new token at the API, into the store, then the generated `invalidate_*` helpers.
async fn rotate_halfway(
    config: Config,
    admin: Arc<Upstream>,
    shared: Arc<Shared>,
) -> (Vec<Rotation>, Vec<String>) {
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let mut chosen: Vec<usize> = (0..config.users).collect();
    rng.shuffle(&mut chosen);
    chosen.truncate(config.rotate);
    shared.halfway_reached.notified().await;

    let mut rotations = JoinSet::new();
    for user in chosen {
        let admin = admin.clone();
        rotations.spawn(async move {
            let name = user_name(user);
            let issued = issue_credential(&admin, &name)
                .await
                .with_context(|| format!("rotating {name}"))?;
            admin.credentials.set(&issued);
            let evicted = providers::invalidate_user(&name).await;
            anyhow::Ok(Rotation {
                user,
                generation: issued.generation,
                completed: Instant::now(),
                evicted,
            })
        });
    }
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    while let Some(rotation) = rotations.join_next().await {
        match rotation {
            Ok(Ok(rotation)) => done.push(rotation),
            Ok(Err(e)) => failed.push(format!("{e:#}")),
            Err(e) => failed.push(format!("rotation task: {e}")),
        }
    }
    (done, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PhaseSummary, Report};

    /// The demo in miniature: millisecond latencies, a tight rate limit, many deleted folders.
    fn tiny() -> Config {
        Config {
            users: 4,
            requests_per_user: 60,
            rotate: 2,
            seed: 7,
            api: ApiConfig {
                latency: (Duration::from_millis(1), Duration::from_millis(3)),
                rate_per_sec: 100.0,
                burst: 4.0,
                stall_chance: 0.05,
                stall: Duration::from_millis(150),
            },
            client_timeout: Duration::from_millis(100),
            think: Duration::from_millis(2),
            deleted_share: 0.1,
            progress: false,
        }
    }

    // The only test that goes through the cache: the caches are statics shared by every test
    // of this binary, and a second user of them would make the counters' deltas overlap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_report_claims_hold() {
        let config = tiny();
        let started = Instant::now();
        let off = PhaseSummary::new(&run_phase(&config, Mode::Uncached).await.unwrap());
        let on = PhaseSummary::new(&run_phase(&config, Mode::Cached).await.unwrap());
        let requests = config.users * config.requests_per_user;

        // Without the cache every request is an upstream call; with it, far fewer.
        assert_eq!((off.requests, on.requests), (requests, requests));
        assert_eq!(off.upstream.requests, requests as u64);
        assert!(
            on.upstream.requests < off.upstream.requests / 2,
            "cache ON made {} upstream calls for {requests} requests",
            on.upstream.requests
        );
        // The cache's counters agree with what the upstream and the users saw.
        let stats = on.cache;
        assert_eq!(
            stats.misses, on.upstream.requests,
            "one upstream call per miss"
        );
        assert_eq!(stats.hits + stats.misses + stats.coalesced, requests as u64);
        assert!(stats.hits > 0);

        for phase in [&off, &on] {
            // Rotation: checked on real requests, none stale.
            assert_eq!(phase.rotation.users, config.rotate);
            assert!(
                phase.rotation.checked > 0,
                "no request after rotation: a vacuous check"
            );
            assert_eq!(phase.rotation.stale, 0);
            assert!(phase.rotation_failures.is_empty());
            // Errors: there were some, none came from storage, every retry went upstream.
            let e = phase.error_check;
            assert!(e.errors > 0 && e.followed_up > 0, "{e:?}: a vacuous check");
            assert_eq!(e.served_from_cache, 0);
            assert_eq!(e.retried_upstream, e.followed_up);
            assert_eq!(phase.wrong_owner, 0);
        }
        assert!(on.rotation.evicted > 0, "rotation evicted nothing");
        assert!(off.errors.contains_key(&ErrorKind::NotFound));
        assert!(off.errors.contains_key(&ErrorKind::Unreachable));

        let report = Report {
            config: &config,
            off,
            on,
        };
        assert!(report.checks_pass());
        let text = report.to_string();
        // The closing "all checks passed" is `main`'s, after the serving-stale table.
        assert!(text.contains("[ok]") && !text.contains("[FAIL]"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

//! Serving stale, measured: the same browsing through a `TtlCache` without and with stale
//! windows, while the fake API goes through three spells: healthy, rate-limited (every listing
//! a 429) and down (every listing a 503).
//!
//! The stale windows are the `TtlCache` builder's (`stale_while_revalidate`, `stale_if_error`)
//! with `try_get_with_stale`, whose fetch becomes a background task: `#[ttl_cached]` on the
//! provider trait (see `providers.rs`) cannot move its body, which borrows `&self` and `&str`
//! parameters, into a task. Both runs use the same verb; only the windows differ.
//!
//! Midway through the outage one user's credential rotates and their group is invalidated:
//! from then on that user must get errors (the upstream is down), never the listings cached
//! under the revoked credential, stale or not. The check recomputes that from every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cache_core::{CacheStats, TtlCache};
use tokio::task::JoinSet;

use crate::api::{ApiConfig, ApiTotals, Disruption, FakeApi, FOLDERS};
use crate::providers::{ApiError, CloudProvider, CredentialStore, GoogleDrive, Listing, Upstream};
use crate::report::percentile;
use crate::workload::{issue_credential, user_name};

/// The experiment's knobs: small and short, so that the demo stays quick.
#[derive(Debug, Clone)]
pub(crate) struct StaleConfig {
    pub(crate) users: usize,
    /// Each user browses the first `folders` of [`FOLDERS`], uniformly.
    pub(crate) folders: usize,
    pub(crate) ttl: Duration,
    pub(crate) stale_while_revalidate: Duration,
    pub(crate) stale_if_error: Duration,
    /// How long each of the three spells lasts.
    pub(crate) spell: Duration,
    pub(crate) think: Duration,
    pub(crate) api: ApiConfig,
}

impl StaleConfig {
    pub(crate) fn demo() -> Self {
        Self {
            users: 20,
            folders: 8,
            ttl: Duration::from_millis(400),
            stale_while_revalidate: Duration::from_millis(400),
            stale_if_error: Duration::from_secs(10),
            spell: Duration::from_millis(1200),
            think: Duration::from_millis(20),
            api: ApiConfig {
                latency: (Duration::from_millis(50), Duration::from_millis(150)),
                // No per-user throttling here: the rate-limited spell is the whole app's.
                rate_per_sec: 10_000.0,
                burst: 10_000.0,
                stall_chance: 0.0,
                stall: Duration::ZERO,
            },
        }
    }
}

pub(crate) const SPELLS: [&str; 3] = ["healthy", "rate-limited (429)", "down (503)"];

/// One request as the user saw it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    user: usize,
    start: Instant,
    latency: Duration,
    /// The listing's credential generation, or `None` for an error.
    generation: Option<u64>,
}

/// One spell of one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpellFigures {
    pub(crate) requests: usize,
    pub(crate) errors: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) upstream: u64,
    pub(crate) cache: CacheStats,
}

/// One run (without or with the windows).
#[derive(Debug, Clone)]
pub(crate) struct StaleRun {
    pub(crate) windows: bool,
    pub(crate) spells: [SpellFigures; 3],
    /// Requests of the rotated user that began after its invalidation returned...
    pub(crate) after_rotation: usize,
    /// ...and of those, listings fetched with the revoked credential (must be 0).
    pub(crate) revoked_served: usize,
}

/// The two runs: without the windows, then with them.
pub(crate) async fn run(config: &StaleConfig) -> anyhow::Result<[StaleRun; 2]> {
    Ok([
        run_once(config, false).await?,
        run_once(config, true).await?,
    ])
}

type ListingCache = TtlCache<String, String, Arc<Listing>>;

async fn run_once(config: &StaleConfig, windows: bool) -> anyhow::Result<StaleRun> {
    let api = FakeApi::start(config.api.clone())
        .await
        .context("starting the fake API on 127.0.0.1")?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("building the HTTP client")?;
    let upstream = Upstream {
        http,
        base_url: api.base_url(),
        credentials: Arc::new(CredentialStore::default()),
    };
    for user in 0..config.users {
        upstream
            .credentials
            .set(&issue_credential(&upstream, &user_name(user)).await?);
    }
    let provider: Arc<dyn CloudProvider> = Arc::new(GoogleDrive::new(upstream.clone()));
    let mut builder = TtlCache::builder().ttl(config.ttl).name("stale_demo");
    if windows {
        builder = builder
            .stale_while_revalidate(config.stale_while_revalidate)
            .stale_if_error(config.stale_if_error);
    }
    let cache: Arc<ListingCache> = Arc::new(builder.build()?);

    let started = Instant::now();
    let end = started + config.spell * 3;
    let mut users = JoinSet::new();
    for user in 0..config.users {
        users.spawn(browse(
            config.clone(),
            user,
            cache.clone(),
            provider.clone(),
            end,
        ));
    }

    // The spells, with the figures of the upstream and the cache at each boundary.
    let mut boundaries: Vec<(Instant, ApiTotals, CacheStats)> =
        vec![(started, api.totals(), cache.stats())];
    let mut rotated_at = None;
    for (i, disruption) in [Disruption::RateLimited, Disruption::Failing]
        .into_iter()
        .enumerate()
    {
        tokio::time::sleep_until((started + config.spell * (i as u32 + 1)).into()).await;
        api.set_disruption(disruption);
        boundaries.push((Instant::now(), api.totals(), cache.stats()));
    }
    // Midway through the outage, user 0's credential rotates.
    tokio::time::sleep_until((started + config.spell * 5 / 2).into()).await;
    let issued = issue_credential(&upstream, &user_name(0)).await?;
    upstream.credentials.set(&issued);
    cache.invalidate_group(&user_name(0)).await;
    rotated_at.get_or_insert((Instant::now(), issued.generation));

    let mut samples = Vec::new();
    while let Some(user_samples) = users.join_next().await {
        samples.extend(user_samples.context("a simulated user panicked")?);
    }
    boundaries.push((Instant::now(), api.totals(), cache.stats()));

    let spells = std::array::from_fn(|i| {
        let (from, api_from, cache_from) = boundaries[i];
        let (to, api_to, cache_to) = boundaries[i + 1];
        let in_spell: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start >= from && s.start < to)
            .collect();
        let mut latencies: Vec<Duration> = in_spell.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        SpellFigures {
            requests: in_spell.len(),
            errors: in_spell.iter().filter(|s| s.generation.is_none()).count(),
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            upstream: api_to.requests - api_from.requests,
            cache: cache_to.since(&cache_from),
        }
    });
    let (rotated_at, generation) = rotated_at.context("the rotation did not run")?;
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.user == 0 && s.start >= rotated_at)
        .collect();
    Ok(StaleRun {
        windows,
        spells,
        after_rotation: after.len(),
        revoked_served: after
            .iter()
            .filter(|s| s.generation.is_some_and(|g| g < generation))
            .count(),
    })
}

/// One user browsing until `end`: a folder, a short pause, again.
async fn browse(
    config: StaleConfig,
    user: usize,
    cache: Arc<ListingCache>,
    provider: Arc<dyn CloudProvider>,
    end: Instant,
) -> Vec<Sample> {
    let mut rng = fastrand::Rng::with_seed(user as u64);
    let name = user_name(user);
    let mut samples = Vec::new();
    while Instant::now() < end {
        let folder = FOLDERS[rng.usize(..config.folders.min(FOLDERS.len()))];
        let start = Instant::now();
        let fetch = {
            let (provider, name, folder) = (provider.clone(), name.clone(), folder.to_owned());
            move || async move { provider.fetch_folder(&name, &folder).await }
        };
        let outcome: Result<Arc<Listing>, ApiError> =
            cache.try_get_with_stale(&name, folder, fetch).await;
        samples.push(Sample {
            user,
            start,
            latency: start.elapsed(),
            generation: outcome.ok().map(|l| l.credential_generation),
        });
        tokio::time::sleep(config.think.mul_f64(rng.f64())).await;
    }
    samples
}

/// The two runs side by side, one row per spell, and the checks.
#[derive(Debug)]
pub(crate) struct StaleReport<'a> {
    pub(crate) config: &'a StaleConfig,
    pub(crate) runs: [StaleRun; 2],
}

impl StaleReport<'_> {
    /// Nobody was served a listing of a revoked credential after the invalidation, in either
    /// run, and the windows turned the disruptions' errors into stale listings.
    pub(crate) fn checks_pass(&self) -> bool {
        self.rotation_ok() && self.fewer_errors()
    }

    fn rotation_ok(&self) -> bool {
        self.runs
            .iter()
            .all(|r| r.after_rotation > 0 && r.revoked_served == 0)
    }

    fn disrupted_errors(run: &StaleRun) -> usize {
        run.spells[1].errors + run.spells[2].errors
    }

    fn fewer_errors(&self) -> bool {
        Self::disrupted_errors(&self.runs[1]) < Self::disrupted_errors(&self.runs[0])
    }
}

impl std::fmt::Display for StaleReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::report::{mark, time};
        let c = self.config;
        writeln!(
            f,
            "serving stale: {} users x {} folders through a TtlCache (ttl {}), {} per spell; \
             stale windows: while revalidating {}, on error {}",
            c.users,
            c.folders,
            time(c.ttl),
            time(c.spell),
            time(c.stale_while_revalidate),
            time(c.stale_if_error),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| upstream | stale windows | requests | errors served | p50 | p99 | upstream calls | served stale | errors papered over |"
        )?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
        for (i, spell) in SPELLS.iter().enumerate() {
            for run in &self.runs {
                let s = &run.spells[i];
                writeln!(
                    f,
                    "| {spell} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    if run.windows { "on" } else { "off" },
                    s.requests,
                    s.errors,
                    time(s.p50),
                    time(s.p99),
                    s.upstream,
                    s.cache.stale_served,
                    s.cache.stale_on_error,
                )?;
            }
        }
        writeln!(f)?;
        let (off, on) = (&self.runs[0], &self.runs[1]);
        writeln!(
            f,
            "  {} errors served while the upstream was rate-limited or down: {} without the windows, {} with them",
            mark(self.fewer_errors()),
            Self::disrupted_errors(off),
            Self::disrupted_errors(on),
        )?;
        writeln!(
            f,
            "  {} invalidation wins: listings of the revoked credential served after the rotation \
             during the outage: {} of {} requests without the windows, {} of {} with them",
            mark(self.rotation_ok()),
            off.revoked_served,
            off.after_rotation,
            on.revoked_served,
            on.after_rotation,
        )
    }
}

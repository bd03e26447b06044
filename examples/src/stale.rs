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
//!
//! When the upstream is in trouble the cache stops calling it: a failed fetch papered over
//! starts the fail-safe throttle (the builder's default, 5 s; longer than a spell here), a
//! 429's `Retry-After` is read as a retry hint ([`cache_core::RetryAfter`] on the error type),
//! and the error classifier tells which errors may be papered over: a 401 (the user revoked
//! the app's access, midway through the healthy spell, without this service being told)
//! revokes: the user's cached listings are dropped on the spot and never served again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cache_core::{CacheStats, ErrorClass, TtlCache};
use tokio::task::JoinSet;

use crate::api::{ApiConfig, ApiTotals, Disruption, FakeApi, FOLDERS};
use crate::providers::{
    ApiError, CloudProvider, CredentialStore, ErrorKind, GoogleDrive, Listing, Upstream,
};
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
    folder: &'static str,
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
    /// Errors for a folder the user had been served a listing of before, under a credential
    /// still valid: those an expired listing could have stood in for.
    pub(crate) avoidable_errors: usize,
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
    /// Requests of the user who revoked the app's access that began after the first 401 they
    /// received...
    pub(crate) after_revocation: usize,
    /// ...and of those, listings served (must be 0: stale or not, they are gone).
    pub(crate) revocation_served: usize,
}

/// The user who revokes the app's access midway through the healthy spell.
const REVOKING_USER: usize = 1;

/// What each error means for the cached listing: a 401 revokes it, a 404 is an answer, the
/// rest (a 429, with its `Retry-After`; a 503; a timeout) is the upstream's trouble.
fn classify(error: &ApiError) -> ErrorClass {
    match error.kind {
        ErrorKind::Unauthorized | ErrorKind::SignedOut => ErrorClass::Revoke,
        ErrorKind::NotFound => ErrorClass::Surface,
        _ => error
            .retry_after
            .map_or(ErrorClass::Transient, ErrorClass::RetryAfter),
    }
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
    let mut builder = TtlCache::builder()
        .ttl(config.ttl)
        .name("stale_demo")
        .classify_errors(classify);
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
    // Midway through the healthy spell, one user revokes the app's access at the provider:
    // the token the service holds is refused from now on (a 401), and nobody tells the cache.
    tokio::time::sleep_until((started + config.spell / 2).into()).await;
    issue_credential(&upstream, &user_name(REVOKING_USER)).await?;
    let revoked_at = Instant::now();
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

    let (rotated_at, generation) = rotated_at.context("the rotation did not run")?;
    let changes = [(0, rotated_at)];
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
            avoidable_errors: in_spell
                .iter()
                .filter(|s| {
                    s.generation.is_none() && had_listing(&samples, s, &changes, revoked_at)
                })
                .count(),
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            upstream: api_to.requests - api_from.requests,
            cache: cache_to.since(&cache_from),
        }
    });
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.user == 0 && s.start >= rotated_at)
        .collect();
    // From the end of the first request of the revoking user that failed after the revocation.
    let first_refusal = samples
        .iter()
        .filter(|s| s.user == REVOKING_USER && s.start >= revoked_at && s.generation.is_none())
        .map(|s| s.start + s.latency)
        .min()
        .context("the revoking user got no error")?;
    let after_revocation: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.user == REVOKING_USER && s.start >= first_refusal)
        .collect();
    Ok(StaleRun {
        windows,
        spells,
        after_rotation: after.len(),
        revoked_served: after
            .iter()
            .filter(|s| s.generation.is_some_and(|g| g < generation))
            .count(),
        after_revocation: after_revocation.len(),
        revocation_served: after_revocation
            .iter()
            .filter(|s| s.generation.is_some())
            .count(),
    })
}

/// Whether `error`'s user had been served a listing of its folder before it began, since
/// their credential last changed (`changes`: user 0's rotation), and their access was not
/// revoked (`revoked_at`): an error an expired listing could have stood in for.
fn had_listing(
    samples: &[Sample],
    error: &Sample,
    changes: &[(usize, Instant)],
    revoked_at: Instant,
) -> bool {
    if error.user == REVOKING_USER && error.start >= revoked_at {
        return false;
    }
    let since = changes
        .iter()
        .filter(|(user, at)| *user == error.user && *at <= error.start)
        .map(|(_, at)| *at)
        .max();
    samples.iter().any(|s| {
        s.user == error.user
            && s.folder == error.folder
            && s.generation.is_some()
            && since.is_none_or(|at| s.start >= at)
            && s.start + s.latency <= error.start
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
            folder,
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
        self.runs.iter().all(|r| {
            r.after_rotation > 0
                && r.revoked_served == 0
                && r.after_revocation > 0
                && r.revocation_served == 0
        })
    }

    fn disrupted_errors(run: &StaleRun) -> usize {
        run.spells[1].errors + run.spells[2].errors
    }

    fn avoidable_errors(run: &StaleRun) -> usize {
        run.spells[1].avoidable_errors + run.spells[2].avoidable_errors
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
            "| upstream | stale windows | requests | errors served | p50 | p99 | upstream calls | served stale | errors papered over | throttled | retry hints |"
        )?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        for (i, spell) in SPELLS.iter().enumerate() {
            for run in &self.runs {
                let s = &run.spells[i];
                writeln!(
                    f,
                    "| {spell} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    if run.windows { "on" } else { "off" },
                    s.requests,
                    s.errors,
                    time(s.p50),
                    time(s.p99),
                    s.upstream,
                    s.cache.stale_served,
                    s.cache.stale_on_error,
                    s.cache.throttled,
                    s.cache.retry_hints,
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
            "  {} of them, for a folder whose listing the user had been served (under a credential \
             still valid): {} without the windows, {} with them (the rest: folders never listed \
             before, nothing to stand in; or the user who revoked the app's access)",
            mark(Self::avoidable_errors(on) == 0),
            Self::avoidable_errors(off),
            Self::avoidable_errors(on),
        )?;
        writeln!(
            f,
            "  {} invalidation wins: listings of the revoked credential served after the rotation \
             during the outage: {} of {} requests without the windows, {} of {} with them; \
             listings served to the user who revoked the app's access, after their first 401 \
             (which dropped their group: {} revocations): {} of {} without, {} of {} with",
            mark(self.rotation_ok()),
            off.revoked_served,
            off.after_rotation,
            on.revoked_served,
            on.after_rotation,
            on.spells[0].cache.revoked,
            off.revocation_served,
            off.after_revocation,
            on.revocation_served,
            on.after_revocation,
        )
    }
}

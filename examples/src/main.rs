//! `folder-browser`: why `#[ttl_cached]` exists, in about a minute.
//!
//! Fifty simulated users browse their Drive and Dropbox folders through ordinary provider
//! clients talking HTTP to a fake, slow, rate-limited cloud API; halfway through, some of them
//! rotate their credentials. The same browsing runs twice, first straight to the upstream, then
//! with `#[ttl_cached]` on the clients' `list_folders`, and the report sets the two side by side
//! and checks that the cache never served a listing it should not have. Then a shorter run
//! measures serving stale: the same browsing through a `TtlCache` without and with stale
//! windows while the upstream is healthy, rate-limited, then down (see `stale.rs`).
//!
//! Run it with `cargo run --release -p ttl-cached-examples`; `--help` lists the knobs.

mod api;
mod metrics;
mod providers;
mod report;
mod stale;
mod workload;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

use crate::report::{PhaseSummary, Report};
use crate::workload::{Config, Mode};

/// Browse folders with and without #[ttl_cached], against a fake rate-limited cloud API, and
/// compare.
#[derive(Debug, Parser)]
#[command(name = "folder-browser", version)]
struct Args {
    /// Simulated users browsing at the same time.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    users: u32,

    /// Folder listings each user requests, in each phase.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    requests: u32,

    /// Users whose credentials are rotated halfway through each phase.
    #[arg(long, default_value_t = 5)]
    rotate: u32,

    /// Seed for the browsing pattern (which folders, which users rotate).
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// The fake API's rate limit, requests per second per user and provider.
    #[arg(long, default_value_t = 5.0)]
    rate_limit: f64,

    /// Do not draw progress bars.
    #[arg(long)]
    quiet: bool,

    /// Where to serve `/metrics` (Prometheus text format) while the example runs.
    #[arg(long, default_value = "127.0.0.1:0")]
    metrics_addr: SocketAddr,

    /// Keep serving `/metrics` after the run, until interrupted (to point a Prometheus at).
    #[arg(long)]
    serve_metrics: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = Config::demo();
    config.users = args.users as usize;
    config.requests_per_user = args.requests as usize;
    config.rotate = (args.rotate as usize).min(config.users);
    config.seed = args.seed;
    config.api.rate_per_sec = args.rate_limit.max(0.1);
    config.progress = !args.quiet;

    match run(&config, args.metrics_addr, args.serve_metrics).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: a check failed, see [FAIL] above");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs both phases and prints the report; `Ok(false)` if a check failed.
async fn run(config: &Config, metrics_addr: SocketAddr, serve: bool) -> anyhow::Result<bool> {
    let prometheus = metrics::install()?;
    let (metrics_addr, metrics_server) = metrics::serve(prometheus, metrics_addr).await?;
    eprintln!("metrics: http://{metrics_addr}/metrics");
    let total = config.users * config.requests_per_user;
    eprintln!(
        "{} users browsing, {total} folder listings per phase; first without the cache, then with it",
        config.users
    );
    let off = workload::run_phase(config, Mode::Uncached).await?;
    let on = workload::run_phase(config, Mode::Cached).await?;
    let report = Report {
        config,
        off: PhaseSummary::new(&off),
        on: PhaseSummary::new(&on),
    };
    println!("{report}");

    eprintln!("serving stale: the same browsing through a TtlCache without and with stale windows, while the upstream is healthy, rate-limited, then down");
    let stale_config = stale::StaleConfig::demo();
    let stale = stale::StaleReport {
        config: &stale_config,
        runs: stale::run(&stale_config).await?,
    };
    println!("{stale}");
    let scraped = scrape_metrics(metrics_addr).await?;
    let passed = report.checks_pass() && stale.checks_pass() && scraped;
    if passed {
        println!("all checks passed");
    } else {
        println!("A CHECK FAILED: see [FAIL] above");
    }
    if serve {
        eprintln!("serving http://{metrics_addr}/metrics until interrupted");
        drop(metrics_server.await);
    } else {
        metrics_server.abort();
    }
    Ok(passed)
}

/// Scrapes our own `/metrics` once, prints the caches' hit and miss counters from it, and
/// checks them against the caches' `stats()`.
async fn scrape_metrics(addr: SocketAddr) -> anyhow::Result<bool> {
    let scrape = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    println!("GET /metrics (the listing caches' calls):");
    let mut agree = true;
    for cache in providers::listing_caches() {
        let stats = cache.stats();
        for (metric, expected) in [
            ("cache_hits_total", stats.hits),
            ("cache_misses_total", stats.misses),
        ] {
            let series = format!("{metric}{{cache=\"{}\"}}", cache.name());
            let value = metrics::sample(&scrape, &series);
            println!(
                "  {series} {}",
                value.map_or("(missing)".into(), |v| v.to_string())
            );
            #[allow(clippy::cast_precision_loss)]
            let matches = value == Some(expected as f64);
            agree &= matches;
        }
    }
    println!(
        "{} /metrics agrees with stats() for every listing cache",
        if agree { "[ok]" } else { "[FAIL]" }
    );
    Ok(agree)
}

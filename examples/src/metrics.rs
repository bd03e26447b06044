//! `/metrics` in the Prometheus text format: the caches' counters (through cache-core's
//! `metrics` feature and `metrics-exporter-prometheus`, its own listener off) served by an axum
//! route that calls `cache_core::metrics::report()` on each scrape.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Upstream fetch latency buckets, in seconds: a fast provider answers in milliseconds, a
/// rate-limited one in seconds.
const FETCH_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the Prometheus recorder (process-wide) and returns the handle that renders it.
/// Histograms are rendered as buckets, so that `histogram_quantile` can aggregate replicas.
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &FETCH_BUCKETS)
        .context("fetch latency buckets")?
        .install_recorder()
        .context("installing the Prometheus recorder")?;
    // Once now: the descriptions reach the recorder, and fetches are timed from here on.
    cache_core::metrics::report();
    Ok(handle)
}

/// Serves `GET /metrics` on `addr` until the returned task is aborted.
pub(crate) async fn serve(
    handle: PrometheusHandle,
    addr: SocketAddr,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics endpoint on {addr}"))?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                // The caches' counters as they are now, then the whole registry as text.
                cache_core::metrics::report();
                handle.render()
            }
        }),
    );
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("metrics endpoint stopped: {e}");
        }
    });
    Ok((addr, server))
}

/// The value of the sample `series` (name and labels, exactly as rendered) in a scrape.
pub(crate) fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

//! A fake cloud-storage API, served over real HTTP on loopback.
//!
//! A cache is only worth judging against an upstream that behaves like one: every call is slow,
//! every user has a rate limit, and credentials change under your feet. This server has all
//! three, runs in-process so the demo needs no account anywhere, and counts what it was asked
//! for, so the report can set the cache's own statistics against what the upstream really saw.
//!
//! Every listing says which credential generation produced it: that is what lets the report
//! prove, rather than assume, that nobody was served a listing fetched with revoked credentials.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The folders every user has, on both providers, most visited first.
pub(crate) const FOLDERS: &[&str] = &[
    "root",
    "Documents",
    "Photos",
    "Projects",
    "Invoices",
    "Shared",
    "Music",
    "Videos",
    "Archive",
    "Taxes",
    "Recipes",
    "Travel",
    "Notes",
    "Backups",
    "Design",
    "Contracts",
];

/// How the fake upstream behaves.
#[derive(Debug, Clone)]
pub(crate) struct ApiConfig {
    /// Each request waits a uniformly random time in this range before it is answered.
    pub(crate) latency: (Duration, Duration),
    /// Token bucket per (user, provider): refill rate, requests per second...
    pub(crate) rate_per_sec: f64,
    /// ...and bucket size, the burst allowed after a quiet period.
    pub(crate) burst: f64,
    /// Chance that a request hangs for `stall` on top of its latency (past the client timeout).
    pub(crate) stall_chance: f64,
    pub(crate) stall: Duration,
}

/// A bad spell of the upstream, switched on and off by the demo: every listing request is then
/// answered with a 429 (the provider throttles the whole app) or a 503 (an outage), after the
/// usual latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disruption {
    None = 0,
    RateLimited = 1,
    Failing = 2,
}

/// What the server answered, by outcome. Listing calls only; credential calls are `rotations`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ApiTotals {
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    pub(crate) rate_limited: u64,
    pub(crate) unauthorized: u64,
    pub(crate) not_found: u64,
    pub(crate) stalled: u64,
    pub(crate) unavailable: u64,
    pub(crate) rotations: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    rate_limited: AtomicU64,
    unauthorized: AtomicU64,
    not_found: AtomicU64,
    stalled: AtomicU64,
    unavailable: AtomicU64,
    rotations: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug, Default)]
struct Credentials {
    /// token -> (user, generation)
    by_token: HashMap<String, (String, u64)>,
    /// user -> (current token, generation)
    by_user: HashMap<String, (String, u64)>,
}

#[derive(Debug)]
struct ApiState {
    config: ApiConfig,
    credentials: Mutex<Credentials>,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
    /// A [`Disruption`], as its discriminant.
    disruption: AtomicU8,
    counters: Counters,
}

/// The running server; dropping it stops it.
#[derive(Debug)]
pub(crate) struct FakeApi {
    addr: SocketAddr,
    state: Arc<ApiState>,
    server: JoinHandle<()>,
}

impl FakeApi {
    /// Binds `127.0.0.1:0` and serves until dropped.
    pub(crate) async fn start(config: ApiConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ApiState {
            config,
            credentials: Mutex::default(),
            buckets: Mutex::default(),
            disruption: AtomicU8::new(Disruption::None as u8),
            counters: Counters::default(),
        });
        let app = Router::new()
            .route("/{provider}/folders/{folder_id}", get(list_folder))
            .route("/users/{user}/rotate", post(rotate))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake API stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A handle on the counters that can outlive a borrow of the server.
    pub(crate) fn monitor(&self) -> ApiMonitor {
        ApiMonitor(self.state.clone())
    }

    pub(crate) fn totals(&self) -> ApiTotals {
        self.monitor().totals()
    }

    /// Starts (or ends, with `Disruption::None`) a bad spell of the upstream.
    pub(crate) fn set_disruption(&self, disruption: Disruption) {
        self.state.disruption.store(disruption as u8, Relaxed);
    }
}

/// Reads the server's counters.
#[derive(Debug, Clone)]
pub(crate) struct ApiMonitor(Arc<ApiState>);

impl ApiMonitor {
    pub(crate) fn totals(&self) -> ApiTotals {
        let c = &self.0.counters;
        ApiTotals {
            requests: c.requests.load(Relaxed),
            ok: c.ok.load(Relaxed),
            rate_limited: c.rate_limited.load(Relaxed),
            unauthorized: c.unauthorized.load(Relaxed),
            not_found: c.not_found.load(Relaxed),
            stalled: c.stalled.load(Relaxed),
            unavailable: c.unavailable.load(Relaxed),
            rotations: c.rotations.load(Relaxed),
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The body of `POST /users/{user}/rotate`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub(crate) struct IssuedCredential {
    pub(crate) user: String,
    pub(crate) token: String,
    pub(crate) generation: u64,
}

#[derive(Serialize)]
struct DriveFile {
    id: String,
    name: String,
    #[serde(rename = "mimeType")]
    mime_type: &'static str,
}

#[derive(Serialize)]
struct DriveFileList {
    kind: &'static str,
    owner: String,
    #[serde(rename = "credentialGeneration")]
    credential_generation: u64,
    files: Vec<DriveFile>,
}

#[derive(Serialize)]
struct DropboxEntry {
    #[serde(rename = ".tag")]
    tag: &'static str,
    name: String,
    path_display: String,
}

#[derive(Serialize)]
struct DropboxListFolder {
    account_id: String,
    credential_generation: u64,
    entries: Vec<DropboxEntry>,
    has_more: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ApiState {
    async fn network_delay(&self) {
        let (min, max) = self.config.latency;
        let mut delay = min + (max.saturating_sub(min)).mul_f64(fastrand::f64());
        if fastrand::f64() < self.config.stall_chance {
            self.counters.stalled.fetch_add(1, Relaxed);
            delay += self.config.stall;
        }
        tokio::time::sleep(delay).await;
    }

    /// The user and credential generation behind a bearer token, if it is current.
    fn authenticate(&self, headers: &HeaderMap) -> Option<(String, u64)> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        lock(&self.credentials).by_token.get(token).cloned()
    }

    fn take_token(&self, provider: &str, user: &str) -> bool {
        let now = Instant::now();
        let (rate, burst) = (self.config.rate_per_sec, self.config.burst);
        let mut buckets = lock(&self.buckets);
        let bucket = buckets
            .entry((provider.to_owned(), user.to_owned()))
            .or_insert(Bucket {
                tokens: burst,
                refilled: now,
            });
        let refill = now.duration_since(bucket.refilled).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// `GET /{provider}/folders/{folder_id}` with `Authorization: Bearer <token>`.
async fn list_folder(
    State(api): State<Arc<ApiState>>,
    Path((provider, folder_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let counters = &api.counters;
    counters.requests.fetch_add(1, Relaxed);
    api.network_delay().await;

    match api.disruption.load(Relaxed) {
        d if d == Disruption::RateLimited as u8 => {
            counters.rate_limited.fetch_add(1, Relaxed);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "rate limit exceeded for this application",
            )
                .into_response();
        }
        d if d == Disruption::Failing as u8 => {
            counters.unavailable.fetch_add(1, Relaxed);
            return (StatusCode::SERVICE_UNAVAILABLE, "backend unavailable").into_response();
        }
        _ => {}
    }
    let Some((user, generation)) = api.authenticate(&headers) else {
        counters.unauthorized.fetch_add(1, Relaxed);
        return (StatusCode::UNAUTHORIZED, "invalid or revoked token").into_response();
    };
    if !api.take_token(&provider, &user) {
        counters.rate_limited.fetch_add(1, Relaxed);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "rate limit exceeded",
        )
            .into_response();
    }
    if !FOLDERS.contains(&folder_id.as_str()) || !matches!(provider.as_str(), "drive" | "dropbox") {
        counters.not_found.fetch_add(1, Relaxed);
        return (StatusCode::NOT_FOUND, "no such folder").into_response();
    }
    counters.ok.fetch_add(1, Relaxed);

    // Contents that depend on who asks and where, so a mix-up between users would show.
    let seed = folder_id
        .bytes()
        .chain(user.bytes())
        .map(u64::from)
        .sum::<u64>();
    let names = (0..3 + seed % 6).map(|i| format!("{folder_id}-{i:02}"));
    if provider == "drive" {
        Json(DriveFileList {
            kind: "drive#fileList",
            owner: user,
            credential_generation: generation,
            files: names
                .map(|name| DriveFile {
                    id: format!("{folder_id}/{name}"),
                    name,
                    mime_type: "application/pdf",
                })
                .collect(),
        })
        .into_response()
    } else {
        Json(DropboxListFolder {
            account_id: user,
            credential_generation: generation,
            entries: names
                .map(|name| DropboxEntry {
                    tag: "file",
                    path_display: format!("/{folder_id}/{name}"),
                    name,
                })
                .collect(),
            has_more: false,
        })
        .into_response()
    }
}

/// `POST /users/{user}/rotate`: issues a new token (the first one, for a new user) and revokes
/// the previous one. An admin endpoint, so it takes no user token.
async fn rotate(State(api): State<Arc<ApiState>>, Path(user): Path<String>) -> Response {
    api.counters.rotations.fetch_add(1, Relaxed);
    let issued = {
        let mut credentials = lock(&api.credentials);
        let generation = credentials.by_user.get(&user).map_or(1, |(_, g)| g + 1);
        let token = format!("{user}.g{generation}.{:016x}", fastrand::u64(..));
        if let Some((old, _)) = credentials
            .by_user
            .insert(user.clone(), (token.clone(), generation))
        {
            credentials.by_token.remove(&old);
        }
        credentials
            .by_token
            .insert(token.clone(), (user.clone(), generation));
        IssuedCredential {
            user,
            token,
            generation,
        }
    };
    Json(issued).into_response()
}

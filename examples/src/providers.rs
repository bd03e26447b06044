//! Provider clients, written the way an application already has them: one `CloudProvider` trait
//! behind `#[async_trait]`, one implementation per provider, each speaking its provider's JSON.
//!
//! Caching is added by an attribute on the listing method and nothing else changes: the key is
//! what identifies the data (`<user_id>:<folder_id>`), the group is what must go together when
//! it stops being valid (`<user_id>`, on credential rotation). The credential is deliberately not
//! part of the key: a listing does not change because a token did, and keying on the token would
//! only leave the old entries behind, unreachable, until they expire. Revocation is handled
//! explicitly by [`invalidate_user`]: every provider's listing joins the scope [`User`], and one
//! call evicts a user from all of them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cache_core::{ttl_cached, CacheHandle};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::api::IssuedCredential;

cache_core::scope! {
    /// Everything cached for one signed-in user, on every provider: evicted at once when the
    /// user's credential rotates.
    pub(crate) User(user_id: String);
}

/// The current token of every signed-in user, shared by all provider clients.
#[derive(Debug, Default)]
pub(crate) struct CredentialStore {
    tokens: RwLock<HashMap<String, String>>,
}

impl CredentialStore {
    pub(crate) fn set(&self, credential: &IssuedCredential) {
        self.tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(credential.user.clone(), credential.token.clone());
    }

    fn token(&self, user_id: &str) -> Option<String> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user_id)
            .cloned()
    }
}

/// One folder listing, whichever provider it came from.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub(crate) owner: String,
    pub(crate) entries: Vec<String>,
    /// The credential generation the upstream saw: which token produced this listing.
    pub(crate) credential_generation: u64,
    /// When the upstream call behind this listing began; lets the report tell a fresh fetch
    /// from a cached one without trusting the cache.
    pub(crate) fetched_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ErrorKind {
    /// 401: the token was revoked (rotated) while the request was on its way.
    Unauthorized,
    /// 429: the user's rate limit at the provider is exhausted.
    RateLimited,
    /// 404: the folder does not exist (any more).
    NotFound,
    /// 503: the provider is down.
    Unavailable,
    /// No answer: connection refused, reset, or the client timeout passed.
    Unreachable,
    /// An answer this client does not understand.
    Protocol,
    /// No credential in the store for this user.
    SignedOut,
}

impl ErrorKind {
    pub(crate) const ALL: [Self; 7] = [
        Self::Unauthorized,
        Self::RateLimited,
        Self::NotFound,
        Self::Unavailable,
        Self::Unreachable,
        Self::Protocol,
        Self::SignedOut,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Unauthorized => "401 unauthorized",
            Self::RateLimited => "429 rate limited",
            Self::NotFound => "404 not found",
            Self::Unavailable => "503 unavailable",
            Self::Unreachable => "unreachable / timeout",
            Self::Protocol => "bad response",
            Self::SignedOut => "signed out",
        }
    }
}

/// A failed listing. `Clone`, so callers waiting on the same fetch all receive it, instead of
/// each retrying against an upstream that just refused.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) kind: ErrorKind,
    pub(crate) detail: String,
    /// When the failed upstream call began (see [`Listing::fetched_at`]).
    pub(crate) fetched_at: Instant,
    /// A 429's or 503's `Retry-After` (seconds), when the upstream sent one.
    pub(crate) retry_after: Option<Duration>,
}

/// The upstream's hint, honoured by the cache's fail-safe throttle: after a 429 with
/// `Retry-After: 1`, the expired listing is served for at least a second without calling it.
impl cache_core::RetryAfter for ApiError {
    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.detail)
    }
}

impl std::error::Error for ApiError {}

#[async_trait]
pub(crate) trait CloudProvider: Send + Sync + fmt::Debug {
    /// Lists a folder of `user_id`'s storage. Cached in every implementation.
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Arc<Listing>, ApiError>;

    /// The upstream call behind `list_folders`, uncached: the baseline the demo compares with.
    async fn fetch_folder(&self, user_id: &str, folder_id: &str) -> Result<Arc<Listing>, ApiError>;
}

/// What both clients share: the HTTP client, where the API is, and the credentials.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) credentials: Arc<CredentialStore>,
}

impl Upstream {
    /// `GET path` as `user_id`; errors carry `fetched_at`, when the caller's fetch began.
    async fn get<T: DeserializeOwned>(
        &self,
        user_id: &str,
        path: &str,
        fetched_at: Instant,
    ) -> Result<T, ApiError> {
        let fail = |kind, detail: String| ApiError {
            kind,
            detail,
            fetched_at,
            retry_after: None,
        };
        let token = self
            .credentials
            .token(user_id)
            .ok_or_else(|| fail(ErrorKind::SignedOut, format!("no credential for {user_id}")))?;
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| fail(ErrorKind::Unreachable, e.to_string()))?;
        let kind = match response.status().as_u16() {
            200 => {
                return response
                    .json()
                    .await
                    .map_err(|e| fail(ErrorKind::Protocol, e.to_string()))
            }
            401 => ErrorKind::Unauthorized,
            429 => ErrorKind::RateLimited,
            404 => ErrorKind::NotFound,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Protocol,
        };
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .map(Duration::from_secs);
        Err(ApiError {
            retry_after,
            ..fail(kind, format!("GET {path}: {}", response.status()))
        })
    }
}

/// Google Drive flavour: `files`, each with a `mimeType`.
#[derive(Debug)]
pub(crate) struct GoogleDrive {
    upstream: Upstream,
}

impl GoogleDrive {
    pub(crate) fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }
}

#[derive(Deserialize)]
struct DriveFileList {
    owner: String,
    #[serde(rename = "credentialGeneration")]
    credential_generation: u64,
    files: Vec<DriveFile>,
}

#[derive(Deserialize)]
struct DriveFile {
    name: String,
}

#[ttl_cached]
#[async_trait]
impl CloudProvider for GoogleDrive {
    #[ttl_cached(
        ttl = 60,
        key = "<user_id>:<folder_id>",
        group = "<user_id>",
        ignore = [self],
        scope = User
    )]
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Arc<Listing>, ApiError> {
        self.fetch_folder(user_id, folder_id).await
    }

    async fn fetch_folder(&self, user_id: &str, folder_id: &str) -> Result<Arc<Listing>, ApiError> {
        let fetched_at = Instant::now();
        let list: DriveFileList = self
            .upstream
            .get(user_id, &format!("/drive/folders/{folder_id}"), fetched_at)
            .await?;
        Ok(Arc::new(Listing {
            owner: list.owner,
            entries: list.files.into_iter().map(|f| f.name).collect(),
            credential_generation: list.credential_generation,
            fetched_at,
        }))
    }
}

/// Dropbox flavour: `entries`, each with a `.tag`.
#[derive(Debug)]
pub(crate) struct Dropbox {
    upstream: Upstream,
}

impl Dropbox {
    pub(crate) fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }
}

#[derive(Deserialize)]
struct DropboxListFolder {
    account_id: String,
    credential_generation: u64,
    entries: Vec<DropboxEntry>,
}

#[derive(Deserialize)]
struct DropboxEntry {
    name: String,
}

#[ttl_cached]
#[async_trait]
impl CloudProvider for Dropbox {
    #[ttl_cached(
        ttl = "90s",
        key = "<user_id>:<folder_id>",
        group = "<user_id>",
        ignore = [self],
        scope = User
    )]
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Arc<Listing>, ApiError> {
        self.fetch_folder(user_id, folder_id).await
    }

    async fn fetch_folder(&self, user_id: &str, folder_id: &str) -> Result<Arc<Listing>, ApiError> {
        let fetched_at = Instant::now();
        let list: DropboxListFolder = self
            .upstream
            .get(
                user_id,
                &format!("/dropbox/folders/{folder_id}"),
                fetched_at,
            )
            .await?;
        Ok(Arc::new(Listing {
            owner: list.account_id,
            entries: list.entries.into_iter().map(|e| e.name).collect(),
            credential_generation: list.credential_generation,
            fetched_at,
        }))
    }
}

/// The caches behind every provider's `list_folders`, in the order of [`invalidate_user`].
pub(crate) fn listing_caches() -> [&'static CacheHandle; 2] {
    [
        GoogleDrive::list_folders_cache(),
        Dropbox::list_folders_cache(),
    ]
}

/// Drops every cached listing of `user_id`, on every provider; returns how many there were.
///
/// Call it once the new credential is in the [`CredentialStore`]: a call that starts after this
/// returns never sees a listing fetched before it (the cache guarantees that even for fetches
/// still in flight). No provider is named: every cached function with `scope = User` is covered,
/// including providers added later.
pub(crate) async fn invalidate_user(user_id: &str) -> usize {
    User::invalidate(user_id).await
}

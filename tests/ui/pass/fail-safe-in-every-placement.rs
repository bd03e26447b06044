// `throttle`, `serve_stale_if`, `revoke_if` and retry hints (`RetryAfter`) on free functions,
// methods, trait impls (`#[async_trait]` and native), through an `anyhow::Result`, and with
// `stale`, with a predicate given as a path and with an inferred closure parameter.
use std::time::Duration;

use cache_core::{ttl_cached, RetryAfter};

#[derive(Debug, Clone)]
pub struct ApiError {
    status: u16,
}

impl ApiError {
    fn is_revoked(&self) -> bool {
        self.status == 401
    }
}

impl RetryAfter for ApiError {
    fn retry_after(&self) -> Option<Duration> {
        (self.status == 429).then(|| Duration::from_secs(30))
    }
}

#[ttl_cached(
    ttl = 60,
    stale_if_error = "5m",
    throttle = "10s",
    serve_stale_if = |e| e.status >= 500,
    revoke_if = ApiError::is_revoked
)]
async fn listing(user: &str) -> Result<Vec<String>, ApiError> {
    Ok(vec![user.to_string()])
}

#[ttl_cached(ttl = 60, stale_if_error = "5m", revoke_if = |e| e.to_string().contains("401"))]
async fn through_anyhow(user: &str) -> anyhow::Result<String> {
    Ok(user.to_string())
}

#[derive(Clone)]
struct Drive;

impl Drive {
    #[ttl_cached(ttl = 60, ignore = [self], stale = "30s", throttle = "3s", revoke_if = ApiError::is_revoked)]
    async fn list(&self, folder: u32) -> Result<Vec<String>, ApiError> {
        Ok(vec![folder.to_string()])
    }
}

#[async_trait::async_trait]
trait Provider {
    async fn find(&self, name: &str) -> Result<Option<String>, ApiError>;
}

#[ttl_cached]
#[async_trait::async_trait]
impl Provider for Drive {
    #[ttl_cached(ttl = 60, ignore = [self], stale_if_error = "5m", serve_stale_if = |e| e.status != 404)]
    async fn find(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(Some(name.to_string()))
    }
}

trait Native {
    async fn size(&self, id: u64) -> Result<u64, ApiError>;
}

#[ttl_cached]
impl Native for Drive {
    #[ttl_cached(ttl = 60, ignore = [self], stale_if_error = "5m", revoke_if = ApiError::is_revoked)]
    async fn size(&self, id: u64) -> Result<u64, ApiError> {
        Ok(id)
    }
}

fn main() {
    let _ = listing("a");
    let _ = through_anyhow("a");
    let _ = Drive.list(1);
    let _ = Drive.find("a");
    let _ = Drive.size(1);
}

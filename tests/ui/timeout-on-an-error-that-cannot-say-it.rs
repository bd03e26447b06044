use cache_core::ttl_cached;

#[derive(Debug, Clone)]
pub struct ApiError(u16);

// `timeout` answers a fetch that ran past it with the function's error, made from
// `cache_core::FetchTimedOut`: `ApiError` has no `From<FetchTimedOut>`.
#[ttl_cached(ttl = 60, key = "<user>", timeout = "10s")]
async fn listing(user: &str) -> Result<Vec<String>, ApiError> {
    Ok(vec![user.to_string()])
}

fn main() {}

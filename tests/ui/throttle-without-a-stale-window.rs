use cache_core::ttl_cached;

#[derive(Debug, Clone)]
pub struct ApiError(u16);

// `throttle` and `serve_stale_if` decide when an expired value stands in for a failed fetch:
// without a stale window there is none to serve.
#[ttl_cached(
    ttl = 60,
    key = "<user>",
    throttle = "10s",
    serve_stale_if = |e: &ApiError| e.0 >= 500
)]
async fn listing(user: &str) -> Result<Vec<String>, ApiError> {
    Ok(vec![user.to_string()])
}

fn main() {}

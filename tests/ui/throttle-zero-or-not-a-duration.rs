use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user>", stale_if_error = "5m", throttle = "0s")]
async fn zero(user: &str) -> Result<Vec<String>, String> {
    Ok(vec![user.to_string()])
}

#[ttl_cached(ttl = 60, key = "<user>", stale_if_error = "5m", throttle = "soon")]
async fn unreadable(user: &str) -> Result<Vec<String>, String> {
    Ok(vec![user.to_string()])
}

fn main() {}

use cache_core::ttl_cached;

// `soft_timeout` answers with the expired value while the body goes on in the background,
// which only a `stale` function's body can.
#[ttl_cached(ttl = 60, key = "<user>", stale_if_error = "5m", soft_timeout = "500ms")]
async fn listing(user: &str) -> Result<Vec<String>, String> {
    Ok(vec![user.to_string()])
}

fn main() {}

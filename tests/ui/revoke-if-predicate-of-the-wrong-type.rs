use cache_core::ttl_cached;

#[derive(Debug, Clone)]
pub struct ApiError(u16);

// The predicate takes `&ApiError`, the function's error type.
#[ttl_cached(ttl = 60, key = "<user>", revoke_if = |status: &u16| *status == 401)]
async fn listing(user: &str) -> Result<Vec<String>, ApiError> {
    Ok(vec![user.to_string()])
}

fn main() {}

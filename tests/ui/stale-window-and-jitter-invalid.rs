use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>", stale_if_error = "0s", jitter = "150%")]
async fn list_folders(user_id: &str) -> Vec<String> {
    vec![user_id.to_string()]
}

#[ttl_cached(ttl = 60, key = "<user_id>", stale_if_error = "5 minutes", jitter = 10)]
async fn list_files(user_id: &str) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>", stale = "30s")]
async fn list_folders(user_id: &str) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

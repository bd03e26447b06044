use cache_core::ttl_cached;

#[ttl_cached(ttl = std::time::Duration::from_secs(60))]
async fn list_folders(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

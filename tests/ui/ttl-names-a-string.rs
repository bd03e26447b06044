use cache_core::ttl_cached;

const LISTING_TTL: &str = "60s";

#[ttl_cached(ttl = LISTING_TTL)]
async fn list_folders(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

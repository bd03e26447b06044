use cache_core::ttl_cached;

const LISTING_TTL_SECS: i64 = 60;

#[ttl_cached(ttl = LISTING_TTL_SECS)]
async fn list_folders(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

use cache_core::ttl_cached;

const LISTING_TIER: u64 = 5;

// A literal other than `true`/`false`.
#[ttl_cached(ttl = 60, shared_tier = 5)]
async fn list_folders(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

// A named value of the wrong type.
#[ttl_cached(ttl = 60, shared_tier = LISTING_TIER)]
async fn list_files(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

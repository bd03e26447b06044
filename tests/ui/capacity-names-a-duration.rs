use cache_core::ttl_cached;
use std::time::Duration;

static LISTINGS: Duration = Duration::from_secs(60);

#[ttl_cached(ttl = 60, capacity = LISTINGS)]
async fn list_folders(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

fn main() {}

use cache_core::ttl_cached;
use std::time::Duration;

struct Drive;

impl Drive {
    const TTL: Duration = Duration::from_secs(60);

    #[ttl_cached(ttl = Self::TTL, ignore = [self])]
    async fn list_folders(&self, user_id: u64) -> Vec<String> {
        vec![user_id.to_string()]
    }
}

fn main() {}

//! `ttl` and `capacity` naming a `const` or `static`, through a module path too, in every
//! placement.
use cache_core::ttl_cached;
use std::time::Duration;

mod config {
    pub const LISTING_TTL: std::time::Duration = std::time::Duration::from_secs(60);
    pub static LISTINGS: usize = 1_000;
}

const SECONDS: u32 = 90;

#[ttl_cached(ttl = config::LISTING_TTL, capacity = config::LISTINGS)]
async fn list_folders(user_id: u64) -> Vec<String> {
    vec![user_id.to_string()]
}

struct Drive;

impl Drive {
    const TTL: Duration = Duration::from_secs(5);

    #[ttl_cached(ttl = Drive::TTL, ignore = [self])]
    async fn list(&self, user_id: u64) -> Vec<String> {
        vec![user_id.to_string()]
    }
}

trait Provider {
    async fn find(&self, name: &str) -> Option<String>;
}

#[ttl_cached]
impl Provider for Drive {
    #[ttl_cached(ttl = SECONDS, capacity = config::LISTINGS, ignore = [self])]
    async fn find(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }
}

fn main() {
    let _ = (list_folders_cache(), Drive::list_cache(), Drive::find_cache());
}

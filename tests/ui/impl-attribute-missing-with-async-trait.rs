use async_trait::async_trait;
use cache_core::ttl_cached;

#[async_trait]
trait CloudProvider {
    async fn list_folders(&self, user_id: &str) -> Vec<String>;
}

struct GoogleDrive;

// The impl block lacks its own `#[ttl_cached]`.
#[async_trait]
impl CloudProvider for GoogleDrive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn list_folders(&self, user_id: &str) -> Vec<String> {
        vec![user_id.to_string()]
    }
}

fn main() {}

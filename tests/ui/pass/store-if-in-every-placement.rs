// `store_if` and `store_none = false` on methods, trait impls (`#[async_trait]` and native),
// and with an inferred closure parameter.
use cache_core::ttl_cached;

struct Drive;

impl Drive {
    #[ttl_cached(ttl = 60, ignore = [self], store_if = |names| !names.is_empty())]
    async fn list(&self, folder: u32) -> Vec<String> {
        vec![folder.to_string()]
    }
}

#[async_trait::async_trait]
trait Provider {
    async fn find(&self, name: &str) -> Result<Option<String>, String>;
}

#[ttl_cached]
#[async_trait::async_trait]
impl Provider for Drive {
    #[ttl_cached(ttl = 60, ignore = [self], store_none = false)]
    async fn find(&self, name: &str) -> Result<Option<String>, String> {
        Ok(Some(name.to_string()))
    }
}

trait Native {
    async fn size(&self, id: u64) -> Option<u64>;
}

#[ttl_cached]
impl Native for Drive {
    #[ttl_cached(ttl = 60, ignore = [self], store_if = Option::is_some, store_none = false)]
    async fn size(&self, id: u64) -> Option<u64> {
        Some(id)
    }
}

fn main() {
    let _ = Drive.list(1);
    let _ = Drive.refresh_find("a");
    let _ = Drive.size(1);
}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, store_if = true)]
async fn find(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}

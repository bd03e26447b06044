use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, store_none = "no")]
async fn find(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}

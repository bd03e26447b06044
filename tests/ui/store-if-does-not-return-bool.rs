use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, store_if = |listing| listing.len())]
async fn list(id: u64) -> Vec<String> {
    vec![id.to_string()]
}

fn main() {}

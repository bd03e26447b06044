use cache_core::ttl_cached;

// The cached value is `Option<String>`: the predicate takes `&Option<String>`.
#[ttl_cached(ttl = 60, store_if = |name: &String| !name.is_empty())]
async fn find(id: u64) -> Option<String> {
    Some(id.to_string())
}

#[ttl_cached(ttl = 60, store_if = Vec::is_empty)]
async fn find_again(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}

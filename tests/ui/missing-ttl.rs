use cache_core::ttl_cached;

#[ttl_cached(key = "<id>")]
async fn fetch(id: u64) -> u64 {
    id
}

fn main() {
    let _ = fetch_cache();
}

use cache_core::ttl_cached;

#[ttl_cached(ttl = "1 hour")]
async fn fetch(id: u64) -> u64 {
    id
}

#[ttl_cached(ttl = "90")]
async fn fetch_again(id: u64) -> u64 {
    id
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 0)]
async fn fetch(id: u64) -> u64 {
    id
}

#[ttl_cached(ttl = "0s")]
async fn fetch_again(id: u64) -> u64 {
    id
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(TTL = 60)]
async fn double(n: u32) -> u32 {
    n * 2
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, crate = "cache-core")]
async fn lookup(n: u32) -> u32 {
    n * 2
}

fn main() {}

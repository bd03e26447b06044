use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn lookup(n: u32) -> u32 {
    n * 2
}

// `#[ttl_cached]` generates `lookup_cache` beside `lookup`.
fn lookup_cache() -> u32 {
    0
}

fn main() {}

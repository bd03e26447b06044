use cache_core::ttl_cached;

// `key` cannot be read: the parameters are not reported missing from it.
#[ttl_cached(ttl = 60, key = 5)]
async fn double(n: u32, m: u32) -> u32 {
    n * m
}

fn main() {}

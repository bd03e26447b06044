use cache_core::ttl_cached;

#[ttl_cached(ttl: 60, key = "<n>")]
async fn double(n: u32) -> u32 {
    n * 2
}

fn main() {}

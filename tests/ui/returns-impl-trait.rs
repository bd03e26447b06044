use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn names(n: u32) -> impl Clone {
    vec![n]
}

fn main() {}

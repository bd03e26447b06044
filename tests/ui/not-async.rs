use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
fn fetch(id: u64) -> u64 {
    id
}

fn main() {}

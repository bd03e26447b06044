use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
struct Listing {
    folders: Vec<String>,
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn fetch<T: ToString>(id: T) -> String {
    id.to_string()
}

fn main() {}

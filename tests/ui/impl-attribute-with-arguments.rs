use cache_core::ttl_cached;

struct Client;

#[ttl_cached(ttl = 60)]
impl Client {
    #[ttl_cached(ttl = 60)]
    async fn fetch(id: u64) -> u64 {
        id
    }
}

fn main() {}

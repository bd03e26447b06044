use cache_core::ttl_cached;

struct Catalog;

// Nothing in the signature says this is inside an impl, and the block is not marked.
impl Catalog {
    #[ttl_cached(ttl = 60)]
    async fn price(item: u32) -> u32 {
        item * 100
    }
}

fn main() {}

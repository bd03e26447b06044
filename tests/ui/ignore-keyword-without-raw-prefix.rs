use cache_core::ttl_cached;

struct Catalog;

impl Catalog {
    // `type` for the parameter `r#type`: one error, which names it; not also "parameter
    // `r#type` is not part of the key".
    #[ttl_cached(ttl = 60, key = "<id>", ignore = [self, type])]
    async fn item(&self, id: u32, r#type: u32) -> u32 {
        id + r#type
    }
}

fn main() {}

use cache_core::ttl_cached;

// A trait is not an impl: its default methods would be cached once for every implementor, and
// their companions would become items of the trait.
#[ttl_cached]
trait Directory {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }
}

fn main() {}

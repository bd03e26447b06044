use cache_core::ttl_cached;

// A declaration has no body to cache; the impls have.
trait Directory {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String>;
}

fn main() {}

use cache_core::ttl_cached;

// The attribute would make `lookup_cache` and `invalidate_lookup` items of the trait, which
// every implementor could override.
trait Directory {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }
}

fn main() {}

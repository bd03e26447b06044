use cache_core::ttl_cached;

trait Directory {
    async fn lookup(&self, name: &str) -> Option<String>;
}

// The companions would go into `impl String { .. }`, which only the standard library may write.
#[ttl_cached]
impl Directory for String {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }
}

fn main() {}

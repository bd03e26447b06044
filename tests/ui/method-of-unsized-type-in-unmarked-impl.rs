use cache_core::ttl_cached;

trait Source: Send + Sync {
    fn base(&self) -> u32;
}

// `Self` is unsized here, as in a trait's default method: the block must be marked.
impl dyn Source {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn scaled(&self, n: u32) -> u32 {
        self.base() * n
    }
}

fn main() {}

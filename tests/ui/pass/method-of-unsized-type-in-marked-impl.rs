// A method of `dyn Trait` (an unsized type) is cached when its impl block is marked; unmarked,
// it is refused like a trait's default method, which the expansion cannot tell it from.
use cache_core::ttl_cached;

trait Source: Send + Sync {
    fn base(&self) -> u32;
}

#[ttl_cached]
impl dyn Source {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn scaled(&self, n: u32) -> u32 {
        self.base() * n
    }
}

struct Ten;

impl Source for Ten {
    fn base(&self) -> u32 {
        10
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let source: &dyn Source = &Ten;
    assert_eq!(source.scaled(2).await, 20);
    assert_eq!(source.scaled(2).await, 20);
    assert_eq!(<dyn Source>::scaled_cache().stats().hits, 1);
    assert_eq!(<dyn Source>::invalidate_scaled(2).await, 1);
}

use cache_core::ttl_cached;
use std::future::Future;
use std::pin::Pin;

#[ttl_cached(ttl = 60)]
fn double(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n * 2 })
}

fn main() {}

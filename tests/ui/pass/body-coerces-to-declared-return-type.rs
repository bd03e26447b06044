// The body is checked against the declared return type, as in the original function, so
// unsizing and other coercions of the returned value still apply.
use cache_core::ttl_cached;
use std::sync::Arc;

type Callback = Arc<dyn Fn() -> u32 + Send + Sync>;

#[ttl_cached(ttl = 60)]
async fn callback(x: u32) -> Callback {
    Arc::new(move || x)
}

#[ttl_cached(ttl = 60)]
async fn early_return(x: u32) -> Option<Arc<dyn Fn() -> u32 + Send + Sync>> {
    if x == 0 {
        return Some(Arc::new(|| 0));
    }
    Some(Arc::new(move || x * 2))
}

fn main() {
    let _ = (callback(1), early_return(1));
}

use cache_core::ttl_cached;
use std::rc::Rc;

// `Rc` is `Clone` but not `Send`: the cached value is shared between threads.
#[ttl_cached(ttl = 60)]
async fn names(n: u32) -> Rc<Vec<String>> {
    Rc::new(vec![n.to_string()])
}

fn main() {}

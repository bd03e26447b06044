use cache_core::ttl_cached;

// A foreign caller cannot await the future an `async fn` returns.
#[ttl_cached(ttl = 60)]
async extern "C" fn lookup(id: u32) -> u32 {
    id
}

fn main() {
    let _ = invalidate_lookup(1);
}

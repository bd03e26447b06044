use cache_core::ttl_cached;

// The dependency is not renamed: there is no `ttlc`.
#[ttl_cached(ttl = 60, crate = "ttlc")]
async fn lookup(n: u32) -> u32 {
    n * 2
}

fn main() {
    let _ = lookup(1);
    let _ = invalidate_lookup(1);
    let _ = lookup_cache();
}

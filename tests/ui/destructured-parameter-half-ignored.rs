use cache_core::ttl_cached;

// Only `a` of the pattern is ignored: `b` would be silently left out of the key, and
// `area((1, 9), 3)` would return the cached result of `area((1, 2), 3)`.
#[ttl_cached(ttl = 60, ignore = [a])]
async fn area((a, b): (u32, u32), c: u32) -> u32 {
    a * b * c
}

fn main() {}

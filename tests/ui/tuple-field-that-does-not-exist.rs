use cache_core::ttl_cached;

// `(u32, u32)` has fields `0` and `1`: one error from the attribute, where rustc would report
// the missing field once per access the expansion makes (and count each).
#[ttl_cached(ttl = 60, key = "<pair.2>")]
async fn area(pair: (u32, u32)) -> u32 {
    pair.0 * pair.1
}

fn main() {
    let _ = invalidate_area((2, 3));
}

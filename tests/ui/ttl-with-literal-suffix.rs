use cache_core::ttl_cached;

// `300u8` does not fit a `u8`, and the suffix would be silently ignored.
#[ttl_cached(ttl = 300u8)]
async fn double(n: u32) -> u32 {
    n * 2
}

fn main() {}

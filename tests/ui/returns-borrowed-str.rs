use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn name(n: u32) -> &'static str {
    if n == 0 { "zero" } else { "many" }
}

#[ttl_cached(ttl = 60, ignore = [s])]
async fn first<'a>(s: &'a str, n: u32) -> &'a str {
    &s[..n as usize]
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn forever(n: u32) -> ! {
    let _ = n;
    loop {}
}

fn main() {}

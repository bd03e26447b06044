use cache_core::ttl_cached;

// A type error in the body is reported in the body, as rustc would without the attribute.
#[ttl_cached(ttl = 60)]
async fn count(user_id: u64) -> u32 {
    let _ = user_id;
    "text"
}

fn main() {}

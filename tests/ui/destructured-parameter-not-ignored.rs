use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>")]
async fn area(user_id: u64, (width, height): (u32, u32)) -> u64 {
    user_id + u64::from(width * height)
}

fn main() {}

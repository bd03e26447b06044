use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>:<type>")]
async fn list(user_id: u32, r#type: u32) -> Vec<u32> {
    vec![user_id, r#type]
}

fn main() {}

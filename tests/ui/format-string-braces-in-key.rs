use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "{user_id}:<folder_id>")]
async fn list(user_id: u32, folder_id: u32) -> Vec<u32> {
    vec![user_id, folder_id]
}

fn main() {}

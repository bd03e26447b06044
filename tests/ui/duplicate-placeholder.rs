use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>:<user_id>:<folder_id>")]
async fn list_folders(user_id: &str, folder_id: &str) -> Vec<String> {
    vec![format!("{user_id}{folder_id}")]
}

fn main() {}

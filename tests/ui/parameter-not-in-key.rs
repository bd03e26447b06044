use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>:<provider>")]
async fn list_folders(user_id: &str, provider: &str, folder_id: &str) -> Vec<String> {
    vec![format!("{user_id}{provider}{folder_id}")]
}

fn main() {}

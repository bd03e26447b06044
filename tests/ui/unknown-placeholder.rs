use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>:<provider>:<folder>", group = "<user_id>")]
async fn list_folders(user_id: &str, provider: &str, folder_id: &str) -> Vec<String> {
    vec![format!("{user_id}{provider}{folder_id}")]
}

fn main() {
    // No follow-on errors: the companions still exist.
    let _ = invalidate_list_folders("u1");
    let _ = list_folders_cache().len();
}

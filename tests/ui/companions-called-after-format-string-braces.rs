use cache_core::ttl_cached;

// `{user_id}` for `<user_id>`, in `key` and in `group`: one error. The companions the user
// calls keep `user_id` as a parameter, so these calls add no "arguments to this function are
// incorrect" errors.
#[ttl_cached(ttl = 60, key = "{user_id}:<folder>", group = "{user_id}")]
async fn list(user_id: u32, folder: &str) -> Vec<String> {
    vec![format!("{user_id}/{folder}")]
}

async fn revoke(user_id: u32) -> usize {
    let _one: bool = invalidate_list_key(user_id, "inbox").await;
    invalidate_list(user_id).await
}

fn main() {
    let _ = revoke(7);
}

use cache_core::ttl_cached;

// One typo, in `key` and in `group`: one error. The companions the user calls keep the
// parameters they would have had (the typo taken for `user_id`), so these calls, written for
// the fixed attribute, add no "this function takes 0 arguments" errors.
#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>")]
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

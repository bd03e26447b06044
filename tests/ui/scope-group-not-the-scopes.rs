use cache_core::ttl_cached;

cache_core::scope! {
    pub Account(user_id: String, provider: String);
}

// The group is the user alone: not the scope's (user, provider).
#[ttl_cached(ttl = 60, key = "<user_id>:<folder>", group = "<user_id>", scope = Account)]
async fn list_folders(user_id: &str, folder: &str) -> Vec<String> {
    vec![format!("{user_id}/{folder}")]
}

fn main() {}

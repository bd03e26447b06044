use cache_core::ttl_cached;
use std::collections::HashMap;

#[ttl_cached(ttl = 60)]
async fn search(user_id: u64, filters: HashMap<String, String>) -> Vec<String> {
    vec![format!("{user_id}{}", filters.len())]
}

fn main() {}

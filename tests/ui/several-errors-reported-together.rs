use cache_core::ttl_cached;

// One build reports every problem of the attribute, not only the first.
#[ttl_cached(ttl = "5 minutes", key = "<usr>:<>", capacity = 0)]
async fn fetch(user: &str, page: u32) -> Vec<String> {
    vec![format!("{user}{page}")]
}

fn main() {}

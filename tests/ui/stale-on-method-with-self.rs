use cache_core::ttl_cached;

// Not `Clone`: the background refresh of a `&self` method runs on a clone of `self`.
struct Drive {
    account: String,
}

impl Drive {
    #[ttl_cached(ttl = 60, key = "<self.account>:<folder>", stale = "30s")]
    async fn list(&self, folder: &str) -> Vec<String> {
        vec![format!("{}/{folder}", self.account)]
    }
}

fn main() {}

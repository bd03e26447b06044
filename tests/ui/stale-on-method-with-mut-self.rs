use cache_core::ttl_cached;

#[derive(Clone)]
struct Drive {
    account: String,
    calls: u32,
}

impl Drive {
    #[ttl_cached(ttl = 60, key = "<self.account>:<folder>", stale = "30s")]
    async fn list(&mut self, folder: &str) -> Vec<String> {
        self.calls += 1;
        vec![format!("{}/{folder}", self.account)]
    }
}

fn main() {}

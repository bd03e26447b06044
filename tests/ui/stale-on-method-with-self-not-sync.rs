use std::cell::Cell;

use cache_core::ttl_cached;

// `Clone` but not `Sync`: the refresh, on another thread, borrows its clone across awaits.
#[derive(Clone)]
struct Drive {
    account: String,
    calls: Cell<u32>,
}

impl Drive {
    #[ttl_cached(ttl = 60, key = "<self.account>:<folder>", stale = "30s")]
    async fn list(&self, folder: &str) -> Vec<String> {
        self.calls.set(self.calls.get() + 1);
        vec![format!("{}/{folder}", self.account)]
    }
}

fn main() {}

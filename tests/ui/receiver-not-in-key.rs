use cache_core::ttl_cached;

struct Client {
    account_id: String,
}

impl Client {
    #[ttl_cached(ttl = 60, key = "<folder_id>")]
    async fn list_folder(&self, folder_id: &str) -> Vec<String> {
        vec![format!("{}{folder_id}", self.account_id)]
    }
}

fn main() {}

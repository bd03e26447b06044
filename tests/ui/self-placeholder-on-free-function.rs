use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<self.account_id>:<folder_id>")]
async fn list_folder(folder_id: &str) -> Vec<String> {
    vec![folder_id.to_string()]
}

fn main() {}

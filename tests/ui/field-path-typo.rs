use cache_core::ttl_cached;

struct Request {
    user_id: u64,
    folder_id: String,
}

#[ttl_cached(ttl = 60, key = "<req.user_id>:<req.folder>")]
async fn list_folder(req: &Request) -> Vec<String> {
    vec![format!("{}{}", req.user_id, req.folder_id)]
}

fn main() {}

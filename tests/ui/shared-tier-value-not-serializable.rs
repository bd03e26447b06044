use cache_core::ttl_cached;
use std::sync::Arc;

// A listing that cannot be sent to Redis: no `Serialize` / `Deserialize`.
#[derive(Clone)]
pub struct Folder {
    pub id: u64,
}

#[ttl_cached(ttl = 60, key = "<user_id>", shared_tier = true)]
async fn list_folders(user_id: u64) -> Result<Arc<Vec<Folder>>, String> {
    Ok(Arc::new(vec![Folder { id: user_id }]))
}

fn main() {}

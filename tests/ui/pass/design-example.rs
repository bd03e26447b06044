// The example of DESIGN.md, as a user writes it.
use async_trait::async_trait;
use cache_core::ttl_cached;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Folder(String);

#[derive(Debug, Clone)]
pub struct ApiError;

#[ttl_cached(ttl = 60, key = "<user_id>:<provider>:<folder_id>", group = "<user_id>:<provider>")]
pub async fn list_folders(user_id: &str, provider: &str, folder_id: &str) -> Result<Arc<Vec<Folder>>, ApiError> {
    Ok(Arc::new(vec![Folder(format!("{user_id}{provider}{folder_id}"))]))
}

#[async_trait]
pub trait CloudProvider {
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<Folder>, ApiError>;
}

pub struct GoogleDrive;

#[ttl_cached]
#[async_trait]
impl CloudProvider for GoogleDrive {
    #[ttl_cached(ttl = 60, key = "<user_id>:<folder_id>", group = "<user_id>", ignore = [self])]
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<Folder>, ApiError> {
        Ok(vec![Folder(format!("{user_id}{folder_id}"))])
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = list_folders("u1", "drive", "root").await;
    let _: usize = invalidate_list_folders("u1", "drive").await;
    let _: usize = GoogleDrive::invalidate_list_folders("u1").await;
    let _: &'static cache_core::CacheHandle = GoogleDrive::list_folders_cache();
    let _: cache_core::CacheStats = list_folders_cache().stats();
}

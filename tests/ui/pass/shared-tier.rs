// `shared_tier` on a free function and on a method, with the defaults and with named settings;
// without an installed backplane the functions simply do not share.
use cache_core::backplane::SharedTier;
use cache_core::ttl_cached;
use std::sync::Arc;
use std::time::Duration;

const LISTING_TIER: SharedTier = SharedTier::new().lease(Duration::from_secs(10)).version(2);

#[ttl_cached(ttl = 60, key = "<user_id>", shared_tier = true)]
async fn list_folders(user_id: u64) -> Result<Arc<Vec<String>>, String> {
    Ok(Arc::new(vec![user_id.to_string()]))
}

#[ttl_cached(ttl = 60, key = "<user_id>", shared_tier = LISTING_TIER)]
async fn list_files(user_id: u64) -> Option<Vec<u64>> {
    Some(vec![user_id])
}

#[ttl_cached(ttl = 60, key = "<user_id>", shared_tier = false)]
async fn quota(user_id: u64) -> u64 {
    user_id
}

struct Client;

#[ttl_cached]
impl Client {
    #[ttl_cached(ttl = 60, key = "<user_id>", ignore = [self], shared_tier = true)]
    async fn usage(&self, user_id: &str) -> String {
        user_id.to_owned()
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(*list_folders(1).await.unwrap(), vec!["1".to_owned()]);
        assert_eq!(list_files(2).await, Some(vec![2]));
        assert_eq!(quota(3).await, 3);
        assert_eq!(Client.usage("u").await, "u");
        // The tier is set on the first miss; not attached, it is never asked.
        let tier = list_folders_cache().tier_stats().unwrap();
        assert_eq!(tier.hits + tier.misses + tier.skipped, 0);
        assert_eq!(quota_cache().tier_stats(), None);
    });
}

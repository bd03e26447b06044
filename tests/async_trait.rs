//! Trait impls with `#[async_trait]`: `#[ttl_cached]` on the impl block, above `#[async_trait]`,
//! puts the companions in an inherent impl of the type. The cached methods stay callable
//! through `dyn CloudProvider` and from spawned tasks.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use async_trait::async_trait;
use cache_core::ttl_cached;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Folder(String);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Error(String);

#[async_trait]
pub(crate) trait CloudProvider: Send + Sync {
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<Folder>, Error>;
    async fn quota(&self, user_id: &str) -> u64;
}

#[derive(Default)]
pub(crate) struct GoogleDrive {
    calls: AtomicUsize,
}

#[ttl_cached]
#[async_trait]
impl CloudProvider for GoogleDrive {
    #[ttl_cached(ttl = 60, key = "<user_id>:<folder_id>", group = "<user_id>", ignore = [self])]
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<Folder>, Error> {
        self.calls.fetch_add(1, SeqCst);
        Ok(vec![Folder(format!("drive:{user_id}:{folder_id}"))])
    }

    // Not every method has to be cached.
    async fn quota(&self, _user_id: &str) -> u64 {
        self.calls.fetch_add(1, SeqCst);
        15
    }
}

#[derive(Default)]
pub(crate) struct Dropbox {
    calls: AtomicUsize,
}

#[ttl_cached]
#[async_trait]
impl CloudProvider for Dropbox {
    #[ttl_cached(ttl = "30s", key = "<user_id>/<folder_id>", group = "<user_id>", ignore = [self])]
    async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<Vec<Folder>, Error> {
        self.calls.fetch_add(1, SeqCst);
        if folder_id == "forbidden" {
            return Err(Error("401".into()));
        }
        Ok(vec![Folder(format!("dropbox:{user_id}:{folder_id}"))])
    }

    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn quota(&self, user_id: &str) -> u64 {
        self.calls.fetch_add(1, SeqCst);
        user_id.len() as u64
    }
}

#[tokio::test]
async fn each_implementation_has_its_own_cache_and_companions() {
    let drive = Arc::new(GoogleDrive::default());
    let dropbox = Arc::new(Dropbox::default());
    let providers: Vec<Arc<dyn CloudProvider>> = vec![drive.clone(), dropbox.clone()];
    for provider in &providers {
        provider.list_folders("u1", "root").await.unwrap();
        provider.list_folders("u1", "root").await.unwrap();
    }
    assert_eq!(drive.calls.load(SeqCst), 1);
    assert_eq!(dropbox.calls.load(SeqCst), 1);
    assert_eq!(
        providers[1].list_folders("u1", "root").await.unwrap(),
        vec![Folder("dropbox:u1:root".into())],
        "no mix-up between the two implementations"
    );

    assert_eq!(GoogleDrive::invalidate_list_folders("u1").await, 1);
    assert_eq!(
        Dropbox::list_folders_cache().len(),
        1,
        "only Drive's entries went"
    );
    assert!(GoogleDrive::list_folders_cache()
        .name()
        .ends_with("GoogleDrive::list_folders"));

    assert!(dropbox.list_folders("u1", "forbidden").await.is_err());
    assert!(dropbox.list_folders("u1", "forbidden").await.is_err());
    assert_eq!(dropbox.calls.load(SeqCst), 3, "errors are not cached");

    drive.quota("u1").await;
    drive.quota("u1").await;
    assert_eq!(drive.calls.load(SeqCst), 3, "the uncached method ran twice");
    assert_eq!(dropbox.quota("abc").await, 3);
    assert_eq!(Dropbox::invalidate_quota("abc").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_trait_methods_are_send() {
    let provider: Arc<dyn CloudProvider> = Arc::new(GoogleDrive::default());
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let provider = provider.clone();
            tokio::spawn(
                async move { provider.list_folders("spawned", &(i % 4).to_string()).await },
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}

//! `#[ttl_cached]` on methods of inherent impls: `<self.field>` keys, `ignore = [self]`,
//! companions as associated functions, and `&self` invalidation for `<self...>` groups.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cache_core::ttl_cached;

pub(crate) struct DriveClient {
    account_id: String,
    region: Region,
    calls: AtomicUsize,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Region {
    name: String,
}

impl DriveClient {
    fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_string(),
            region: Region { name: "eu".into() },
            calls: AtomicUsize::new(0),
        }
    }

    /// The account is part of the key: two clients never share listings.
    #[ttl_cached(
        ttl = 60,
        key = "<self.account_id>:<self.region.name>:<folder_id>",
        group = "<self.account_id>"
    )]
    pub(crate) async fn list_folder(&self, folder_id: &str) -> Result<Arc<Vec<String>>, String> {
        self.calls.fetch_add(1, SeqCst);
        Ok(Arc::new(vec![format!("{}:{folder_id}", self.account_id)]))
    }

    /// The result does not depend on the client: `self` ignored on purpose.
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn server_time(&self, zone: u8) -> u64 {
        self.calls.fetch_add(1, SeqCst);
        u64::from(zone) * 1000
    }

    /// An associated function (no receiver), recognized by `Self` in its signature.
    #[ttl_cached(ttl = 60)]
    async fn for_account(account_id: u32) -> Arc<Self> {
        Arc::new(Self::new(&account_id.to_string()))
    }
}

#[tokio::test]
async fn the_receiver_is_part_of_the_key() {
    let alice = DriveClient::new("alice");
    let bob = DriveClient::new("bob");
    assert_eq!(alice.list_folder("root").await.unwrap()[0], "alice:root");
    assert_eq!(
        bob.list_folder("root").await.unwrap()[0],
        "bob:root",
        "no cross-account leak"
    );
    alice.list_folder("root").await.unwrap();
    assert_eq!(alice.calls.load(SeqCst), 1);
    assert_eq!(DriveClient::list_folder_cache().len(), 2);

    // A `<self...>` group: invalidation is a method of the client.
    assert_eq!(alice.invalidate_list_folder().await, 1);
    bob.list_folder("root").await.unwrap();
    assert_eq!(bob.calls.load(SeqCst), 1, "bob's entry stayed");
    alice.list_folder("root").await.unwrap();
    assert_eq!(alice.calls.load(SeqCst), 2);
}

#[tokio::test]
async fn an_ignored_receiver_shares_one_cache_across_instances() {
    let a = DriveClient::new("a");
    let b = DriveClient::new("b");
    assert_eq!(a.server_time(2).await, 2000);
    assert_eq!(b.server_time(2).await, 2000);
    assert_eq!(a.calls.load(SeqCst) + b.calls.load(SeqCst), 1);
    assert_eq!(DriveClient::invalidate_server_time(2).await, 1);
}

#[tokio::test]
async fn associated_functions_are_cached_too() {
    let first = DriveClient::for_account(7).await;
    let second = DriveClient::for_account(7).await;
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(DriveClient::for_account_cache().stats().hits, 1);
}

/// The impl-level attribute on an inherent impl places receiver-less functions too.
pub(crate) struct Catalog;

#[ttl_cached]
impl Catalog {
    #[ttl_cached(ttl = 60)]
    pub(crate) async fn price(sku: u32) -> u32 {
        sku * 2
    }

    fn helper() -> u32 {
        1
    }
}

#[tokio::test]
async fn the_impl_level_attribute_works_on_inherent_impls() {
    assert_eq!(Catalog::price(21).await, 42);
    assert_eq!(Catalog::price(21).await, 42);
    assert_eq!(Catalog::price_cache().stats().hits, 1);
    assert_eq!(Catalog::helper(), 1);
    assert!(Catalog::price_cache().name().ends_with("Catalog::price"));
}

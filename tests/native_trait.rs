//! Trait impls with native `async fn` in traits.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_core::ttl_cached;

pub(crate) trait Directory {
    async fn lookup(&self, tenant: u32, name: &str) -> Option<String>;
}

pub(crate) struct Ldap {
    tenant_prefix: String,
    calls: AtomicUsize,
}

#[ttl_cached]
impl Directory for Ldap {
    #[ttl_cached(
        ttl = 60,
        key = "<self.tenant_prefix>:<tenant>:<name>",
        group = "<self.tenant_prefix>:<tenant>"
    )]
    async fn lookup(&self, tenant: u32, name: &str) -> Option<String> {
        self.calls.fetch_add(1, SeqCst);
        Some(format!("{}-{tenant}-{name}", self.tenant_prefix))
    }
}

#[tokio::test]
async fn native_async_trait_methods_are_cached() {
    let ldap = Ldap {
        tenant_prefix: "corp".into(),
        calls: AtomicUsize::new(0),
    };
    assert_eq!(ldap.lookup(1, "ann").await.as_deref(), Some("corp-1-ann"));
    assert_eq!(ldap.lookup(1, "ann").await.as_deref(), Some("corp-1-ann"));
    ldap.lookup(1, "bob").await;
    ldap.lookup(2, "ann").await;
    assert_eq!(ldap.calls.load(SeqCst), 3);
    // The group uses `self`, so invalidation is a method; it takes `tenant` too.
    assert_eq!(ldap.invalidate_lookup(1).await, 2);
    assert_eq!(Ldap::lookup_cache().len(), 1);
}

//! `crate = "path"`: the expansion names the runtime through the given path, for a dependency
//! renamed in `Cargo.toml` (`ttlc = { package = "cache-core", .. }`) or re-exported by another
//! crate. The rename is simulated with `extern crate .. as ttlc`; that the expansion names
//! nothing else is checked on the expansion itself, in `cache-macros`.

extern crate cache_core as ttlc;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use ttlc::ttl_cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>", crate = "ttlc")]
async fn list(user: &str, folder: u32) -> Vec<String> {
    CALLS.fetch_add(1, SeqCst);
    vec![format!("{user}/{folder}")]
}

struct Client {
    account: String,
}

impl Client {
    #[ttl_cached(
        ttl = "90s",
        key = "<self.account>:<id>",
        group = "<self.account>",
        crate = "::ttlc"
    )]
    async fn get(&self, id: u32) -> String {
        format!("{}:{id}", self.account)
    }
}

trait Provider {
    async fn quota(&self, user: &str) -> u64;
}

struct Drive;

#[ttl_cached(crate = "ttlc")]
impl Provider for Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn quota(&self, user: &str) -> u64 {
        user.len() as u64
    }
}

mod reexport {
    //! A crate that re-exports the runtime, as a framework would.
    pub(crate) mod cache {
        pub(crate) use cache_core::*;
    }
}

#[ttl_cached(ttl = 60, crate = "crate::reexport::cache")]
async fn through_reexport(n: u32) -> u32 {
    n + 1
}

#[tokio::test]
async fn every_shape_works_through_a_renamed_crate() {
    assert_eq!(list("ann", 1).await, ["ann/1"]);
    assert_eq!(list("ann", 1).await, ["ann/1"]);
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(invalidate_list("ann").await, 1);
    assert_eq!(list_cache().len(), 0);

    let client = Client {
        account: "acct".into(),
    };
    assert_eq!(client.get(2).await, "acct:2");
    assert_eq!(client.invalidate_get().await, 1);
    assert_eq!(
        Client::get_cache().ttl(),
        std::time::Duration::from_secs(90)
    );

    assert_eq!(Drive.quota("bob").await, 3);
    assert_eq!(Drive.quota("bob").await, 3);
    assert_eq!(Drive::quota_cache().stats().hits, 1);
    assert_eq!(Drive::invalidate_quota("bob").await, 1);

    assert_eq!(through_reexport(1).await, 2);
    assert_eq!(through_reexport_cache().len(), 1);
}

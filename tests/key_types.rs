//! Every supported key part type, by value and by reference, builds a structured key that
//! hits without allocating and never collides across types or separators.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_core::ttl_cached;

static EVERYTHING: AtomicUsize = AtomicUsize::new(0);
static BY_FIELD_PATH: AtomicUsize = AtomicUsize::new(0);
static OPTIONAL: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TenantId(u64);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Request {
    tenant: TenantId,
    path: (String, u16),
}

#[allow(clippy::too_many_arguments, clippy::ref_option_ref)]
#[ttl_cached(ttl = 60)]
async fn everything(
    s: &str,
    owned: String,
    by_ref: &String,
    n: u64,
    i: i32,
    flag: bool,
    c: char,
    opt_str: Option<&str>,
    opt_owned: Option<String>,
    tenant: TenantId,
    tenant_ref: &TenantId,
) -> usize {
    let _ = (
        s, owned, by_ref, n, i, flag, c, opt_str, opt_owned, tenant, tenant_ref,
    );
    EVERYTHING.fetch_add(1, SeqCst)
}

#[ttl_cached(
    ttl = 60,
    key = "<req.tenant>:<req.path.0>:<req.path.1>",
    group = "<req.tenant>"
)]
async fn by_field_path(req: &Request) -> String {
    BY_FIELD_PATH.fetch_add(1, SeqCst);
    format!("{}{}", req.path.0, req.path.1)
}

#[ttl_cached(ttl = 60)]
async fn optional(a: Option<&str>, b: Option<&str>) -> usize {
    let _ = (a, b);
    OPTIONAL.fetch_add(1, SeqCst)
}

#[tokio::test]
async fn every_kind_of_key_part() {
    let s = String::from("s");
    let call = |n: u64, opt: Option<&'static str>| {
        let s = s.clone();
        async move {
            everything(
                "a",
                "b".into(),
                &s,
                n,
                -1,
                true,
                'x',
                opt,
                Some("o".into()),
                TenantId(1),
                &TenantId(2),
            )
            .await
        }
    };
    call(1, None).await;
    call(1, None).await;
    assert_eq!(EVERYTHING.load(SeqCst), 1, "hit");
    call(2, None).await;
    call(1, Some("x")).await;
    assert_eq!(EVERYTHING.load(SeqCst), 3, "each part distinguishes keys");
    assert_eq!(everything_cache().len(), 3);
}

#[tokio::test]
async fn field_paths_reach_into_parameters() {
    let req = Request {
        tenant: TenantId(9),
        path: ("docs".into(), 1),
    };
    assert_eq!(by_field_path(&req).await, "docs1");
    by_field_path(&req.clone()).await;
    assert_eq!(BY_FIELD_PATH.load(SeqCst), 1);
    let other = Request {
        tenant: TenantId(9),
        path: ("docs".into(), 2),
    };
    by_field_path(&other).await;
    assert_eq!(
        invalidate_by_field_path(&req).await,
        2,
        "the group is the tenant"
    );
}

#[tokio::test]
async fn none_and_some_never_collide() {
    optional(None, Some("x")).await;
    optional(Some("x"), None).await;
    optional(Some(""), None).await;
    optional(None, None).await;
    optional(None, Some("x")).await;
    assert_eq!(OPTIONAL.load(SeqCst), 4);
}

static DOUBLE_REFERENCE: AtomicUsize = AtomicUsize::new(0);

/// Parts taken by reference to a reference are keyed by the value behind both references.
#[allow(clippy::trivially_copy_pass_by_ref)]
#[ttl_cached(ttl = 60)]
async fn double_reference(s: &&str, n: &&u64, t: &&TenantId) -> String {
    DOUBLE_REFERENCE.fetch_add(1, SeqCst);
    format!("{s}/{n}/{}", t.0)
}

#[tokio::test]
async fn parts_behind_two_references_are_keyed_by_value() {
    let (a, b) = (String::from("a"), String::from("b"));
    let (one, two) = (1_u64, 2_u64);
    let tenant = TenantId(7);
    assert_eq!(
        double_reference(&a.as_str(), &&one, &&tenant).await,
        "a/1/7"
    );
    assert_eq!(double_reference(&"a", &&one, &&tenant).await, "a/1/7");
    assert_eq!(DOUBLE_REFERENCE.load(SeqCst), 1, "equal values hit");
    assert_eq!(
        double_reference(&b.as_str(), &&one, &&tenant).await,
        "b/1/7"
    );
    assert_eq!(double_reference(&"a", &&two, &&tenant).await, "a/2/7");
    assert_eq!(DOUBLE_REFERENCE.load(SeqCst), 3, "different values miss");
    assert_eq!(invalidate_double_reference(&"a", &&one, &&tenant).await, 1);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Uuid([u8; 16]);

static COLLECTIONS: AtomicUsize = AtomicUsize::new(0);

/// The key part types the README lists beyond strings and integers: slices (owned as `Vec`),
/// `Vec`s by value or reference, a `Copy` id type, `Option` of a borrowed slice or string,
/// `&Option<String>` and `&Path` (owned as `PathBuf`).
#[allow(clippy::too_many_arguments, clippy::ptr_arg, clippy::ref_option)]
#[ttl_cached(
    ttl = 60,
    key = "<id>:<tags>:<path>:<ids>:<name>:<bytes>:<note>:<file>",
    group = "<id>"
)]
async fn collections(
    id: Uuid,
    tags: &[u32],
    path: Vec<String>,
    ids: &Vec<u8>,
    name: Option<&str>,
    bytes: Option<&[u8]>,
    note: &Option<String>,
    file: &std::path::Path,
) -> usize {
    let _ = (id, tags, path, ids, name, bytes, note, file);
    COLLECTIONS.fetch_add(1, SeqCst)
}

#[tokio::test]
async fn slices_vecs_and_copy_ids_are_key_parts() {
    let id = Uuid([7; 16]);
    let file = std::path::Path::new("/a");
    let ids = vec![1_u8];
    let call = |tags: &'static [u32], name: Option<&'static str>| {
        collections(
            id,
            tags,
            vec!["a".into()],
            &ids,
            name,
            Some(&[2][..]),
            &None,
            file,
        )
    };
    call(&[1, 2], Some("x")).await;
    call(&[1, 2], Some("x")).await;
    assert_eq!(COLLECTIONS.load(SeqCst), 1, "equal values hit");
    call(&[1], Some("x")).await;
    call(&[1, 2], None).await;
    assert_eq!(COLLECTIONS.load(SeqCst), 3, "each part distinguishes keys");
    assert_eq!(invalidate_collections(id).await, 3);
}

/// A `TtlCache` without grouping: `()` as the group, `&()` at every call.
#[tokio::test]
async fn unit_group_is_a_flat_cache() {
    let cache: cache_core::TtlCache<(), String, u64> = cache_core::TtlCache::builder()
        .ttl(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(cache.get_with(&(), "k", || async { 7 }).await, 7);
    assert_eq!(cache.get(&(), "k"), Some(7));
    assert!(cache.invalidate(&(), "k").await);
    cache.get_with(&(), "k", || async { 8 }).await;
    assert_eq!(
        cache.invalidate_group(&()).await,
        1,
        "the one group is everything"
    );
}

//! Where the companions of a cached function are, for the shapes whose expansion cannot see its
//! surroundings: a receiver-less associated function of an unmarked impl (the expansion cannot
//! tell it from a free function, and the same code must work in both places), one of a generic
//! impl (one cache per instantiation, even when nothing in its signature names the type), and a
//! free function declared inside another function.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_core::ttl_cached;

static PRICES: AtomicUsize = AtomicUsize::new(0);

struct Catalog;

// Not marked, and nothing in `price`'s signature says it is in an impl.
impl Catalog {
    #[ttl_cached(ttl = 60)]
    async fn price(item: u32) -> u32 {
        PRICES.fetch_add(1, SeqCst);
        item * 100
    }
}

#[tokio::test]
async fn a_receiver_less_function_of_an_unmarked_impl_is_cached_with_companions_on_the_type() {
    assert_eq!(Catalog::price(3).await, 300);
    assert_eq!(Catalog::price(3).await, 300);
    assert_eq!(PRICES.load(SeqCst), 1, "the second call is a hit");
    assert_eq!(Catalog::price_cache().stats().hits, 1);
    assert!(
        Catalog::price_cache()
            .name()
            .ends_with("placement::Catalog::price"),
        "named after the type: {}",
        Catalog::price_cache().name()
    );
    assert_eq!(Catalog::invalidate_price(3).await, 1);
    assert_eq!(Catalog::price(3).await, 300);
    assert_eq!(
        PRICES.load(SeqCst),
        2,
        "fetched again after the invalidation"
    );
}

trait Label {
    const PREFIX: &'static str;
}
struct Photos;
struct Docs;
impl Label for Photos {
    const PREFIX: &'static str = "photo";
}
impl Label for Docs {
    const PREFIX: &'static str = "doc";
}

struct Store<T>(std::marker::PhantomData<T>);

// The signature of `title` names neither `T` nor `Self`, but its result depends on `T`.
impl<T: Label> Store<T> {
    #[ttl_cached(ttl = 60)]
    async fn title(id: u32) -> String {
        format!("{}-{id}", T::PREFIX)
    }
}

#[tokio::test]
async fn each_instantiation_of_a_generic_impl_has_its_own_cache_for_a_receiver_less_function() {
    assert_eq!(Store::<Photos>::title(1).await, "photo-1");
    assert_eq!(
        Store::<Docs>::title(1).await,
        "doc-1",
        "not the value cached for `Store<Photos>`"
    );
    assert_eq!(Store::<Photos>::title(1).await, "photo-1");
    assert_eq!(Store::<Photos>::title_cache().len(), 1);
    assert_eq!(Store::<Docs>::title_cache().len(), 1);
    assert_eq!(Store::<Photos>::title_cache().stats().hits, 1);
    assert!(!std::ptr::eq(
        Store::<Photos>::title_cache(),
        Store::<Docs>::title_cache()
    ));
    assert!(Store::<Docs>::title_cache()
        .name()
        .ends_with("Store<placement::Docs>::title"));
    assert_eq!(Store::<Docs>::invalidate_title(1).await, 1);
    assert_eq!(
        Store::<Photos>::title_cache().len(),
        1,
        "the other type's entry stays"
    );
}

#[tokio::test]
async fn a_free_function_declared_in_a_function_body_is_cached() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[ttl_cached(ttl = 60)]
    async fn double(n: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        n * 2
    }

    assert_eq!(double(4).await, 8);
    assert_eq!(double(4).await, 8);
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(double_cache().len(), 1);
    assert_eq!(invalidate_double(4).await, 1);
    assert!(double_cache().name().ends_with("::double"));
}

static REPORTS: AtomicUsize = AtomicUsize::new(0);

// An `impl Trait` parameter makes the function generic: every closure passed is another
// instantiation, and all of them share the one cache.
#[ttl_cached(ttl = 60, key = "<user>", ignore = [log])]
async fn report(user: &str, log: impl Fn(&str) + Send) -> String {
    REPORTS.fetch_add(1, SeqCst);
    log(user);
    format!("report for {user}")
}

#[tokio::test]
async fn instantiations_of_an_impl_trait_parameter_share_the_cache() {
    assert_eq!(report("ann", |_| {}).await, "report for ann");
    assert_eq!(
        report("ann", |u| assert_eq!(u, "ann")).await,
        "report for ann"
    );
    assert_eq!(REPORTS.load(SeqCst), 1, "a hit, with another closure type");
    assert_eq!(report_cache().len(), 1);
    assert_eq!(invalidate_report("ann").await, 1);
    assert!(report_cache().name().ends_with("placement::report"));
}

trait Files {
    async fn find(&self, name: &str) -> Option<String>;
}

trait Gallery {
    async fn find(&self, name: &str) -> Option<String>;
}

struct Drive;

static FILE_FINDS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached]
impl Files for Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn find(&self, name: &str) -> Option<String> {
        FILE_FINDS.fetch_add(1, SeqCst);
        Some(format!("file {name}"))
    }
}

// `Drive` already has `find_cache()` and `invalidate_find` from the `Files` impl: these
// companions are `photos_find_cache()` and `invalidate_photos_find`.
#[ttl_cached(companion_prefix = "photos_")]
impl Gallery for Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn find(&self, name: &str) -> Option<String> {
        Some(format!("photo {name}"))
    }
}

#[tokio::test]
async fn the_same_method_cached_in_two_trait_impls_has_two_caches_under_two_names() {
    assert_eq!(Files::find(&Drive, "a").await.as_deref(), Some("file a"));
    assert_eq!(Gallery::find(&Drive, "a").await.as_deref(), Some("photo a"));
    assert_eq!(Files::find(&Drive, "a").await.as_deref(), Some("file a"));
    assert_eq!(FILE_FINDS.load(SeqCst), 1);
    assert_eq!(Drive::find_cache().stats().hits, 1);
    assert_eq!(Drive::photos_find_cache().stats().hits, 0);
    assert_eq!(Drive::photos_find_cache().len(), 1);
    assert_eq!(Drive::invalidate_photos_find("a").await, 1);
    assert_eq!(
        Drive::find_cache().len(),
        1,
        "the other impl's cache is untouched"
    );
}

//! Methods of generic impls get one cache per instantiation, and every method's cache is named
//! after its type, so that two types' methods of one name are told apart.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_core::ttl_cached;

pub(crate) trait Resource: Clone + Send + Sync + 'static {
    const KIND: &'static str;
    fn make(id: u32) -> Self;
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Photo(u32);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doc(String);

impl Resource for Photo {
    const KIND: &'static str = "photo";
    fn make(id: u32) -> Self {
        Photo(id)
    }
}

impl Resource for Doc {
    const KIND: &'static str = "doc";
    fn make(id: u32) -> Self {
        Doc(format!("doc-{id}"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError;

pub(crate) struct Client<T> {
    calls: AtomicUsize,
    _resource: std::marker::PhantomData<T>,
}

impl<T: Resource> Client<T> {
    fn new() -> Self {
        Self {
            calls: AtomicUsize::new(0),
            _resource: std::marker::PhantomData,
        }
    }

    /// `T` in the return type: one cache per `T`, so no cache ever sees two value types.
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn get(&self, id: u32) -> Result<T, ApiError> {
        self.calls.fetch_add(1, SeqCst);
        Ok(T::make(id))
    }

    /// `T` nowhere in the signature: still one cache per `T`, so a `Client<Photo>` never
    /// receives what a `Client<Doc>` fetched.
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn kind(&self, id: u32) -> String {
        self.calls.fetch_add(1, SeqCst);
        format!("{}-{id}", T::KIND)
    }
}

#[tokio::test]
async fn each_instantiation_has_its_own_cache() {
    let photos = Client::<Photo>::new();
    let docs = Client::<Doc>::new();
    assert_eq!(photos.get(1).await, Ok(Photo(1)));
    assert_eq!(
        docs.get(1).await,
        Ok(Doc("doc-1".into())),
        "no panic, no mix-up"
    );
    assert_eq!(photos.get(1).await, Ok(Photo(1)));
    assert_eq!(docs.get(1).await, Ok(Doc("doc-1".into())));
    assert_eq!(photos.calls.load(SeqCst), 1, "the second call hit");
    assert_eq!(docs.calls.load(SeqCst), 1, "the second call hit");

    assert_eq!(photos.kind(7).await, "photo-7");
    assert_eq!(
        docs.kind(7).await,
        "doc-7",
        "not the photo client's cached value"
    );

    assert_eq!(Client::<Photo>::get_cache().len(), 1);
    assert_eq!(Client::<Doc>::invalidate_get(1).await, 1);
    assert_eq!(
        Client::<Photo>::get_cache().len(),
        1,
        "only the docs' cache"
    );
    assert!(Client::<Photo>::get_cache()
        .name()
        .ends_with("Client<generic_impl::Photo>::get"));
    assert!(Client::<Doc>::kind_cache()
        .name()
        .ends_with("Client<generic_impl::Doc>::kind"));
}

pub(crate) trait CloudProvider {
    async fn list_folders(&self, user_id: u32) -> Vec<String>;
}

pub(crate) struct GoogleDrive;
pub(crate) struct Dropbox;

#[ttl_cached]
impl CloudProvider for GoogleDrive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn list_folders(&self, user_id: u32) -> Vec<String> {
        vec![format!("drive/{user_id}")]
    }
}

#[ttl_cached]
impl CloudProvider for Dropbox {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn list_folders(&self, user_id: u32) -> Vec<String> {
        vec![format!("dropbox/{user_id}")]
    }
}

impl GoogleDrive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn quota(&self, user_id: u32) -> u64 {
        u64::from(user_id)
    }
}

impl Dropbox {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn quota(&self, user_id: u32) -> u64 {
        u64::from(user_id) * 2
    }
}

#[tokio::test]
async fn cache_names_include_the_type() {
    assert_eq!(GoogleDrive.list_folders(1).await, ["drive/1"]);
    assert_eq!(Dropbox.list_folders(1).await, ["dropbox/1"]);
    assert_eq!(GoogleDrive.quota(1).await, 1);
    assert_eq!(Dropbox.quota(1).await, 2);
    let names = [
        GoogleDrive::list_folders_cache().name(),
        Dropbox::list_folders_cache().name(),
        GoogleDrive::quota_cache().name(),
        Dropbox::quota_cache().name(),
    ];
    assert_eq!(
        names,
        [
            "generic_impl::GoogleDrive::list_folders",
            "generic_impl::Dropbox::list_folders",
            "generic_impl::GoogleDrive::quota",
            "generic_impl::Dropbox::quota",
        ]
    );
}

use cache_core::ttl_cached;

trait Files {
    async fn lookup(&self, name: &str) -> Option<String>;
}

trait Photos {
    async fn lookup(&self, name: &str) -> Option<String>;
}

struct Drive;

// Both impls would give `Drive` a `lookup_cache()` and an `invalidate_lookup`: the second is one
// error on its method, naming the `companion_prefix` to add. The first keeps its companions, so
// their uses are no further errors.
#[ttl_cached]
impl Files for Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(format!("file {name}"))
    }
}

#[ttl_cached]
impl Photos for Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(format!("photo {name}"))
    }
}

fn main() {
    let _ = Drive::lookup_cache();
}

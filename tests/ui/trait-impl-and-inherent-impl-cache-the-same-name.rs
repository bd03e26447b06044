use cache_core::ttl_cached;

trait Files {
    async fn lookup(&self, name: &str) -> Option<String>;
}

struct Drive;

impl Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    pub async fn lookup(&self, name: &str) -> Option<String> {
        Some(format!("inherent {name}"))
    }
}

// The inherent method's companions are `Drive::lookup_cache()` and `Drive::invalidate_lookup`;
// the trait impl's would be the same names.
#[ttl_cached]
impl Files for Drive {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(format!("file {name}"))
    }
}

fn main() {}

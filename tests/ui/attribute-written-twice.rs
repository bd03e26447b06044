use cache_core::ttl_cached;

// Twice on one function: one error on the second attribute, not "the name `lookup_cache` is
// defined multiple times" once per companion.
#[ttl_cached(ttl = 60)]
#[ttl_cached(ttl = 60)]
async fn lookup(id: u32) -> String {
    id.to_string()
}

struct Directory;

impl Directory {
    #[ttl_cached(ttl = 60, ignore = [self])]
    #[ttl_cached(ttl = 30, ignore = [self])]
    async fn find(&self, id: u32) -> String {
        id.to_string()
    }
}

fn main() {
    // The companions of the first attribute are there.
    let _ = invalidate_lookup(1);
    let _ = Directory::invalidate_find_key(1);
}

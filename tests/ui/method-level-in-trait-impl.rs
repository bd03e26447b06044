use cache_core::ttl_cached;

trait Directory {
    async fn lookup(&self, name: &str) -> Option<String>;
}

struct Ldap;

// Without #[ttl_cached] on the impl block, the companions have nowhere to go.
impl Directory for Ldap {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }
}

fn main() {}

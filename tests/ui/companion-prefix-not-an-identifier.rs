use cache_core::ttl_cached;

trait Directory {
    async fn lookup(&self, name: &str) -> Option<String>;
}

struct Ldap;

#[ttl_cached(companion_prefix = "ldap-")]
impl Directory for Ldap {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn lookup(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }
}

fn main() {}

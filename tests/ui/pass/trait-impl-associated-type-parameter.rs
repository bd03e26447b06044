// A parameter typed with the trait's associated type (`Self::Id`): the companions, in an
// inherent impl, take it as `<Ldap as Directory>::Id` (and `refresh_lookup` passes it on).
use cache_core::ttl_cached;

trait Directory {
    type Id;
    async fn lookup(&self, tenant: Self::Id, name: &str) -> Option<String>;
}

struct Ldap;

#[ttl_cached]
impl Directory for Ldap {
    type Id = u32;

    #[ttl_cached(ttl = 60, key = "<tenant>:<name>", group = "<tenant>", ignore = [self])]
    async fn lookup(&self, tenant: Self::Id, name: &str) -> Option<String> {
        Some(format!("{tenant}/{name}"))
    }
}

fn main() {
    let _ = Ldap::invalidate_lookup(7);
    let _ = Ldap::invalidate_lookup_key(7, "ann");
    let _ = Ldap.refresh_lookup(7, "ann");
    let _ = Ldap::lookup_cache().len();
}

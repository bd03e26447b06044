use cache_core::ttl_cached;

// One typo, used twice: one error.
#[ttl_cached(ttl = 60, key = "<tenant_identifier>:<name>", group = "<tenant_identifier>")]
async fn lookup(tenant: u32, name: &str) -> String {
    format!("{tenant}{name}")
}

fn main() {}

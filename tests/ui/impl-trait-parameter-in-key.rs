use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn render(user_id: u64, name: impl AsRef<str>) -> String {
    format!("{user_id}{}", name.as_ref())
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, store_none = false)]
async fn list(id: u64) -> Result<Vec<String>, String> {
    Ok(vec![id.to_string()])
}

fn main() {}

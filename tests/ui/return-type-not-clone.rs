use cache_core::ttl_cached;

struct Listing(Vec<String>);

#[ttl_cached(ttl = 60)]
async fn list(user_id: u64) -> Result<Listing, String> {
    Ok(Listing(vec![user_id.to_string()]))
}

fn main() {}

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60)]
async fn nearby(user_id: u64, radius_km: f64) -> Vec<String> {
    vec![format!("{user_id}{radius_km}")]
}

fn main() {}

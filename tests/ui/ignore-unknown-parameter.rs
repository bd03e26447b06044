use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, ignore = [htp])]
async fn fetch(id: u64, http: &str) -> u64 {
    id + http.len() as u64
}

fn main() {}

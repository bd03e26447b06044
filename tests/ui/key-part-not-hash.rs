use cache_core::ttl_cached;

#[derive(Clone, PartialEq)]
struct Filter {
    min_size: f64,
}

#[ttl_cached(ttl = 60)]
async fn search(user_id: u64, filter: Filter) -> Vec<String> {
    vec![format!("{user_id}{}", filter.min_size)]
}

fn main() {}

// Raw identifiers as parameters: `<r#type>` in a template, `r#type` in `ignore`.
use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<user_id>:<r#type>")]
async fn list(user_id: u32, r#type: u32) -> Vec<u32> {
    vec![user_id, r#type]
}

#[ttl_cached(ttl = 60, ignore = [r#type])]
async fn count(user_id: u32, r#type: u32) -> u32 {
    user_id + r#type
}

fn main() {
    let _ = (list(1, 2), count(1, 2), invalidate_list(1, 2), invalidate_count(1));
}

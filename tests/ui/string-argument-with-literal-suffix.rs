use cache_core::ttl_cached;

// A suffix on a string is not part of its value: it would be silently dropped.
#[ttl_cached(ttl = 60, key = "<user_id>"suffix)]
async fn lookup(user_id: u32) -> String {
    user_id.to_string()
}

fn main() {
    // The stand-in companions keep the key's parameters: these calls add no error.
    let _ = invalidate_lookup(7);
    let _ = invalidate_lookup_key(7);
}

use cache_core::ttl_cached;
use std::borrow::Cow;

#[ttl_cached(ttl = 60, ignore = [s])]
async fn trimmed<'a>(s: &'a str, n: u32) -> Result<Cow<'a, str>, String> {
    let _ = n;
    Ok(Cow::Borrowed(s.trim()))
}

fn main() {}

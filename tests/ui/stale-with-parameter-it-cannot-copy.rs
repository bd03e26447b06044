use std::borrow::Cow;

use cache_core::ttl_cached;

#[ttl_cached(ttl = 60, key = "<id>", ignore = [out, a, b, name, note], stale = "30s")]
async fn list(
    id: u32,
    out: &mut Vec<String>,
    (a, b): (u32, u32),
    name: Option<&str>,
    note: &Cow<'_, str>,
) -> Vec<String> {
    out.push(format!("{id} {a} {b} {name:?} {note}"));
    out.clone()
}

#[ttl_cached(ttl = 60, key = "<id>", stale = "0s")]
async fn zero(id: u32) -> u32 {
    id
}

#[ttl_cached(ttl = 60, key = "<id>", stale_while_revalidate = "30s")]
async fn long_name(id: u32) -> u32 {
    id
}

fn main() {}

use std::rc::Rc;

use cache_core::ttl_cached;

async fn upstream(id: u32) -> u32 {
    id
}

#[ttl_cached(ttl = 60, key = "<id>", stale = "30s")]
async fn list(id: u32) -> u32 {
    let local = Rc::new(id);
    upstream(*local).await + *local
}

fn main() {}

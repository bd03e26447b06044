use cache_core::ttl_cached;

// One mistake, one error: the other arguments are still read, so `group` is known and
// nothing else is reported.
#[ttl_cached(ttl = 60, key = "<a>:<b>", group = "<a>" capacity = 5)]
async fn pair(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {}

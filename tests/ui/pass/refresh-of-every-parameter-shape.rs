// `refresh_<fn>` takes the function's parameters, whatever their shape, and passes them on:
// destructured and `_` parameters, `mut` bindings, `impl Trait`, explicit lifetimes, a typed
// receiver, a parameter named like the function.
use cache_core::ttl_cached;
use std::sync::Arc;

#[ttl_cached(ttl = 60, key = "<id>", ignore = [a, b, _unused_name, log])]
async fn shapes<'a>(
    mut id: u32,
    (a, b): (u32, u32),
    _: &'a str,
    _unused_name: u8,
    log: impl Fn(&str) + Send,
) -> u32 {
    log("fetch");
    id += a + b;
    id
}

#[ttl_cached(ttl = 60)]
async fn folder(folder: u32) -> u32 {
    folder
}

struct Client {
    account: String,
}

impl Client {
    #[ttl_cached(ttl = 60, key = "<self.account>:<n>")]
    async fn get(self: Arc<Self>, n: u32) -> String {
        format!("{}/{n}", self.account)
    }

    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn take(mut self, n: u32) -> u32 {
        self.account.clear();
        n
    }
}

fn main() {
    let _ = refresh_shapes(1, (2, 3), "x", 4, |_| {});
    let _ = invalidate_shapes_key(1);
    let _ = refresh_folder(1);
    let _ = invalidate_folder_key(1);
    let client = Arc::new(Client { account: "a".into() });
    let _ = client.invalidate_get_key(1);
    let _ = client.clone().refresh_get(1);
    let _ = Client { account: "b".into() }.refresh_take(1);
    let _ = Client::invalidate_take_key(1);
}

use cache_core::ttl_cached;

struct Client {
    account: u64,
}

impl Client {
    // A typo in a field of `self`, used in the key and the group: one error, with the fields.
    #[ttl_cached(ttl = 60, key = "<self.acount>:<folder>", group = "<self.acount>")]
    async fn list(&self, folder: u32) -> Vec<u64> {
        vec![self.account, u64::from(folder)]
    }
}

fn main() {
    let client = Client { account: 1 };
    let _ = client.invalidate_list();
    let _ = client.invalidate_list_key(7);
}

use cache_core::ttl_cached;

mod api {
    pub struct Request {
        pub user_id: u64,
        token: String,
    }

    impl Request {
        pub fn token(&self) -> &str {
            &self.token
        }
    }
}

#[ttl_cached(ttl = 60, key = "<req.user_id>:<req.token>", group = "<req.user_id>:<req.token>")]
async fn list(req: &api::Request) -> Vec<String> {
    vec![format!("{}{}", req.user_id, req.token())]
}

fn main() {}

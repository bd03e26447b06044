//! Impls that cache a method of the same name without a `companion_prefix` and still compile:
//! types of the same name in two modules, and impls never compiled together.

use cache_core::ttl_cached;

trait Files {
    async fn find(&self, name: &str) -> Option<String>;
}

trait Photos {
    async fn find(&self, name: &str) -> Option<String>;
}

mod a {
    use super::*;

    pub struct Drive;

    #[ttl_cached]
    impl Files for Drive {
        #[ttl_cached(ttl = 60, ignore = [self])]
        async fn find(&self, name: &str) -> Option<String> {
            Some(format!("a {name}"))
        }
    }
}

mod b {
    use super::*;

    pub struct Drive;

    #[ttl_cached]
    impl Photos for Drive {
        #[ttl_cached(ttl = 60, ignore = [self])]
        async fn find(&self, name: &str) -> Option<String> {
            Some(format!("b {name}"))
        }
    }
}

struct Local;

#[cfg(unix)]
#[ttl_cached]
impl Files for Local {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn find(&self, name: &str) -> Option<String> {
        Some(format!("unix {name}"))
    }
}

#[cfg(not(unix))]
#[ttl_cached]
impl Photos for Local {
    #[ttl_cached(ttl = 60, ignore = [self])]
    async fn find(&self, name: &str) -> Option<String> {
        Some(format!("other {name}"))
    }
}

fn main() {
    let _ = a::Drive::find_cache();
    let _ = b::Drive::find_cache();
    let _ = Local::find_cache();
}

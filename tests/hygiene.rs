//! The expansion survives hostile surroundings: parameters named like its locals, shadowed
//! prelude names, `#![no_implicit_prelude]`, lifetimes, `impl Trait` and pattern parameters,
//! `mut` bindings, attributes, visibility. The whole file denies warnings and clippy's pedantic
//! lints, so the generated code must not trigger any.
#![deny(warnings)]
#![deny(clippy::pedantic)]
#![allow(clippy::unused_async)] // the bodies below are minimal on purpose

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_core::ttl_cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Parameters named like what a cache expansion would use internally.
#[ttl_cached(ttl = 60)]
async fn locals(
    key: u32,
    cache: u32,
    value: u32,
    fetch: u32,
    result: u32,
    lead: u32,
    policy: u32,
) -> u32 {
    CALLS.fetch_add(1, SeqCst);
    key + cache + value + fetch + result + lead + policy
}

mod shadowing {
    //! Every prelude name the expansion could lean on, shadowed.
    #![allow(dead_code, non_camel_case_types, clippy::pedantic)]
    use cache_core::ttl_cached;

    pub(crate) struct Result;
    pub(crate) struct Option;
    pub(crate) struct Box;
    pub(crate) struct Some;
    pub(crate) struct Ok;
    pub(crate) struct Vec;
    pub(crate) struct String;
    mod std {}
    mod core {}
    pub(crate) struct usize;

    #[ttl_cached(ttl = 60)]
    pub(crate) async fn shadowed(n: u32) -> ::core::result::Result<u32, ::std::string::String> {
        ::core::result::Result::Ok(n + 1)
    }
}

mod no_prelude {
    #![no_implicit_prelude]
    use ::cache_core::ttl_cached;

    #[ttl_cached(ttl = 60)]
    pub(crate) async fn without_prelude(n: u32) -> ::core::option::Option<u32> {
        ::core::option::Option::Some(n * 2)
    }
}

/// Lifetimes, an ignored `impl Trait`, a `mut` binding, an ignored pattern, a `_` parameter,
/// doc and cfg attributes, restricted visibility.
#[doc = "documented"]
#[cfg(not(any()))]
#[ttl_cached(ttl = 60, key = "<user>:<mut_count>", ignore = [log, a, b])]
pub(crate) async fn everything_else<'a>(
    user: &'a str,
    mut mut_count: u32,
    log: impl Fn(&str) + Send,
    (a, b): (u8, u8),
    _: u64,
) -> ::std::string::String {
    mut_count += u32::from(a) + u32::from(b);
    log(user);
    format!("{user}:{mut_count}")
}

#[tokio::test]
async fn nothing_in_the_surroundings_breaks_the_expansion() {
    assert_eq!(locals(1, 2, 3, 4, 5, 6, 7).await, 28);
    assert_eq!(locals(1, 2, 3, 4, 5, 6, 7).await, 28);
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(shadowing::shadowed(1).await, Ok(2));
    assert_eq!(no_prelude::without_prelude(2).await, Some(4));
    assert_eq!(everything_else("ann", 1, |_| {}, (1, 2), 0).await, "ann:4");
    assert_eq!(
        everything_else("ann", 1, |_| {}, (5, 5), 9).await,
        "ann:4",
        "ignored parts do not key"
    );
    assert_eq!(invalidate_everything_else("ann", 1).await, 1);
    assert_eq!(shadowing::invalidate_shadowed(1).await, 1);
    assert_eq!(no_prelude::without_prelude_cache().len(), 1);
}

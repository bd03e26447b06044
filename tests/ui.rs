//! Compile-fail behaviour of `#[ttl_cached]`, pinned by the `.stderr` files in `ui/`: each case
//! is named after its symptom. Regenerate with `TRYBUILD=overwrite` and review every message as
//! a user reading it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
    t.pass("ui/pass/*.rs");
}

//! The `#[ttl_cached]` attribute. Depend on `cache-core`, which re-exports it
//! (`use cache_core::ttl_cached;`) together with the runtime the expansion calls; its
//! documentation describes the attribute in full.
//!
//! ```
//! use cache_core::ttl_cached;
//!
//! #[ttl_cached(ttl = "90s", key = "<tenant>:<name>", group = "<tenant>")]
//! async fn lookup(tenant: u32, name: &str) -> Option<String> {
//!     Some(format!("{tenant}/{name}")) // the slow directory call
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(lookup(7, "ann").await.as_deref(), Some("7/ann"));
//! assert_eq!(lookup(7, "ann").await.as_deref(), Some("7/ann")); // from the cache
//! assert_eq!(lookup_cache().stats().hits, 1);
//! assert_eq!(invalidate_lookup(7).await, 1); // everything of tenant 7
//! # }
//! ```
//!
//! The crate is organized by phase, each module importing only those below it: `item` and
//! `impl_block` dispatch on what the attribute is on; `rewrite` runs one function's phases in
//! order. Parsing: `args` (with `values` for each argument's value, and `impl_args` for the impl
//! block's), `template` (key templates), `signature` (the parameters). Checking: `valid` (the key
//! rules), `fields` (field paths, against the types in view) and `function` (the function
//! itself), producing a `plan`. Expansion of the plan: `expand` (the cached body), `companions`,
//! `parts` (the key's parts) and `stale`; or, beside the errors, `fallback` (stand-in companions
//! shaped by the plan). Beneath them all: `context` (where the function lives and the names it
//! generates), `errors`, `suggest`, `duration`, and `source`, which reads the impls and structs
//! around an attribute from its file, for what its item alone does not decide.

use proc_macro::TokenStream;

mod args;
mod companions;
mod context;
mod duration;
mod errors;
mod expand;
mod fallback;
mod fields;
mod function;
mod impl_args;
mod impl_block;
mod item;
mod lifetimes;
mod parts;
mod plan;
mod rewrite;
mod signature;
mod source;
mod stale;
mod suggest;
mod template;
mod valid;
mod values;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod mistakes;
#[cfg(test)]
mod snapshots;

/// Turns an `async fn` into a TTL-cached one. Use it through `cache_core::ttl_cached`, whose
/// documentation describes the arguments, the generated companions and the guarantees.
#[proc_macro_attribute]
pub fn ttl_cached(args: TokenStream, input: TokenStream) -> TokenStream {
    item::expand(args.into(), input.into()).into()
}

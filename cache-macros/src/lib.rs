//! The `#[ttl_cached]` attribute. Depend on `cache-core`, which re-exports it
//! (`use cache_core::ttl_cached;`) together with the runtime the expansion calls; its
//! documentation describes the attribute in full.
//!
//! The crate is organized by phase: `args` parses the attribute, `template` scans key
//! templates, `signature` models the parameters, `valid` checks the rules, `expand` and
//! `impl_block` generate code, and `fallback` is what is emitted beside the errors.

use proc_macro::TokenStream;

mod args;
mod duration;
mod errors;
mod expand;
mod fallback;
mod impl_block;
mod item;
mod signature;
mod template;
mod valid;

#[cfg(test)]
mod snapshots;

/// Turns an `async fn` into a TTL-cached one. Use it through `cache_core::ttl_cached`, whose
/// documentation describes the arguments, the generated companions and the guarantees.
#[proc_macro_attribute]
pub fn ttl_cached(args: TokenStream, input: TokenStream) -> TokenStream {
    item::expand(args.into(), input.into()).into()
}

//! One cached function, phase by phase: its arguments are parsed (`args`), checked against its
//! signature (`valid`) into a `Plan`, and the plan expanded into the cached body (`expand`) and
//! its companions (`companions`); or, if anything is wrong, the errors and stand-in companions
//! (`fallback`).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Attribute, Block, Signature};

use crate::args::Args;
use crate::companions::Companions;
use crate::context::{Context, Names, Reach};
use crate::errors::Errors;
use crate::expand::{body, handle_expr};
use crate::fallback;
use crate::signature::{self, Params};
use crate::source::Summary;
use crate::valid;

/// What to emit when the attribute is wrong: the errors and stand-in companions, so the user
/// sees the real errors rather than "cannot find function `invalidate_...`" at every call.
pub(crate) struct Failure {
    pub(crate) error: syn::Error,
    pub(crate) stubs: TokenStream,
}

/// Rewrites `block` into the cached version and returns the companions. On error the block is
/// left as it was.
pub(crate) fn rewrite(
    args: TokenStream,
    attrs: &[Attribute],
    sig: &Signature,
    block: &mut Block,
    ctx: &Context,
) -> Result<TokenStream, Failure> {
    let in_impl = in_impl(sig, &args, ctx);
    let callee = callee(sig, in_impl, ctx);
    // A key with a field path (`<self.account>`) is checked against the structs of the
    // function's module, read from its file; other keys need not read it.
    let summary = args
        .to_string()
        .contains('.')
        .then(Summary::of_call_site)
        .flatten();
    let place = summary.as_deref().and_then(|s| s.place_of(sig, &args));
    let mut parsed = Args::parse(args);
    let overridden;
    let ctx = match parsed.krate.take() {
        Some(krate) => {
            overridden = Context {
                krate,
                ..ctx.clone()
            };
            &overridden
        }
        None => ctx,
    };
    let params = Params::of(sig);
    let mut errors = Errors::default();
    let plan = match valid::plan(
        &mut parsed,
        sig,
        &params,
        ctx.attr_span,
        place.as_ref(),
        &mut errors,
    ) {
        Ok(plan) => plan,
        Err(stand_in) => {
            // A method `#[async_trait]` already rewrote sits in a trait impl, where stand-in
            // companions would only add "not a member of trait" errors.
            let in_trait_impl = sig.asyncness.is_none()
                && signature::returns_boxed_future(&sig.output)
                && signature::written_by_async_trait(&sig.output);
            return Err(Failure {
                error: errors
                    .combine()
                    .unwrap_or_else(|| syn::Error::new(ctx.attr_span, "invalid `#[ttl_cached]`")),
                stubs: if in_trait_impl {
                    TokenStream::new()
                } else {
                    fallback::companions(&stand_in, attrs, sig, &params, ctx)
                },
            });
        }
    };
    let names = Names::of(sig, &ctx.prefix);
    let handle = handle_expr(&names, &plan, ctx);
    *block = body(sig, &params, &plan, &handle, block, &ctx.krate);
    let through_cache = companion_handle(&names, in_impl, &handle);
    let companions = Companions {
        attrs,
        sig,
        params: &params,
        plan: &plan,
        names: &names,
        handle: &handle,
        ctx,
        free_fn: ctx.trait_impl.is_none() && ctx.reach == Reach::Probe && in_impl == Some(false),
    };
    Ok(companions.expand(&callee, &through_cache))
}

/// Whether the function is in an impl: known from the attribute's placement, or, for a
/// function whose expansion cannot tell (no `self`, no `Self` in its signature), looked up in
/// its file; `None` where the file cannot be read.
fn in_impl(sig: &Signature, args: &TokenStream, ctx: &Context) -> Option<bool> {
    match (&ctx.trait_impl, ctx.reach) {
        (None, Reach::Probe) => {
            Summary::of_call_site().and_then(|summary| summary.in_impl(sig, args))
        }
        _ => Some(true),
    }
}

/// How `invalidate_<fn>`, `invalidate_<fn>_key` and `refresh_<fn>` reach the cache: by calling
/// `<fn>_cache()`, so that the companions share its `static` (each `static`, with the closure
/// that names a free function's owner, costs every cached function type checking and code
/// generation). Through a `static` of their own, as `<fn>_cache()` does, where the file cannot
/// be read to tell how to name it (a function that may be in an impl), or where the file writes
/// a function of that name too: the name then resolves to the user's, and the collision is one
/// error rather than one per companion. Either way they find the same cache.
fn companion_handle(names: &Names, in_impl: Option<bool>, handle: &TokenStream) -> TokenStream {
    let cache = &names.cache;
    let written = Summary::of_call_site().map(|summary| summary.writes_fn(&cache.to_string()));
    if written != Some(false) {
        return handle.clone();
    }
    match in_impl {
        Some(true) => quote!(Self::#cache()),
        Some(false) => {
            // Hygiene as for the callee below: no local variable of the user's is in scope.
            let mut alone = cache.clone();
            alone.set_span(Span::mixed_site().located_at(cache.span()));
            quote!(#alone())
        }
        None => handle.clone(),
    }
}

/// How `refresh_<fn>`, beside the function, names it: `<Self as Trait>::f` from the inherent
/// impl of a trait impl's companions, `Self::f` from an impl, `f` beside a free function. A
/// function whose expansion cannot tell (no `self`, no `Self` in its signature) is looked up in
/// its file; where the file cannot be read it is taken for a free function, and in an impl the
/// call is rustc's "cannot find function", on the function's name, which says to mark the
/// impl block (or to use a newer compiler).
fn callee(sig: &Signature, in_impl: Option<bool>, ctx: &Context) -> TokenStream {
    let ident = &sig.ident;
    // Alone, the name would resolve to a parameter of the same name (`async fn folder(folder:
    // u32)`); with the expansion's hygiene, it sees no local variable of the user's.
    let mut alone = ident.clone();
    alone.set_span(Span::mixed_site().located_at(ident.span()));
    match (&ctx.trait_impl, ctx.reach) {
        (Some((_, trait_path)), _) => quote!(<Self as #trait_path>::#ident),
        (None, Reach::MarkedImpl | Reach::SelfType) => quote!(Self::#ident),
        (None, Reach::Probe) => {
            if in_impl == Some(true) {
                quote!(Self::#ident)
            } else {
                quote!(#alone)
            }
        }
    }
}

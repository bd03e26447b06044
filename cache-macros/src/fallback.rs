//! What to emit beside the errors when the attribute is wrong: the original function, untouched,
//! and stand-in companions with the parameters the real ones would have had, as far as the
//! plan of the rejected attribute tells them (`valid::plan`), so that calls to `invalidate_<fn>`
//! and `<fn>_cache()` elsewhere do not add a cascade of follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Signature};

use crate::context::{cfg_attrs, Context, Names};
use crate::plan::{call_inputs, root_inputs, CompanionRoots};
use crate::signature::{return_type, Params};

pub(crate) fn companions(
    roots: &CompanionRoots,
    attrs: &[Attribute],
    sig: &Signature,
    params: &Params<'_>,
    ctx: &Context,
) -> TokenStream {
    let Names {
        cache,
        invalidate,
        invalidate_key,
        refresh,
        ..
    } = Names::of(sig, &ctx.prefix);
    let cfgs = cfg_attrs(attrs);
    let vis = &ctx.vis;
    let krate = &ctx.krate;
    let (receiver, inputs) = root_inputs(&roots.group, params, ctx);
    let (key_receiver, key_inputs) = root_inputs(&roots.key, params, ctx);
    let (refresh_inputs, _) = call_inputs(params, ctx);
    let (ret_ty, _) = return_type(sig);
    let ret_ty = ctx.companion_type(&ret_ty);
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    quote! {
        #(#cfgs)*
        #[allow(unused_variables, clippy::all)]
        #vis fn #cache() -> &'static #krate::CacheHandle {
            ::core::unreachable!()
        }

        #(#cfgs)*
        #[allow(unused_variables, clippy::all)]
        #vis fn #invalidate #generics (#receiver #(#inputs),*) -> #krate::Invalidated<::core::primitive::usize> #where_clause {
            ::core::unreachable!()
        }

        #(#cfgs)*
        #[allow(unused_variables, clippy::all)]
        #vis fn #invalidate_key #generics (#key_receiver #(#key_inputs),*) -> #krate::Invalidated<::core::primitive::bool> #where_clause {
            ::core::unreachable!()
        }

        #(#cfgs)*
        #[allow(unused_variables, clippy::all)]
        #vis async fn #refresh #generics (#(#refresh_inputs),*) -> #ret_ty #where_clause {
            ::core::unreachable!()
        }
    }
}

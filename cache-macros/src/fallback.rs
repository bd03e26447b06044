//! What to emit beside the errors when the attribute is wrong: the original function, untouched,
//! and stand-in companions with the best signature that can be worked out, so that calls to
//! `invalidate_<fn>` and `<fn>_cache()` elsewhere do not add a cascade of follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Signature};

use crate::args::Args;
use crate::context::{cfg_attrs, Context, Names};
use crate::errors::Errors;
use crate::signature::Params;
use crate::template::KeyTemplate;

pub(crate) fn companions(
    args: &Args,
    attrs: &[Attribute],
    sig: &Signature,
    params: &Params<'_>,
    ctx: &Context,
) -> TokenStream {
    let Names {
        cache, invalidate, ..
    } = Names::of(sig, &ctx.prefix);
    let cfgs = cfg_attrs(attrs);
    let vis = &ctx.vis;
    let krate = &ctx.krate;

    // The group's parameters if the template can be read, else every named parameter (the
    // default group is the whole default key).
    let template = args
        .group
        .as_ref()
        .or(args.key.as_ref())
        .map(|lit| KeyTemplate::parse(lit, "group", &mut Errors::default()));
    let mut uses_self = false;
    let mut inputs = Vec::new();
    match template {
        Some(template) => {
            for placeholder in &template.placeholders {
                let root = placeholder.root_name();
                if root == "self" {
                    uses_self = params.receiver.is_some();
                } else if let Some((_, param)) = params.named(&root) {
                    let (ident, ty) = (param.ident(), ctx.companion_type(param.ty));
                    let input = quote!(#ident: #ty);
                    if !inputs
                        .iter()
                        .any(|i: &TokenStream| i.to_string() == input.to_string())
                    {
                        inputs.push(input);
                    }
                }
            }
        }
        None => {
            for param in &params.params {
                if let (Some(ident), false) = (param.ident(), param.impl_trait) {
                    let ty = ctx.companion_type(param.ty);
                    inputs.push(quote!(#ident: #ty));
                }
            }
        }
    }
    let receiver = if uses_self { quote!(&self,) } else { quote!() };
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
    }
}

//! What to emit beside the errors when the attribute is wrong: the original function, untouched,
//! and stand-in companions with the best signature that can be worked out, so that calls to
//! `invalidate_<fn>` and `<fn>_cache()` elsewhere do not add a cascade of follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Signature};

use crate::args::Args;
use crate::context::{cfg_attrs, Context, Names};
use crate::errors::Errors;
use crate::plan::call_inputs;
use crate::signature::{return_type, Params};
use crate::template::KeyTemplate;

pub(crate) fn companions(
    args: &Args,
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

    // The group's parameters if the template can be read, else every named parameter (the
    // default group is the whole default key).
    let group = args.group.as_ref().or(args.key.as_ref());
    let (receiver, inputs) = template_inputs(group, params, ctx);
    let (key_receiver, key_inputs) = template_inputs(args.key.as_ref(), params, ctx);
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

/// The receiver (`&self,` or nothing) and parameters of a companion taking the parameters that
/// `template`'s placeholders are rooted in; without a template that can be read, every named
/// parameter (the default key is every parameter).
fn template_inputs(
    template: Option<&syn::LitStr>,
    params: &Params<'_>,
    ctx: &Context,
) -> (TokenStream, Vec<TokenStream>) {
    let template = template.map(|lit| KeyTemplate::parse(lit, "group", &mut Errors::default()));
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
    (receiver, inputs)
}

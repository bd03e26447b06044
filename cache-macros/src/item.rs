//! Dispatch on what the attribute is attached to.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Item, ItemFn};

use crate::expand::{rewrite, Context};
use crate::impl_block;
use crate::signature;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    match syn::parse2::<Item>(input.clone()) {
        Ok(Item::Fn(function)) => expand_fn(args, function),
        Ok(Item::Impl(item)) => impl_block::expand(args, item),
        Ok(other) => {
            let error = syn::Error::new_spanned(
                item_head(&other),
                "`#[ttl_cached]` applies to an `async fn` (free function or method) or to an \
                 `impl` block whose methods carry `#[ttl_cached(...)]`",
            )
            .to_compile_error();
            quote!(#input #error)
        }
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#input #error)
        }
    }
}

fn expand_fn(args: TokenStream, mut function: ItemFn) -> TokenStream {
    let ctx = Context {
        // A method reaches its companions through `Self`; a receiver-less associated function
        // is recognized when its signature names `Self` (otherwise mark the impl block).
        in_impl: function.sig.receiver().is_some() || signature::mentions_self_type(&function.sig),
        vis: function.vis.clone(),
        attr_span: Span::call_site(),
        trait_impl: None,
    };
    match rewrite(
        args,
        &function.attrs,
        &function.sig,
        &mut function.block,
        &ctx,
    ) {
        Ok(companions) => quote!(#function #companions),
        Err(failure) => {
            let stubs = failure.stubs;
            let error = failure.error.to_compile_error();
            quote!(#function #stubs #error)
        }
    }
}

/// The tokens to point at for an unsupported item: its keyword and name, not its whole body.
fn item_head(item: &Item) -> TokenStream {
    match item {
        Item::Struct(s) => {
            let (token, ident) = (&s.struct_token, &s.ident);
            quote!(#token #ident)
        }
        Item::Enum(e) => {
            let (token, ident) = (&e.enum_token, &e.ident);
            quote!(#token #ident)
        }
        Item::Trait(t) => {
            let (token, ident) = (&t.trait_token, &t.ident);
            quote!(#token #ident)
        }
        Item::Mod(m) => {
            let (token, ident) = (&m.mod_token, &m.ident);
            quote!(#token #ident)
        }
        other => quote!(#other),
    }
}

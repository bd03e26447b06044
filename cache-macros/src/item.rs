//! Dispatch on what the attribute is attached to.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Item, ItemFn};

use crate::context::{default_krate, written_twice, Context, Names, Reach};
use crate::impl_block;
use crate::rewrite::rewrite;
use crate::signature;
use crate::source::Summary;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    match syn::parse2::<Item>(input.clone()) {
        Ok(Item::Fn(function)) => expand_fn(args, function),
        Ok(Item::Impl(item)) => impl_block::expand(args, item),
        Ok(Item::Trait(item)) => trait_block(item),
        Ok(Item::Verbatim(_)) if is_declaration(&input) => {
            let error = syn::Error::new_spanned(
                declaration_head(&input),
                "`#[ttl_cached]` on a method declaration: it has no body to cache; put the \
                 attribute on the method in each impl of the trait, and `#[ttl_cached]` on those \
                 impl blocks",
            )
            .to_compile_error();
            quote!(#input #error)
        }
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
    let twice = written_twice(&mut function.attrs, &function.sig.ident)
        .map(|error| error.to_compile_error());
    if let Some(error) = unmarked_trait_impl(&args, &function) {
        let error = error.to_compile_error();
        return quote!(#function #error #twice);
    }
    let ctx = Context {
        // A method can name `Self`; a receiver-less function whose signature does not may be free
        // or in an impl, and its expansion works in both.
        reach: if function.sig.receiver().is_some() || signature::mentions_self_type(&function.sig)
        {
            Reach::SelfType
        } else {
            Reach::Probe
        },
        vis: function.vis.clone(),
        attr_span: Span::call_site(),
        trait_impl: None,
        krate: default_krate(),
        prefix: String::new(),
    };
    match rewrite(
        args,
        &function.attrs,
        &function.sig,
        &mut function.block,
        &ctx,
    ) {
        Ok(companions) => quote!(#function #companions #twice),
        Err(failure) => {
            let stubs = failure.stubs;
            let error = failure.error.to_compile_error();
            quote!(#function #stubs #error #twice)
        }
    }
}

// Input:
//
//     impl Directory for Ldap {
//         #[ttl_cached(ttl = 60, ignore = [self])]
//         async fn lookup(&self, name: &str) -> Option<String> { .. }
//     }
//
// Output: the method as written, and one error saying to mark the impl block. Expanded, the
// method's companions would be items of the trait impl: "not a member of trait" (E0407), once
// per companion. The attribute sees only the method; the impl around it is read from the file.
fn unmarked_trait_impl(args: &TokenStream, function: &ItemFn) -> Option<syn::Error> {
    // A method of a trait impl has no visibility of its own; with one, this is not such a method,
    // and the file need not be read.
    if !matches!(function.vis, syn::Visibility::Inherited) {
        return None;
    }
    let (written, ty) = Summary::of_call_site()?.unmarked_trait_impl_of(&function.sig, args)?;
    let names = Names::of(&function.sig, "");
    Some(syn::Error::new(
        Span::call_site(),
        format!(
            "`#[ttl_cached(...)]` on a method of a trait impl needs `#[ttl_cached]` on the impl \
             block too, which puts the companions `{cache}()` and `{invalidate}` in an inherent \
             impl of `{ty}`: add `#[ttl_cached]` above `{written}`",
            cache = names.cache,
            invalidate = names.invalidate,
        ),
    ))
}

// Input:
//
//     #[ttl_cached]
//     trait Directory {
//         #[ttl_cached(ttl = 60, ignore = [self])]
//         async fn lookup(&self, name: &str) -> Option<String> { .. }
//     }
//
// Output: the trait without the method attributes (which would add the companions to the
// trait), and one error.
fn trait_block(mut item: syn::ItemTrait) -> TokenStream {
    for trait_item in &mut item.items {
        if let syn::TraitItem::Fn(method) = trait_item {
            method.attrs.retain(|a| {
                a.path()
                    .segments
                    .last()
                    .is_none_or(|s| s.ident != "ttl_cached")
            });
        }
    }
    let (token, ident) = (&item.trait_token, &item.ident);
    let error = syn::Error::new_spanned(
        quote!(#token #ident),
        "`#[ttl_cached]` does not apply to a trait: the companions of its methods would become \
         items of the trait, which every implementor could override; cache the method in each \
         impl, with `#[ttl_cached]` on the impl block and `#[ttl_cached(ttl = ...)]` on the \
         method",
    )
    .to_compile_error();
    quote!(#item #error)
}

/// A trait's method without a body, which `Item` reads as verbatim tokens.
fn is_declaration(input: &TokenStream) -> bool {
    syn::parse2::<syn::TraitItemFn>(input.clone()).is_ok_and(|f| f.default.is_none())
}

/// The declaration's signature, without its attributes.
fn declaration_head(input: &TokenStream) -> TokenStream {
    match syn::parse2::<syn::TraitItemFn>(input.clone()) {
        Ok(f) => {
            let sig = &f.sig;
            quote!(#sig)
        }
        Err(_) => input.clone(),
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
